"""The `normach` command line."""

from __future__ import annotations

import sys

import click


@click.group()
@click.version_option(package_name="normach")
def main() -> None:
    """normach: a NORMA-style Mach multicomputer in Python."""


@main.command()
def demo() -> None:
    """A guided tour on an embedded cluster: tasks, memory inheritance, messages."""
    from .demo import run
    sys.exit(run())


@main.command()
@click.option("--json", "json_path", default="benchmarks/results/latest.json",
              help="where to write the results as JSON")
def bench(json_path: str) -> None:
    """Run the benchmarks (each beside a same-run baseline)."""
    try:
        from benchmarks.__main__ import main as bench_main
    except ImportError:
        raise click.ClickException("benchmarks/ is not installed: run from a source checkout")
    bench_main(["--json", json_path])


if __name__ == "__main__":
    main()
