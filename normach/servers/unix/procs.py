"""Processes: exit, and the process tree: fork, execve, wait.

A process ends when its last thread calls exit, or any calls exit_group: the
server records its wait status for its parent and the thread ends the task
through the guest ABI's exit (call.exit_task), so `normach run` sees the status.

fork is Mach's: the child is a task made from the parent's by task_create with
inherit_memory (each region by its inheritance: copy-on-write for private memory,
shared for MAP_SHARED), one thread with the caller's registers and rax = 0, and a
process of this server with a copy of the descriptor table.  execve replaces the
address space of the SAME task (whoever waits on the task, as `normach run`
does, waits on the new program).  wait4 and waitid keep their call until a child
ends (`ended`, which answers the parent's waits); a child task that died without
exit (a fault, `normach kill`) is noticed, when a wait starts and every WATCH
seconds while one is parked, by its syscall port having no sender left.
"""

from __future__ import annotations

import errno
import os
import stat
import struct

from ... import mach, param
from ...errors import KernError
from ...kern.thread import X86ThreadState64
from .process import LThread
from .table import syscall

THREAD_STATE64, FLOAT_STATE64 = 4, 5
RECEIVE_STATUS = 2           # mach_port_get_attributes' flavor
CLONE_VM, CLONE_VFORK, CLONE_THREAD, CLONE_SETTLS = 0x100, 0x4000, 0x10000, 0x80000
CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID = 0x100000, 0x200000, 0x1000000
WNOHANG, WUNTRACED, WEXITED, WCONTINUED, WNOWAIT = 1, 2, 4, 8, 0x1000000
WAIT_IGNORED = 0x20000000 | 0x40000000 | 0x80000000     # __WNOTHREAD __WALL __WCLONE
P_ALL, P_PID, P_PGID = 0, 1, 2
SIGKILL, SIGSEGV, SIGCHLD = 9, 11, 17
CLD_EXITED, CLD_KILLED, CLD_DUMPED = 1, 2, 3
WATCH = 0.2                  # seconds between looks for children killed without exit
ARG_MAX = 128 * 1024         # bytes of execve's strings (the new stack holds them)
ARGS_MAX = 4096              # entries of argv or envp
IMAGE_MAX = 64 << 20         # bytes of the largest program execve reads


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _release(handle) -> None:
    if handle is not None and getattr(handle, "port", None) is not None:
        try:
            handle.deallocate()
        except KernError:
            pass


# -- the end of a process -------------------------------------------------------------------

def ended(proc, status: int) -> None:
    """Record that `proc` ended with wait status `status` (Linux encoding) and tell
    whoever waits for it.  Its fds close now (a pipe's reader sees the end); its
    children lose their parent; its parent's waits that want it are answered."""
    if proc.exit_status is not None:
        return
    proc.exit_status = status
    proc.fds.close_all()
    for hook in list(proc.extra.get("on_exit", ())):
        hook(proc)
    _orphan_children(proc)
    parent = proc.parent
    if parent is None:
        if proc.extra.get("orphan"):
            _forget(proc)
        return
    send_signal(parent, SIGCHLD, info=siginfo_child(proc.pid, status))
    _wake_waiters(parent)


def send_signal(proc, signo: int, **how) -> None:
    """Raise `signo` for `proc` through the signals area (signals.raise_signal, or the
    process's "raise_signal" hook); nothing if there is none."""
    try:
        from .signals import raise_signal
    except ImportError:
        raise_signal = proc.extra.get("raise_signal")
    if raise_signal is not None:
        raise_signal(proc, signo, **how)


def _orphan_children(proc) -> None:
    """The children of an ending `proc`: reparented to nothing (init reaps them): the
    ended ones are forgotten now, the others when they end."""
    for child in list(proc.children):
        child.parent = None
        child.ppid = 1
        child.extra["orphan"] = True
        if child.exit_status is not None:
            _forget(child)
    proc.children.clear()
    for w in list(proc.waiters):
        _unpark(proc, w)
        w.call.drop()


def _forget(proc) -> None:
    proc.reaped = True
    server = proc.extra.get("server")
    if server is not None:
        server.drop_process(proc)


def _killed(proc, server) -> bool:
    """Whether `proc`'s task died without exit (then it is recorded as ended by a
    signal: SIGKILL unless a fault's handler recorded another).  Its task held the
    only send rights to its syscall port (one per exception type): none left means
    no task of it runs any more, on this node or another (a migrated task's
    rights move with it, a killed task's go with it)."""
    if proc.exit_status is not None or not proc.port:
        return False
    try:
        status = mach.mach_port_get_attributes(server.task, proc.port, RECEIVE_STATUS)
    except KernError:
        return False
    if status.srights != 0:
        return False
    sig = proc.extra.get("term_signal", SIGKILL)
    ended(proc, sig & 0x7F)
    return True


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
    try:                     # before the drop: a dropped reply right answers the waiting
        mach.thread_terminate(t.handle)    # thread KERN_FAILURE, which kills the task (134)
    except KernError:
        pass
    call.drop()
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


