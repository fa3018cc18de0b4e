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


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("prog")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option("--nodes", default=1, show_default=True, help="nodes in the embedded cluster")
@click.option("--node", default=0, show_default=True, help="the node the program runs on")
@click.option("--timeout", default=None, type=float, help="seconds before the program is killed")
def run(prog: str, args: tuple, nodes: int, node: int, timeout: float | None) -> None:
    """Run a guest program (an ELF, or C sources to build) on an embedded cluster.

    Its console output goes to stdout; its exit status becomes normach's.
    """
    from .. import Cluster, KernError
    from ..guest.build import GuestBuildError
    try:
        with Cluster(nodes=nodes) as c:
            p = c.spawn(prog, args=list(args), node=node,
                        sink=lambda b: (sys.stdout.buffer.write(b), sys.stdout.flush()))
            try:
                status = c.wait(p, timeout=timeout)
            except KernError:
                click.echo(f"normach: {prog}: killed after {timeout} s", err=True)
                sys.exit(124)
            if p.reason:
                click.echo(f"normach: {prog}: {p.reason}", err=True)
    except (KernError, GuestBuildError) as e:
        raise click.ClickException(f"{prog}: {e}")
    sys.exit(status)


@main.command(name="cc", context_settings={"ignore_unknown_options": True})
@click.option("-o", "output", required=True, help="the executable to write")
@click.argument("sources", nargs=-1, required=True, type=click.UNPROCESSED)
def cc(output: str, sources: tuple) -> None:
    """Build a guest program with the system C compiler and the guest runtime."""
    from ..guest.build import GuestBuildError, compile_program
    try:
        compile_program(output, list(sources))
    except GuestBuildError as e:    # the compiler's diagnostics are in the message
        raise click.ClickException(str(e))


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
