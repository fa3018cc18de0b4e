"""`normach run`, `logs`, `wait`, `kill` and `migrate`: programs from the shell.

A program on a running cluster has an id `HOME-K` (normach/programs.py) that
stays the same when it moves; these commands ask its home node, which follows
it.  On an embedded cluster (`run` without a cluster) the program lives and
dies with the command.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time

import click

from .errors import FAILURE, INTERRUPTED, NOT_FOUND, NOT_RUNNABLE, TIMEOUT, Fail


def load(prog: str) -> bytes:
    """The image of PROG: an ELF, or C sources built first.  Raises: Fail (127: not
    found; 126: not an x86-64 static ELF, or sources that do not build)."""
    from ..cluster import _load_program
    from ..guest.build import GuestBuildError
    from ..errors import KernError
    from ..kern.exec import parse_image
    if not os.path.exists(prog):
        raise Fail(f"{prog}: no such file", NOT_FOUND)
    if os.path.isdir(prog):
        raise Fail(f"{prog}: is a folder, not a program", NOT_RUNNABLE)
    try:
        image = _load_program(prog)
        parse_image(image)
    except GuestBuildError as e:
        raise Fail(f"{prog}: does not build:\n{e}", NOT_RUNNABLE) from None
    except KernError as e:
        raise Fail(f"{prog}: cannot run here: {e.detail or e.name}", NOT_RUNNABLE) from None
    return image


@contextlib.contextmanager
def ctrl_c():
    """Ctrl-C (SIGINT) sets the event this yields instead of raising KeyboardInterrupt
    wherever the main thread happens to be, which could be inside a lock's `with` of
    the transport or the kernel and leave it held (the command then hangs on its
    next call); the caller's loop checks the event between calls."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    old = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, old)


