"""`normach cc -o OUT SRC.c...`: build a guest program with the guest runtime."""

from __future__ import annotations

import click

from .build import GuestBuildError, compile_program


def cc(output: str, sources, flags=()) -> None:
    """Compile and link `sources` into the guest executable `output`."""
    try:
        compile_program(output, list(sources), tuple(flags))
    except GuestBuildError as e:
        raise click.ClickException(str(e))


@click.command("cc")
@click.option("-o", "output", required=True, type=click.Path(dir_okay=False),
              help="the executable to write")
@click.option("-D", "defines", multiple=True, metavar="NAME[=VALUE]", help="define a macro")
@click.option("-I", "includes", multiple=True, type=click.Path(file_okay=False),
              help="add an include directory")
@click.option("--flag", "flags", multiple=True, help="pass a flag to the compiler")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def cc_command(output, defines, includes, flags, sources) -> None:
    """Build a guest program with the system C compiler and the guest runtime."""
    extra = [f"-D{d}" for d in defines] + [f"-I{i}" for i in includes] + list(flags)
    cc(output, sources, extra)
