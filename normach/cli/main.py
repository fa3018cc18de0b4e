"""The `normach` command line."""

from __future__ import annotations

import sys

import click


@click.group()
@click.version_option(package_name="normach")
def main() -> None:
    """normach: a NORMA-style Mach multicomputer in Python."""


@main.command()
@click.option("--tour", is_flag=True, help="instead: a guided tour of one node (tasks, memory "
              "inheritance, messages, a guest program) and of ports across nodes")
def demo(tour: bool) -> None:
    """A running program migrates 0 -> 1 -> 2 on an embedded 3-node cluster while it
    answers a client: freeze time, pages fetched and pushed, nothing left behind."""
    if tour:
        from .tour import run
    else:
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
@click.option("--nodes", default=3, show_default=True, help="nodes in the cluster")
@click.option("--local", "local", default=None, type=int,
              help="how many of them to start here (the others join with `normach node`)")
@click.option("--memory", "memory", default=None, type=click.IntRange(min=1),
              help="each node's memory limit in MiB (default: a quarter of this host's RAM)")
def up(nodes: int, local: int | None, memory: int | None) -> None:
    """Start a cluster of node processes on this machine and print where to connect.

    Runs until interrupted; the nodes stop with it.  Connect from Python with
    Cluster.connect(ADDRESS) using the printed ADDRESS#SECRET.
    """
    import secrets
    import signal
    import threading
    from .. import KernError
    from ..cluster import Cluster, start_node_processes
    from ..dipc import control
    secret = secrets.token_bytes(32)
    local = nodes if local is None else local
    procs, addresses, keys = start_node_processes(nodes, secret, count=local,
                                                  memory=memory << 20 if memory else None)
    helper = Cluster.__new__(Cluster)
    helper.secret = secret
    try:
        for i in range(1, local):
            helper._seed_request(addresses[0], control.ctl_join(node=i, address=addresses[i],
                                                                key=keys[i]))
    except KernError as e:
        for p in procs:
            p.kill()
        raise click.ClickException(f"the nodes did not form a cluster: {e}")
    where = f"{addresses[0]}#{secret.hex()}"
    click.echo(f"connect: {where}")
    click.echo(f"normach: {local} of {nodes} nodes up. From Python: Cluster.connect(\"{where}\")")
    if local < nodes:
        click.echo(f"the other nodes join with: normach node --index I --nodes {nodes} --join {where}")
    sys.stdout.flush()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5) and all(p.poll() is None for p in procs):
            pass
    except KeyboardInterrupt:
        pass
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except Exception:
            p.kill()


@main.command()
@click.option("--index", required=True, type=int, help="this node's index")
@click.option("--nodes", required=True, type=int, help="nodes in the cluster")
@click.option("--join", "join", required=True, help="ADDRESS#SECRET printed by `normach up`")
@click.option("--memory", "memory", default=None, type=click.IntRange(min=1),
              help="this node's memory limit in MiB (default: a quarter of this host's RAM)")
def node(index: int, nodes: int, join: str, memory: int | None) -> None:
    """Run one node that joins a running cluster (e.g. from another machine)."""
    from ..node_process import main as node_main
    address, _, hexsecret = join.partition("#")
    sys.exit(node_main(["--index", str(index), "--nodes", str(nodes), "--join", address,
                        "--secret-hex", hexsecret]
                       + (["--memory-bytes", str(memory << 20)] if memory else [])))


@main.command()
@click.option("--join", "join", required=True, help="ADDRESS#SECRET printed by `normach up`")
def ps(join: str) -> None:
    """The tasks of a running cluster, and where their memory is."""
    from .. import KernError
    from ..cluster import Cluster
    from .table import ps_table
    try:
        c = Cluster.connect(join)
    except (KernError, ValueError) as e:
        raise click.ClickException(f"cannot join {join}: {e}")
    try:
        from rich.console import Console
        Console().print(ps_table(c.ps()))
    finally:
        c.close()


@main.command()
@click.option("--join", "join", required=True, help="ADDRESS#SECRET printed by `normach up`")
@click.option("--interval", default=1.0, show_default=True, help="seconds between refreshes")
@click.option("--count", default=None, type=int, help="refreshes before exiting (default: until Ctrl-C)")
def top(join: str, interval: float, count: int | None) -> None:
    """A live view of a running cluster: nodes, tasks, where their memory is."""
    from rich.console import Console

    from .. import KernError
    from ..cluster import Cluster
    from .top import top as run_top
    try:
        c = Cluster.connect(join)
    except (KernError, ValueError) as e:
        raise click.ClickException(f"cannot join {join}: {e}")
    try:
        run_top(c, interval, count, Console())
    except KeyboardInterrupt:
        pass
    finally:
        c.close()


@main.command()
@click.argument("task")
@click.option("--to", "to", required=True, type=int, help="the node to move it to")
@click.option("--join", "join", required=True, help="ADDRESS#SECRET printed by `normach up`")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="show its memory arriving on the new node until none is left behind")
def migrate(task: str, to: int, join: str, wait: bool) -> None:
    """Move a running task (NODE:ID, as `normach ps` shows it) with its threads and
    port rights to another node."""
    from .. import KernError
    from ..cluster import Cluster
    from ..servers.migration import task_migrate
    try:
        node, task_id = (int(x) for x in task.split(":"))
    except ValueError:
        raise click.BadParameter("expected NODE:ID, e.g. 0:12", param_hint="TASK")
    try:
        c = Cluster.connect(join)
    except (KernError, ValueError) as e:
        raise click.ClickException(f"cannot join {join}: {e}")
    try:
        try:
            m = task_migrate(c.task(node, task_id), to)
        except KernError as e:
            raise click.ClickException(f"migration of {task} to node {to} failed: {e}")
        click.echo(f"moved {task} to node {m.node}: {m.threads} threads, {m.rights} port names, "
                   f"{m.messages} queued messages, frozen {m.freeze_s * 1e3:.1f} ms")
        if wait:
            left = _drain(m.task)
            if left >= 0:
                click.echo(f"its memory: {left} pages left on other nodes" if left else
                           "its memory: all on the new node, nothing left behind")
    finally:
        c.close()


def _drain(task, timeout: float = 300.0) -> int:
    """A progress bar while a migrated task's memory comes over; returns the pages left."""
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from .. import KernError
    from ..servers.migration import memory_info

    def elsewhere() -> int:
        return memory_info(task)["elsewhere"]
    try:
        first = left = elsewhere()
        end = time.monotonic() + timeout
        with Progress(TextColumn("pages arriving"), BarColumn(), MofNCompleteColumn(),
                      transient=True) as bar:
            job = bar.add_task("pages", total=max(first, 1))
            while left and time.monotonic() < end:
                time.sleep(0.1)
                left = elsewhere()
                bar.update(job, completed=max(first - left, 0))
        return left
    except KernError:
        return -1                            # the task ended meanwhile


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
