"""The `normach` command line.

Options go before the program; everything after PROG is the program's.  A
command that talks to a running cluster finds it by --cluster, NORMACH_CLUSTER
or the cluster file `up` writes (cli/where.py).  Every mistake is one line on
stderr with a documented exit code (cli/errors.py).
"""

from __future__ import annotations

import sys

import click

from .errors import FAILURE, NOT_RUNNABLE, Fail, Group

CLUSTER_HELP = "ADDRESS#SECRET of a running cluster (default: NORMACH_CLUSTER, then the file `up` writes)"
_PROGRAM = {"ignore_unknown_options": True, "allow_interspersed_args": False}


def cluster_option(f):
    f = click.option("--join", "join", default=None, hidden=True, help="old name of --cluster")(f)
    return click.option("--cluster", "cluster", default=None, metavar="ADDRESS#SECRET",
                        help=CLUSTER_HELP)(f)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="normach", message="normach %(version)s")
def main() -> None:
    """normach: a NORMA-style Mach multicomputer in Python.

    Exit codes: the program's status; 124 timeout; 125 normach's own failure;
    126 not runnable; 127 not found; 130 interrupted.
    """


@main.command()
@click.option("--tour", is_flag=True, help="instead: a guided tour of one node (tasks, memory "
              "inheritance, messages, a guest program) and of ports across nodes")
@click.option("--linux", is_flag=True, help="instead: an ordinary C program built against musl "
              "migrates while it writes a file and talks with its child through pipes")
def demo(tour: bool, linux: bool) -> None:
    """A running program migrates 0 -> 1 -> 2 on an embedded 3-node cluster while it
    answers a client: freeze time, pages fetched and pushed, nothing left behind."""
    if tour and linux:
        raise Fail("--tour and --linux are two different demos: give one")
    if tour:
        from .tour import run
    elif linux:
        from .demo_linux import run
    else:
        from .demo import run
    sys.exit(run())


@main.command(context_settings=_PROGRAM)
@click.option("--nodes", default=None, type=click.IntRange(min=1),
              help="nodes of an embedded cluster (default 1; not with a running cluster)")
@click.option("--node", default=0, show_default=True, type=click.IntRange(min=0),
              help="the node the program starts on")
@cluster_option
@click.option("--detach", is_flag=True, help="print the program's id (HOME-K) and exit; "
              "follow it with `normach logs`, `wait`, `kill`")
@click.option("--timeout", default=None, type=click.FloatRange(min=0, min_open=True),
              help="seconds before the program is killed (exit 124)")
@click.option("--root", default=None, type=click.Path(exists=True, file_okay=False),
              help="a Linux program's \"/\": the host directory its files live in "
              "(default: the current directory)")
@click.argument("prog")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(nodes, node, cluster, join, detach, timeout, root, prog, args) -> None:
    """Run a guest program PROG (an ELF, or C sources to build) with ARGS.

    On a running cluster if one is named (--cluster, NORMACH_CLUSTER, or the file `up`
    writes), else on an embedded cluster of --nodes nodes.  Its console output goes to
    stdout; normach exits with its status.  A program `normach cc` did not build is a
    Linux program: the Unix server runs it, its files inside --root.
    """
    from . import programs, where
    image = programs.load(prog)
    found = None if nodes is not None and not (cluster or join) else where.find(cluster or join)
    if found is None:
        if detach:
            raise Fail("--detach needs a running cluster (`normach up`)")
        sys.exit(programs.run_embedded(image, prog, list(args), nodes or 1, node, timeout, root))
    if nodes is not None:
        raise Fail("--nodes is for an embedded cluster: not with a running cluster")
    sys.exit(programs.run_on_cluster(where.connect(cluster or join), image, prog, list(args),
                                     node, detach, timeout, root))