# -- fork -----------------------------------------------------------------------------------

@syscall(57, "fork")
def sys_fork(call):
    return fork(call)


@syscall(58, "vfork")
def sys_vfork(call):
    return fork(call)          # a copy-on-write fork is what vfork promises, and more


def fork_clone(call):
    """clone(56) without CLONE_VM (threads.py passes it here): a fork, with the tid
    words of CLONE_PARENT_SETTID / CHILD_SETTID / CHILD_CLEARTID and a new stack or
    TLS if given.  clone(CLONE_VM|CLONE_VFORK) (posix_spawn's) runs as a fork too."""
    flags, newsp, ptid, ctid, tls = call.args[:5]
    if flags & CLONE_THREAD:
        return -errno.EINVAL
    if flags & CLONE_VM and not flags & CLONE_VFORK:
        return -errno.EINVAL         # a process sharing memory: not with Mach tasks
    return fork(call, flags, newsp, ptid, ctid, tls)


def fork(call, flags: int = 0, newsp: int = 0, ptid: int = 0, ctid: int = 0, tls: int = 0):
    """A child process that returns 0 from this call; returns its pid to the parent."""
    proc, server = call.proc, call.server
    proc.extra["server"] = server
    state = call.child_state(newsp, tls if flags & CLONE_SETTLS else None)
    try:
        task = mach.task_create(call.task, True)
    except KernError:
        return -errno.EAGAIN
    thread = child = None
    try:
        thread = mach.thread_create(task)
        mach.thread_set_state(thread, THREAD_STATE64, state)
        _copy_float_state(call.thread.handle, thread)
        child = server.add_process(task, proc.root, proc.output, parent=proc, name=proc.name)
    except KernError:
        if child is not None:
            proc.children.remove(child)
            child.exit_status = 0
        _terminate(task, thread)
        if child is not None:
            server.drop_process(child)
        return -errno.EAGAIN
    child.extra["server"] = server
    lt = LThread(tid=child.pid, handle=thread, fs_base=state.fs_base, sigmask=call.thread.sigmask,
                 clear_child_tid=ctid if flags & CLONE_CHILD_CLEARTID else 0)
    child.threads[thread.port] = lt
    try:
        if flags & CLONE_CHILD_SETTID and ctid:
            mach.vm_write(task, ctid, struct.pack("<I", child.pid))
        if flags & CLONE_PARENT_SETTID and ptid:
            call.put_u32(ptid, child.pid)
    except (KernError, OSError):
        pass                                   # Linux too leaves a bad tid pointer unwritten
    for hook in list(proc.extra.get("on_fork", ())):
        hook(proc, child)
    try:
        mach.thread_resume(thread)
    except KernError:
        ended(child, SIGKILL)
    return child.pid


def _copy_float_state(src, dst) -> None:
    """The x87/SSE state goes with the registers (a fork copies the whole thread)."""
    if src is None:
        return
    try:
        mach.thread_set_state(dst, FLOAT_STATE64, mach.thread_get_state(src, FLOAT_STATE64))
    except KernError:
        pass


def _terminate(task, thread) -> None:
    try:
        mach.task_terminate(task)
    except KernError:
        pass
    _release(thread)
    _release(task)


# -- wait -----------------------------------------------------------------------------------

class _Wait:
    """A parked wait4/waitid: its call, which children it wants, how it answers."""

    __slots__ = ("call", "match", "deliver", "keep", "cell")

    def __init__(self, call, match, deliver, keep: bool):
        self.call, self.match, self.deliver, self.keep = call, match, deliver, keep
        self.cell = None


def _wait(call, match, deliver, nohang: bool, keep: bool = False):
    """A child `match` accepts that has ended: `deliver(child)` gives the result (and
    the child is reaped unless `keep`); none yet: 0 with `nohang`, else the call waits.
    -ECHILD if no child matches."""
    proc = call.proc
    proc.extra["server"] = call.server
    for child in list(proc.children):
        _killed(child, call.server)
    kids = [c for c in proc.children if match(c)]
    if not kids:
        return -errno.ECHILD
    for child in kids:
        if child.exit_status is not None:
            return _answer(proc, child, deliver, keep)
    if nohang:
        return 0
    w = _Wait(call, match, deliver, keep)
    proc.waiters.append(w)
    call.thread.wait_cancel = lambda: _unpark(proc, w)
    _watch(proc, w)
    return None


