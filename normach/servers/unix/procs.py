"""Processes: exit, and (below) the process tree: fork, execve, wait.

A process ends when its last thread calls exit, or any calls exit_group: the
server records its wait status for its parent and the thread ends the task
through the guest ABI's exit (call.exit_task), so `normach run` sees the status.
"""

from __future__ import annotations

from ... import mach
from ...errors import KernError
from .table import syscall


def ended(proc, status: int) -> None:
    """Record that `proc` ended with wait status `status` (Linux encoding) and tell
    whoever waits for it.  Its fds close now (a pipe's reader sees the end)."""
    if proc.exit_status is not None:
        return
    proc.exit_status = status
    proc.fds.close_all()
    for hook in list(proc.extra.get("on_exit", ())):
        hook(proc)


@syscall(231, "exit_group")
def sys_exit_group(call):
    status = call.args[0] & 0xFF
    ended(call.proc, status << 8)
    call.exit_task(status)
    return None


@syscall(60, "exit")
def sys_exit(call):
    t = call.thread
    t.exited = True
    live = [x for x in call.proc.threads.values() if not x.exited]
    if not live:
        return sys_exit_group(call)
    thread_exited(call)
    handle = t.handle
    call.drop()
    try:
        mach.thread_terminate(handle)
    except KernError:
        pass
    return None


def thread_exited(call) -> None:
    """CLONE_CHILD_CLEARTID: zero the word and wake one futex waiter on it."""
    t = call.thread
    if t.clear_child_tid:
        try:
            call.put_u32(t.clear_child_tid, 0)
        except OSError:
            pass
        wake = call.proc.extra.get("futex_wake")
        if wake is not None:
            wake(call.proc, t.clear_child_tid, 1)
