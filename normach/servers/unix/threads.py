"""Threads: clone of a thread (CLONE_VM|CLONE_THREAD, as pthread_create calls it) and
the futex, on which a C library builds its mutexes, condition variables, semaphores
and pthread_join.

A Linux thread is a Mach thread of the process's task: the server creates it
(thread_create), gives it the caller's registers with rax = 0 and the new stack
and TLS (thread_set_state), records it under its thread port before it runs, and
resumes it; its system calls then reach the server on the process's port as the
others do.  A clone without CLONE_THREAD makes a process: procs.fork_clone's.

A futex wait keeps its Call in a queue of the process keyed by the address
(proc.extra["futex"]) and is answered by a wake, by its timeout (timers.py) or by
a signal (thread.wait_cancel).  The server is one thread, so the check of the
word and the parking need no lock; a waker changes the word before it calls
futex, so a wait the server sees after the wake finds the new value (-EAGAIN).
Futexes are private to a process (keyed by its address).
"""

from __future__ import annotations

import errno
import time

from ... import mach
from ...errors import KernError
from .clock import read_timespec
from .process import LThread
from .table import syscall

CLONE_VM, CLONE_FS, CLONE_FILES, CLONE_SIGHAND = 0x100, 0x200, 0x400, 0x800
CLONE_VFORK, CLONE_PARENT, CLONE_THREAD = 0x4000, 0x8000, 0x10000
CLONE_SETTLS, CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID = 0x80000, 0x100000, 0x200000
CLONE_CHILD_SETTID = 0x1000000

FUTEX_WAIT, FUTEX_WAKE, FUTEX_FD, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP = 0, 1, 2, 3, 4, 5
FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET = 9, 10
FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME = 128, 256
FUTEX_BITSET_MATCH_ANY = 0xFFFFFFFF
U32 = 0xFFFFFFFF
THREAD_STATE64, FLOAT_STATE64 = 4, 5


# -- clone ----------------------------------------------------------------------------------

@syscall(56, "clone")
def sys_clone(call):
    flags = call.args[0]
    if not flags & CLONE_THREAD:
        return _fork_clone(call)
    if not flags & CLONE_VM or not flags & CLONE_SIGHAND:
        return -errno.EINVAL
    return clone_thread(call, flags, call.args[1], call.args[2], call.args[3], call.args[4])


def _fork_clone(call):
    """A clone that makes a process (fork, vfork, posix_spawn's): procs.fork_clone."""
    from . import procs
    fork = getattr(procs, "fork_clone", None)
    if fork is None:
        return -errno.ENOSYS
    return fork(call)


@syscall(435, "clone3")
def sys_clone3(call):
    return -errno.ENOSYS          # the C libraries fall back to clone


def clone_thread(call, flags: int, newsp: int, parent_tid: int, child_tid: int, tls: int) -> int:
    """A new thread of the caller's process that returns 0 from this clone, on stack
    `newsp`, with TLS `tls` (CLONE_SETTLS).  Returns its tid or -errno."""
    proc = call.proc
    _install(proc)
    state = call.child_state(newsp, tls if flags & CLONE_SETTLS else None)
    try:
        handle = mach.thread_create(call.task)
    except KernError:
        return -errno.EAGAIN            # the task's thread limit, or memory
    try:
        mach.thread_set_state(handle, THREAD_STATE64, state)
    except KernError:
        _discard(handle)
        return -errno.EINVAL
    try:                       # the x87/SSE control state goes with the thread, as in Linux
        mach.thread_set_state(handle, FLOAT_STATE64, mach.thread_get_state(call.thread.handle,
                                                                          FLOAT_STATE64))
    except (KernError, AttributeError):
        pass
    tid = call.server.new_tid()
    t = LThread(tid=tid, handle=handle, fs_base=state.fs_base, sigmask=call.thread.sigmask,
                clear_child_tid=child_tid if flags & CLONE_CHILD_CLEARTID else 0)
    try:
        if flags & CLONE_PARENT_SETTID and parent_tid:
            call.put_u32(parent_tid, tid)
        if flags & CLONE_CHILD_SETTID and child_tid:
            call.put_u32(child_tid, tid)
    except OSError:
        _discard(handle)
        return -errno.EFAULT
    proc.threads[handle.port] = t
    try:
        mach.thread_resume(handle)
    except KernError:
        del proc.threads[handle.port]
        _discard(handle)
        return -errno.EAGAIN
    return tid