def _answer(proc, child, deliver, keep: bool) -> int:
    result = deliver(child)
    if not keep and result >= 0:
        _reap(proc, child)
    return result


def _reap(proc, child) -> None:
    if child in proc.children:
        proc.children.remove(child)
    child.parent = None
    _forget(child)


def _unpark(proc, w: _Wait) -> bool:
    if w not in proc.waiters:
        return False
    proc.waiters.remove(w)
    w.call.server.timers.cancel(w.cell)
    if getattr(w.call.thread, "wait_cancel", None) is not None:
        w.call.thread.wait_cancel = None
    return True


def _watch(proc, w: _Wait) -> None:
    """While `w` waits, look every WATCH seconds for children killed without exit."""
    def look():
        if w not in proc.waiters:
            return
        if not w.call.alive:
            _unpark(proc, w)
            w.call.drop()
            return
        for child in list(proc.children):
            _killed(child, w.call.server)    # ended() answers w if it wants the child
        if w in proc.waiters:
            w.cell = w.call.server.timers.after(WATCH, look)
    w.cell = w.call.server.timers.after(WATCH, look)


def _wake_waiters(proc) -> None:
    """A child of `proc` ended: answer the waits that want an ended child."""
    for w in list(proc.waiters):
        if w not in proc.waiters:
            continue
        child = next((c for c in proc.children if c.exit_status is not None and w.match(c)), None)
        if child is None:
            continue
        _unpark(proc, w)
        if not w.call.alive:
            w.call.drop()
            continue
        try:
            result = _answer(proc, child, w.deliver, w.keep)
        except OSError as e:
            result = -(e.errno or errno.EFAULT)
        w.call.finish(result)


@syscall(61, "wait4")
def sys_wait4(call):
    pid, status_addr, options, rusage = _s32(call.args[0]), call.args[1], call.args[2], call.args[3]
    if options & ~(WNOHANG | WUNTRACED | WCONTINUED | WAIT_IGNORED):
        return -errno.EINVAL
    if pid == -1 or pid == 0:               # process groups are not kept: one group
        def match(c):
            return True
    elif pid < -1:
        def match(c):
            return c.extra.get("pgid") == -pid
    else:
        def match(c):
            return c.pid == pid

    def deliver(child):
        if status_addr:
            call.put_u32(status_addr, child.exit_status)
        if rusage:
            call.write(rusage, bytes(144))
        return child.pid
    return _wait(call, match, deliver, bool(options & WNOHANG))


@syscall(247, "waitid")
def sys_waitid(call):
    idtype, ident, infop, options, rusage = call.args[:5]
    ident = _s32(ident)
    if options & ~(WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | WAIT_IGNORED) \
            or not options & (WEXITED | WUNTRACED | WCONTINUED):
        return -errno.EINVAL
    if idtype == P_ALL:
        def match(c):
            return True
    elif idtype == P_PID:
        if ident <= 0:
            return -errno.EINVAL
        def match(c):
            return c.pid == ident
    elif idtype == P_PGID:
        def match(c):
            return c.extra.get("pgid") == ident
    else:
        return -errno.EINVAL
    if not options & WEXITED:               # stops and continues are never reported
        return -errno.ECHILD if not any(match(c) for c in call.proc.children) else \
            (_nohang_info(call, infop) if options & WNOHANG else _park_forever(call))

    def deliver(child):
        if infop:
            call.write(infop, siginfo_child(child.pid, child.exit_status))
        if rusage:
            call.write(rusage, bytes(144))
        return 0
    r = _wait(call, match, deliver, bool(options & WNOHANG), keep=bool(options & WNOWAIT))
    if r == 0 and options & WNOHANG and infop:
        call.write(infop, bytes(128))        # no child ready: si_pid 0
    return r


def _nohang_info(call, infop) -> int:
    if infop:
        call.write(infop, bytes(128))
    return 0


def _park_forever(call):
    call.thread.wait_cancel = lambda: None
    return None


def siginfo_child(pid: int, status: int) -> bytes:
    """A siginfo_t (128 bytes) of SIGCHLD for a child with wait status `status`."""
    if status & 0x7F:
        code, value = (CLD_DUMPED if status & 0x80 else CLD_KILLED), status & 0x7F
    else:
        code, value = CLD_EXITED, (status >> 8) & 0xFF
    # si_signo si_errno si_code, pad, si_pid si_uid si_status, pad, utime stime
    return struct.pack("<iii4xiIi4xqq", SIGCHLD, 0, code, pid, 0, value, 0, 0).ljust(128, b"\0")