def _out(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.flush()


def run_embedded(image: bytes, prog: str, args: list, nodes: int, node: int,
                 timeout: float | None, root: str | None = None) -> int:
    """Run on an embedded cluster of `nodes` nodes; returns the exit code."""
    from .. import Cluster, KernError
    if node >= nodes:
        raise Fail(f"--node {node}: the cluster has {nodes} node{'s' * (nodes > 1)} (0-{nodes - 1})")
    end = None if timeout is None else time.monotonic() + timeout
    with Cluster(nodes=nodes) as c, ctrl_c() as stop:
        p = c.spawn_image(image, prog, args=args, node=node, sink=_out, root=root,
                          stdin=sys.stdin.buffer, tty=sys.stdin.isatty() and sys.stdout.isatty())
        while True:
            if stop.is_set():
                click.echo(f"normach: {prog}: interrupted", err=True)
                return INTERRUPTED
            left = 0.5 if end is None else min(0.5, end - time.monotonic())
            if left <= 0:
                click.echo(f"normach: {prog}: killed after {timeout} s", err=True)
                return TIMEOUT
            try:
                status = c.wait(p, timeout=left)
                break
            except KernError:                  # KERN_OPERATION_TIMED_OUT: not yet
                continue
        if p.reason:
            click.echo(f"normach: {prog}: {p.reason}", err=True)
        return status


def run_on_cluster(c, image: bytes, prog: str, args: list, node: int, detach: bool,
                   timeout: float | None, root: str | None = None) -> int:
    """Start PROG on node `node` of the running cluster `c` (a client, closed here)."""
    from .. import KernError
    try:
        if node >= c.nnodes:
            raise Fail(f"--node {node}: the cluster has {c.nnodes} nodes (0-{c.nnodes - 1})")
        try:
            p = c.spawn_image(image, prog, args=args, node=node, root=root)
        except KernError as e:
            raise Fail(f"{prog}: cannot start on node {node}: {e}") from None
        pid = f"{p.home}-{p.remote_id}"
        if detach:
            click.echo(pid)
            return 0
        return _follow(c, p, pid, timeout, kill_on_stop=True)
    finally:
        c.close()


def _follow(c, p, pid: str, timeout: float | None, kill_on_stop: bool, show: bool = True) -> int:
    """Stream the program's output until it ends; returns its status (124 at the
    timeout, 130 on Ctrl-C: then it is killed if `kill_on_stop`)."""
    with ctrl_c() as stop:
        return _follow_until(c, p, pid, timeout, stop, kill_on_stop, show)


def _follow_until(c, p, pid: str, timeout: float | None, stop, kill_on_stop: bool,
                  show: bool) -> int:
    from .. import KernError
    end = None if timeout is None else time.monotonic() + timeout
    offset = 0
    try:
        while not stop.is_set():
            left = 1.0 if end is None else min(1.0, end - time.monotonic())
            if left <= 0:
                if kill_on_stop:
                    c.kill(p)
                click.echo(f"normach: {pid}: still running after {timeout} s"
                           + (": killed" if kill_on_stop else ""), err=True)
                return TIMEOUT
            data, offset, ended = c.follow(p, offset, left)
            if show and data:
                _out(data)
            if ended is not None:
                status, reason = ended
                if reason and status:
                    click.echo(f"normach: {pid}: {reason}", err=True)
                return status
    except KernError as e:
        raise Fail(f"{pid}: {e}") from None
    if kill_on_stop:                                # Ctrl-C
        with contextlib.suppress(KernError):       # it may have ended meanwhile
            c.kill(p)
    click.echo(f"normach: {pid}: interrupted" + (": killed" if kill_on_stop else ""), err=True)
    return INTERRUPTED


def _program(c, pid: str):
    """Raises: Fail (125: not an id; 127: no such program)."""
    from .. import KernError, KernReturn
    from ..cluster import parse_program_id
    try:
        home, _ = parse_program_id(pid)
    except KernError:
        raise Fail(f"{pid!r}: not a program id (HOME-K, as `normach run --detach` prints it)") from None
    if home >= c.nnodes:
        raise Fail(f"{pid}: no node {home} (the cluster has {c.nnodes})", NOT_FOUND)
    try:
        return c.program(pid)
    except KernError as e:
        code = NOT_FOUND if e.code == KernReturn.KERN_INVALID_ARGUMENT else FAILURE
        raise Fail(f"{pid}: {e.detail or e.name}", code) from None


def logs(c, pid: str, follow: bool) -> None:
    from .. import KernError
    p = _program(c, pid)
    if follow:
        _follow(c, p, pid, None, kill_on_stop=False)
        return
    offset = 0
    try:
        while True:
            data, offset, _ = c.follow(p, offset, 0)
            if not data:
                return
            _out(data)
    except KernError as e:
        raise Fail(f"{pid}: {e}") from None


def wait(c, pid: str, timeout: float | None) -> int:
    """Wait for program `pid` to end; its status, or 124 (it is not killed).  Its
    output stays for `logs`."""
    return _follow(c, _program(c, pid), pid, timeout, kill_on_stop=False, show=False)


def kill(c, pid: str) -> None:
    from .. import KernError
    p = _program(c, pid)
    try:
        c.kill(p)
    except KernError as e:
        raise Fail(f"{pid}: {e}") from None


def migrate(c, target: str, to: int, wait_memory: bool) -> None:
    """`normach migrate ID --to N`: ID is a program (HOME-K) or a task (NODE:ID)."""
    from .. import KernError
    if to >= c.nnodes:
        raise Fail(f"--to {to}: the cluster has {c.nnodes} nodes (0-{c.nnodes - 1})")
    try:
        if ":" in target:
            node, task_id = _task_id(target, c.nnodes)
            m = c.migrate_task(node, task_id, to)
        else:
            m = c.migrate(_program(c, target), to)
    except KernError as e:
        raise Fail(f"migration of {target} to node {to} failed: {e}") from None
    click.echo(f"moved {target} to node {m.node}: {m.threads} threads, {m.rights} port names, "
               f"{m.messages} queued messages, frozen {m.freeze_s * 1e3:.1f} ms")
    if wait_memory:
        row = _row_on(c, m.node, target)
        if row is not None:
            left = _drain(c, row)
            if left >= 0:
                click.echo(f"its memory: {left} pages left on other nodes" if left else
                           "its memory: all on the new node, nothing left behind")


def _task_id(target: str, nnodes: int) -> tuple[int, int]:
    try:
        node, task_id = (int(x) for x in target.split(":"))
    except ValueError:
        raise Fail(f"{target!r}: expected NODE:ID (e.g. 0:12) or a program id HOME-K") from None
    if not 0 <= node < nnodes:
        raise Fail(f"{target}: no node {node} (the cluster has {nnodes})", NOT_FOUND)
    return node, task_id


def _row_on(c, node: int, target: str):
    """The ps row of the moved task on `node` (the newest task there of that program,
    or the newest task there at all)."""
    rows = [r for r in c.ps() if r["node"] == node]
    mine = [r for r in rows if r["program"] == target] or rows
    return max(mine, key=lambda r: r["id"]) if mine else None


def _drain(c, row, timeout: float = 300.0) -> int:
    """A progress bar while a migrated task's memory comes over; returns the pages left
    (-1 if the task ended meanwhile)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from .. import KernError
    from ..servers.migration import memory_info
    try:
        task = c.task(row["node"], row["id"])
        first = left = memory_info(task)["elsewhere"]
        end = time.monotonic() + timeout
        if not left:
            return 0
        with Progress(TextColumn("pages arriving"), BarColumn(), MofNCompleteColumn(),
                      transient=True, disable=not sys.stdout.isatty()) as bar:
            job = bar.add_task("pages", total=max(first, 1))
            while left and time.monotonic() < end:
                time.sleep(0.1)                      # a progress display, not a synchronisation
                left = memory_info(task)["elsewhere"]
                bar.update(job, completed=max(first - left, 0))
        return left
    except KernError:
        return -1