def _discard(handle) -> None:
    try:
        mach.thread_terminate(handle)
    except KernError:
        pass
    try:
        handle.deallocate()
    except KernError:
        pass


# -- futex ----------------------------------------------------------------------------------

class _Waiter:
    """A parked futex wait: its Call, its bitset, the address it waits on (None once it
    is no longer parked), its timer cell."""

    __slots__ = ("call", "bitset", "addr", "cell")

    def __init__(self, call, bitset: int, addr: int):
        self.call, self.bitset, self.addr, self.cell = call, bitset, addr, None


def _queues(proc) -> dict:
    """{address: [_Waiter]} of `proc` (made on first use)."""
    _install(proc)
    return proc.extra["futex"]


def _install(proc) -> None:
    """Make `proc`'s futex state its own (once): the wake that thread exit calls
    (procs.thread_exited), and at its end the release of the waits still parked."""
    if proc.extra.get("futex_of") is proc:
        return
    proc.extra["futex_of"] = proc
    proc.extra["futex"] = {}
    proc.extra["futex_wake"] = futex_wake
    proc.extra["on_exit"] = [*proc.extra.get("on_exit", ()), _drop_waits]


def _drop_waits(proc) -> None:
    """The process ended: its parked waits are answered so that their threads end the
    task too, with the same status (call.exit_task).  Not dropped: released while
    the thread still waits, the reply right's death would answer the exception with
    an error, and the kernel would kill the task with an abort status (134) before
    the exiting thread sets the real one; and kept, it would stay in the server's
    space once the task is gone."""
    ws = proc.exit_status or 0
    status = (ws >> 8) & 0xFF if ws & 0x7F == 0 else 128 + (ws & 0x7F)
    for q in list(proc.extra.get("futex", {}).values()):
        for w in list(q):
            _unpark(proc, w)
            w.call.exit_task(status)
    proc.extra["futex"] = {}


def _unpark(proc, w: _Waiter) -> bool:
    """Take `w` out of its queue and stop its timer.  False if it was not parked."""
    if w.addr is None:
        return False
    queues = _queues(proc)
    q = queues.get(w.addr)
    if q is not None and w in q:
        q.remove(w)
        if not q:
            queues.pop(w.addr, None)
    w.addr = None
    w.call.server.timers.cancel(w.cell)
    t = w.call.thread
    if getattr(t, "parked", None) is w.call:
        t.parked = t.wait_cancel = None
    return True


def futex_wake(proc, addr: int, n: int, bitset: int = FUTEX_BITSET_MATCH_ANY) -> int:
    """Answer 0 to up to `n` waits of `proc` on `addr` whose bitset meets `bitset`.
    Waits whose caller is gone are dropped and not counted.  Returns how many woke."""
    woken = 0
    for w in list(_queues(proc).get(addr, ())):
        if woken >= n:
            break
        if not w.bitset & bitset:
            continue
        _unpark(proc, w)
        if w.call.answered or not w.call.alive:
            w.call.drop()
            continue
        w.call.finish(0)
        woken += 1
    return woken


def _requeue(proc, addr: int, n: int, addr2: int, n2: int) -> int:
    """Wake up to `n` waits on `addr`, move up to `n2` of the rest to `addr2`.
    Returns woken + moved."""
    woken = futex_wake(proc, addr, n)
    if addr2 == addr:
        return woken
    queues = _queues(proc)
    moved = 0
    for w in list(queues.get(addr, ())):
        if moved >= n2:
            break
        if not w.call.alive:
            _unpark(proc, w)
            w.call.drop()
            continue
        queues[addr].remove(w)
        if not queues[addr]:
            queues.pop(addr)
        w.addr = addr2
        queues.setdefault(addr2, []).append(w)
        moved += 1
    return woken + moved