# -- execve ---------------------------------------------------------------------------------

def _strings(call, addr: int, budget: list) -> list:
    """The NULL-terminated array of strings at `addr` (argv, envp).
    Raises OSError(EFAULT, E2BIG)."""
    out: list = []
    if not addr:
        return out
    while True:
        if len(out) >= ARGS_MAX:
            raise OSError(errno.E2BIG, "too many arguments")
        p = call.u64(addr + 8 * len(out))
        if not p:
            return out
        s = call.cstring(p, ARG_MAX)
        budget[0] -= len(s) + 1
        if budget[0] < 0:
            raise OSError(errno.E2BIG, "arguments too long")
        out.append(s)


def _host_path(proc, path: str) -> str:
    """The host path of `path`, its links resolved inside the root (fs.py's), else
    resolved lexically.  Raises OSError (ENOENT, ELOOP ...)."""
    try:
        from .fs import host_path
    except ImportError:
        return proc.host_path(path)
    return host_path(proc, path)


@syscall(59, "execve")
def sys_execve(call):
    from ...kern.exec import parse_image
    path = call.cstring(call.args[0]).decode("utf-8", "surrogateescape")
    budget = [ARG_MAX]
    argv = _strings(call, call.args[1], budget)
    envp = _strings(call, call.args[2], budget)
    if not path:
        return -errno.ENOENT
    host = _host_path(call.proc, path)
    if os.path.isdir(host):
        return -errno.EACCES
    fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)   # OSError: ENOENT, ELOOP ...
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return -errno.EACCES            # a FIFO, a device: never read (it may never end)
        image = f.read(IMAGE_MAX)
    if not os.access(host, os.X_OK):
        return -errno.EACCES
    try:
        program = parse_image(image)
    except KernError:
        return -errno.ENOEXEC
    if program.personality != "linux":
        return -errno.ENOEXEC              # a Mach-native program runs under normach run
    return exec_program(call, program, argv, envp, os.path.basename(path))


def exec_program(call, program, argv: list, envp: list, name: str):
    """Replace the caller's address space with `program` (parsed), its other threads
    ended, and answer with the new program's first registers.  Past the point of no
    return a failure ends the process (SIGSEGV), as Linux does."""
    from ...kern.exec import STACK_SIZE, STACK_TOP, _ranges, stack_layout
    proc, task = call.proc, call.task
    try:
        rsp, pieces = stack_layout(argv, envp, program, STACK_TOP)
    except KernError:
        return -errno.E2BIG
    _end_other_threads(call)
    try:
        mach.vm_deallocate(task, param.VM_MIN_ADDRESS, param.VM_MAX_ADDRESS - param.VM_MIN_ADDRESS)
        ranges = _ranges(program.segments)
        for start, end, _prot in ranges:
            mach.vm_allocate(task, start, end - start, False)
        for vaddr, _memsz, data, _prot in program.segments:
            if data:
                mach.vm_write(task, vaddr, data)
        for start, end, prot in ranges:
            mach.vm_protect(task, start, end - start, False, prot)
        mach.vm_allocate(task, STACK_TOP - STACK_SIZE, STACK_SIZE, False)
        for addr, data in pieces:
            mach.vm_write(task, addr, data)
    except KernError:
        ended(proc, SIGSEGV)
        call.exit_task(128 + SIGSEGV)
        return None
    proc.brk_start = proc.brk = program.brk
    proc.name = name
    proc.fds.close_on_exec()
    t = call.thread
    t.clear_child_tid = t.fs_base = 0
    for hook in list(proc.extra.get("on_exec", ())):
        hook(proc)
    old = call.state
    call.state = X86ThreadState64(rip=program.entry, rsp=rsp, rflags=0x202, cs=old.cs,
                                  fs=old.fs, gs=old.gs)
    return 0


def _end_other_threads(call) -> None:
    """Terminate every thread of the caller's task but the caller (execve)."""
    proc, me = call.proc, call.thread
    try:
        threads = mach.task_threads(call.task)
    except KernError:
        threads = []
    mine = getattr(me.handle, "port", None)
    for h in threads:
        if h.port is not mine:
            try:
                mach.thread_terminate(h)
            except KernError:
                pass
        _release(h)
    for port, t in list(proc.threads.items()):
        if t is not me:
            cancel = getattr(t, "wait_cancel", None)
            if cancel is not None:
                cancel()
            del proc.threads[port]
            _release(t.handle)