@main.command(name="cc", context_settings={"ignore_unknown_options": True,
                                           "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def cc(args: tuple) -> None:
    """Build a guest program with the system C compiler and the guest runtime:
    `normach cc -o OUT [COMPILER FLAGS...] SOURCES...` (every other argument goes to
    the compiler as it is, `-DV=foo`, `-fno-strict-aliasing` and `-O2` included).
    `normach cc --linux -o OUT SOURCES...` builds an ordinary static Linux program
    against musl instead (ziglang's clang, musl-gcc, or $NORMACH_LINUX_CC): the Unix
    server runs it; it may also #include <mach.h> and make Mach calls (the Mach runtime
    is linked as an archive)."""
    from ..guest.build import GuestBuildError, compile_linux, compile_program
    if list(args) in ([], ["-h"], ["--help"]):
        click.echo(click.get_current_context().get_help())
        return
    args = list(args)
    linux = "--linux" in args
    output, flags, sources = _cc_args([a for a in args if a != "--linux"])
    try:
        (compile_linux if linux else compile_program)(output, sources, flags)
    except GuestBuildError as e:    # the compiler's diagnostics are in the message
        raise Fail(str(e), NOT_RUNNABLE) from None


@main.command(name="mig")
@click.argument("defs", required=False, type=click.Path(dir_okay=False))
@click.option("-o", "--output-dir", default=".", show_default=True, type=click.Path(file_okay=False),
              help="where FILE.h, FILEUser.c and FILEServer.c go")
@click.option("-D", "defines", multiple=True, metavar="NAME[=VALUE]",
              help="a preprocessor definition (USERPREFIX=..., SERVERPREFIX=... for the "
              "kernel's interfaces)")
@click.option("-I", "includes", multiple=True, metavar="DIR", help="a directory for #include")
@click.option("--header", default=None, metavar="NAME", help="the header's name (default FILE.h)")
@click.option("--user", default=None, metavar="NAME", help="the user stubs' name (FILEUser.c)")
@click.option("--server", default=None, metavar="NAME", help="the server stubs' name (FILEServer.c)")
@click.option("--kernel-defs", default=None, type=click.Path(file_okay=False), metavar="DIR",
              help="write the kernel's interfaces (mach.defs, mach_port.defs, ...) into DIR")
def mig(defs, output_dir, defines, includes, header, user, server, kernel_defs) -> None:
    """Compile the MIG interface DEFS (FILE.defs) into FILE.h, FILEUser.c (the user
    stubs) and FILEServer.c (the server stubs and their demux) for guests
    (docs/mig.md).  Build them with `normach cc`."""
    from ..guest.build import compile_interface
    from ..kern.mig_interface import write_defs
    from ..mig.model import DefsError
    from .errors import NOT_FOUND
    if kernel_defs:
        for p in write_defs(kernel_defs):
            click.echo(str(p))
    if defs is None:
        if not kernel_defs:
            raise Fail("mig: a FILE.defs is needed (or --kernel-defs DIR)")
        return
    try:
        for p in compile_interface(defs, output_dir, defines, includes, header, user, server):
            click.echo(str(p))
    except FileNotFoundError:
        raise Fail(f"mig: {defs}: no such file", NOT_FOUND) from None
    except DefsError as e:
        raise Fail(f"mig: {e}", NOT_RUNNABLE) from None


def _cc_args(args: list) -> tuple[str, list, list]:
    """(output, compiler flags, sources) of `cc`'s arguments.  Raises: Fail."""
    output, flags, sources = None, [], []
    while args:
        a = args.pop(0)
        if a == "-o":
            if not args:
                raise Fail("cc: -o needs a file name")
            output = args.pop(0)
        elif a.startswith("-o") and len(a) > 2:
            output = a[2:]
        elif a.startswith("-"):
            flags.append(a)
            if a in ("-I", "-D", "-U", "-include", "-isystem") and args:
                flags.append(args.pop(0))         # the flag's separate value
        else:
            sources.append(a)
    if output is None:
        raise Fail("cc: -o OUT is needed (the executable to write)")
    if not sources:
        raise Fail("cc: no source files given")
    return output, flags, sources
@main.command()
@click.option("--nodes", default=3, show_default=True, type=click.IntRange(min=1, max=1024),
              help="nodes in the cluster")
@click.option("--local", "local", default=None, type=click.IntRange(min=1),
              help="how many of them to start here (the others join with `normach node`)")
@click.option("--listen", default="127.0.0.1", show_default=True, metavar="HOST[:PORT]",
              help="where node 0 listens (the other local nodes: the same host, any port)")
@click.option("--advertise", default=None, metavar="HOST",
              help="the host name or address other machines reach these nodes by")
@click.option("--memory", "memory", default=None, type=click.IntRange(min=1),
              help="each node's memory limit in MiB (default: a quarter of this host's RAM)")
def up(nodes, local, listen, advertise, memory) -> None:
    """Start a cluster of node processes here, write the cluster file, and run until
    interrupted (the nodes stop with it)."""
    from .nodes import up as run_up
    if local is not None and local > nodes:
        raise Fail(f"--local {local}: more than the cluster's {nodes} nodes")
    run_up(nodes, nodes if local is None else local, listen, advertise, memory)


@main.command()
@click.option("--index", type=click.IntRange(min=0), default=None, help="this node's index")
@click.option("--nodes", type=click.IntRange(min=1), default=None,
              help="nodes in the cluster (default: as the cluster says)")
@click.option("--join", "join", default=None, metavar="ADDRESS",
              help="node 0's address (the secret: NORMACH_SECRET, NORMACH_CLUSTER or the "
              "cluster file, never the command line)")
@click.option("--listen", default="127.0.0.1", show_default=True, metavar="HOST[:PORT]",
              help="where this node listens")
@click.option("--advertise", default=None, metavar="HOST", help="the host others reach it by")
@click.option("--memory", "memory", default=None, type=click.IntRange(min=1),
              help="this node's memory limit in MiB (default: a quarter of this host's RAM)")
@click.option("--from-launcher", "launcher", is_flag=True,
              help="be one rank of `mpirun`/`srun`: every rank a node, rank 0 node 0")
def node(index, nodes, join, listen, advertise, memory, launcher) -> None:
    """Run one node that joins a running cluster (e.g. from another machine), or be
    one rank of an MPI/Slurm job (--from-launcher)."""
    from .nodes import node as run_node
    sys.exit(run_node(index, nodes, join, listen, advertise, memory, launcher))


@main.command()
@cluster_option
@click.option("--json", "as_json", is_flag=True, help="the rows as JSON")
def ps(cluster, join, as_json) -> None:
    """The tasks of a running cluster, their programs, and where their memory is."""
    from .table import ps_table
    _show(cluster or join, lambda c: c.ps(), ps_table, as_json)


@main.command()
@cluster_option
@click.option("--json", "as_json", is_flag=True, help="the nodes as JSON")
def status(cluster, join, as_json) -> None:
    """Each node of a running cluster: up/suspect/down, incarnation, address, uptime,
    tasks, memory, pages in and out."""
    from .nodes import status_rows
    from .table import status_table
    _show(cluster or join, status_rows, status_table, as_json)


def _show(cluster: str | None, fetch, table, as_json: bool) -> None:
    """Rows `fetch(client)` of the named cluster, as JSON or as `table(rows)`."""
    from . import where
    c = where.connect(cluster)
    try:
        rows = fetch(c)
    finally:
        c.close()
    if as_json:
        import json
        click.echo(json.dumps(rows))
    else:
        from rich.console import Console
        Console().print(table(rows))


@main.command()
@click.argument("pid", metavar="ID")
@click.option("-f", "--follow", is_flag=True, help="keep printing until the program ends")
@cluster_option
def logs(pid, follow, cluster, join) -> None:
    """The console output of program ID (HOME-K), wherever it runs now."""
    from . import programs, where
    c = where.connect(cluster or join)
    try:
        programs.logs(c, pid, follow)
    finally:
        c.close()


@main.command(name="wait")
@click.argument("pid", metavar="ID")
@click.option("--timeout", default=None, type=click.FloatRange(min=0, min_open=True),
              help="seconds to wait (exit 124 if it still runs)")
@cluster_option
def wait_cmd(pid, timeout, cluster, join) -> None:
    """Wait for program ID to end; exit with its status."""
    from . import programs, where
    c = where.connect(cluster or join)
    try:
        code = programs.wait(c, pid, timeout)
    finally:
        c.close()
    sys.exit(code)


@main.command()
@click.argument("pid", metavar="ID")
@cluster_option
def kill(pid, cluster, join) -> None:
    """Terminate program ID, wherever it runs (its status becomes 137)."""
    from . import programs, where
    c = where.connect(cluster or join)
    try:
        programs.kill(c, pid)
    finally:
        c.close()


@main.command()
@cluster_option
@click.option("--interval", default=1.0, show_default=True,
              type=click.FloatRange(min=0.05), help="seconds between refreshes")
@click.option("--count", default=None, type=click.IntRange(min=1),
              help="refreshes before exiting (default: until Ctrl-C)")
def top(cluster, join, interval, count) -> None:
    """A live view of a running cluster: nodes, tasks, where their memory is."""
    from rich.console import Console

    from . import where
    from .top import top as run_top
    c = where.connect(cluster or join)
    try:
        run_top(c, interval, count, Console())
    except KeyboardInterrupt:
        pass
    finally:
        c.close()


@main.command()
@click.argument("target", metavar="ID")
@click.option("--to", "to", required=True, type=click.IntRange(min=0), help="the node to move it to")
@cluster_option
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="show its memory arriving on the new node until none is left behind")
def migrate(target, to, cluster, join, wait) -> None:
    """Move a running program (HOME-K) or task (NODE:ID, as `normach ps` shows them)
    with its threads and port rights to another node.  The migration runs on the
    cluster's nodes: it goes on if this command is interrupted."""
    from . import programs, where
    c = where.connect(cluster or join)
    try:
        programs.migrate(c, target, to, wait)
    finally:
        c.close()


@main.command()
@click.option("--json", "json_path", default="benchmarks/results/latest.json",
              help="where to write the results as JSON")
def bench(json_path: str) -> None:
    """Run the benchmarks of a source checkout (each beside a same-run baseline)."""
    import importlib
    import pathlib
    checkout = pathlib.Path(__file__).resolve().parents[2]
    if not (checkout / "benchmarks" / "__main__.py").is_file():
        raise Fail("bench: the benchmarks are in a source checkout (benchmarks/), "
                   "not in the installed package")
    if str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    importlib.import_module("benchmarks.__main__").main(["--json", json_path])


__all__ = ["main", "FAILURE"]

if __name__ == "__main__":
    main()