def _wait(call, addr: int, val: int, timeout: float | None, bitset: int):
    """Park `call` on `addr` if the word there is still `val`: None (answered later)."""
    if bitset == 0 or addr % 4:
        return -errno.EINVAL
    if call.u32(addr) != val & U32:
        return -errno.EAGAIN
    if timeout is not None and timeout <= 0:
        return -errno.ETIMEDOUT
    proc = call.proc
    w = _Waiter(call, bitset, addr)
    _queues(proc).setdefault(addr, []).append(w)
    call.thread.wait_cancel = lambda: _unpark(proc, w)
    call.thread.parked = call                # a signal ends the wait with -EINTR (signals.py)
    if timeout is not None:
        def expire():
            if _unpark(proc, w):
                call.finish(-errno.ETIMEDOUT)
        w.cell = call.server.timers.after(timeout, expire)
    return None


def _wake_op(call, addr: int, n: int, addr2: int, n2: int, op: int) -> int:
    """FUTEX_WAKE_OP: *addr2 = oldval OP oparg; wake n on addr, and n2 on addr2 if
    oldval CMP cmparg."""
    kind, cmp = (op >> 28) & 7, (op >> 24) & 15
    oparg, cmparg = (op >> 12) & 0xFFF, op & 0xFFF
    if op >> 31:                                   # FUTEX_OP_OPARG_SHIFT
        oparg = 1 << (oparg & 31)
    oparg = oparg - 0x1000 if oparg & 0x800 and not op >> 31 else oparg
    cmparg = cmparg - 0x1000 if cmparg & 0x800 else cmparg
    old = call.u32(addr2)
    ops = {0: lambda a, b: b, 1: lambda a, b: a + b, 2: lambda a, b: a | b,
           3: lambda a, b: a & ~b, 4: lambda a, b: a ^ b}
    if kind not in ops:
        return -errno.ENOSYS
    call.put_u32(addr2, ops[kind](old, oparg) & U32)
    sold = old - (1 << 32) if old & 0x80000000 else old
    cmps = {0: sold == cmparg, 1: sold != cmparg, 2: sold < cmparg, 3: sold <= cmparg,
            4: sold > cmparg, 5: sold >= cmparg}
    if cmp not in cmps:
        return -errno.ENOSYS
    woken = futex_wake(call.proc, addr, n)
    if cmps[cmp]:
        woken += futex_wake(call.proc, addr2, n2)
    return woken


@syscall(202, "futex")
def sys_futex(call):
    addr, op, val, arg4, addr2, val3 = call.args
    cmd = op & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME) & U32
    val &= U32
    nval = val if val < 0x80000000 else 0x7FFFFFFF
    if cmd == FUTEX_WAIT:
        timeout = read_timespec(call, arg4) if arg4 else None
        return _wait(call, addr, val, timeout, FUTEX_BITSET_MATCH_ANY)
    if cmd == FUTEX_WAIT_BITSET:
        timeout = None
        if arg4:
            deadline = read_timespec(call, arg4)
            base = time.time() if op & FUTEX_CLOCK_REALTIME else time.monotonic()
            timeout = deadline - base
        return _wait(call, addr, val, timeout, val3 & U32)
    if cmd == FUTEX_WAKE:
        return futex_wake(call.proc, addr, nval)
    if cmd == FUTEX_WAKE_BITSET:
        if val3 & U32 == 0:
            return -errno.EINVAL
        return futex_wake(call.proc, addr, nval, val3 & U32)
    if cmd in (FUTEX_REQUEUE, FUTEX_CMP_REQUEUE):
        if cmd == FUTEX_CMP_REQUEUE and call.u32(addr) != val3 & U32:
            return -errno.EAGAIN
        n2 = arg4 & U32
        return _requeue(call.proc, addr, nval, addr2, n2 if n2 < 0x80000000 else 0x7FFFFFFF)
    if cmd == FUTEX_WAKE_OP:
        return _wake_op(call, addr, nval, addr2, arg4 & U32, val3 & U32)
    return -errno.ENOSYS

