"""The Unix server: one per node, a Mach task whose Python thread serves the Linux
system calls of the processes started on that node (and of their children),
wherever they run now.

Each process has a port of its own in the server's port set; it is the task's
exception port for EXC_SYSCALL and for the faults that become signals, with
behavior EXCEPTION_STATE_IDENTITY, so each request brings the thread's registers
and the answer gives the registers it resumes with (call.py).  The server never
blocks on a guest: a call that must wait (a read of an empty pipe, wait4, a
futex) keeps its request and is answered later, from the event that ends it.
"""

from __future__ import annotations

import errno
import itertools
import logging
import threading
import weakref

from ... import mach
from ...errors import KernError, KernReturn
from ...kern.exception import SYSCALL_RESTARTED
from ...mach_types import MsgType, PortRight
from ..server import ServerStats, discard, receive_one
from .call import Call, BadRequest, parse
from .process import LThread, Process
from .table import SYSCALLS, unknown
from .timers import Timers

log = logging.getLogger("normach.unix")

EXC_BAD_ACCESS, EXC_BAD_INSTRUCTION, EXC_ARITHMETIC, EXC_BREAKPOINT, EXC_SYSCALL = 1, 2, 3, 6, 7
EXC_MASK = sum(1 << e for e in (EXC_BAD_ACCESS, EXC_BAD_INSTRUCTION, EXC_ARITHMETIC,
                                EXC_BREAKPOINT, EXC_SYSCALL))
EXCEPTION_STATE_IDENTITY = 3

_SERVERS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_SERVERS_LOCK = threading.Lock()
CURRENT = threading.local()      # .call: the Call whose handler runs on this server thread


class UnixServer:
    """Fields (the server thread's alone, but `lock` for what other threads call):
    task (its Task handle), pset, procs {port name: Process}, pids {pid: Process}."""

    def __init__(self, task, label: str = "unix"):
        self.task = task
        self.pset = mach.mach_port_allocate(task, PortRight.PORT_SET)
        self.lock = threading.RLock()
        self.procs: dict = {}
        self.pids: dict = {}
        self._pid = itertools.count(100)
        self._tid = itertools.count(100000)
        self.stats = ServerStats()
        self.calls: dict = {}            # syscall name -> count (normach ps, benchmarks)
        self.thread = threading.Thread(target=self._serve, daemon=True, name=label)
        self.timers = Timers(self)       # calls that end at a time
        self.thread.start()

    # -- processes ----------------------------------------------------------------------
    def new_pid(self) -> int:
        return next(self._pid)

    def new_tid(self) -> int:
        return next(self._tid)

    def add_process(self, task, root: str, output, parent: Process | None = None,
                    name: str = "") -> Process:
        """A process for `task` (a Task handle the server keeps): its syscall port, made
        the task's exception port.  Raises KernError (the task is gone)."""
        from .files import FdTable
        pid = self.new_pid()
        proc = Process(pid=pid, ppid=parent.pid if parent else 1, root=root, task=task,
                       output=output, parent=parent, name=name)
        proc.fds = parent.fds.fork() if parent else FdTable.console(output, self.post)
        if parent is not None:
            proc.cwd, proc.umask = parent.cwd, parent.umask
            proc.brk_start, proc.brk = parent.brk_start, parent.brk
            parent.children.append(proc)
        port = mach.mach_port_allocate(self.task, PortRight.RECEIVE)
        mach.mach_port_move_member(self.task, port, self.pset)
        proc.port = port
        send = mach.mach_port_extract_right(self.task, port, MsgType.MAKE_SEND)
        try:
            mach.task_set_exception_ports(task, EXC_MASK, send, EXCEPTION_STATE_IDENTITY,
                                          4)    # x86_THREAD_STATE64
        except KernError:
            mach.mach_port_mod_refs(self.task, port, PortRight.RECEIVE, -1)
            raise
        with self.lock:
            self.procs[port] = proc
            self.pids[pid] = proc
        return proc

    def drop_process(self, proc: Process) -> None:
        """Forget a reaped process: its port, its task handle, its threads' handles."""
        with self.lock:
            self.procs.pop(proc.port, None)
            self.pids.pop(proc.pid, None)
        try:
            mach.mach_port_mod_refs(self.task, proc.port, PortRight.RECEIVE, -1)
        except KernError:
            pass
        for t in proc.threads.values():
            _release(t.handle)
        proc.threads.clear()
        _release(proc.task)
        proc.task = None

    def post(self, fn) -> None:
        """Run fn() on the server thread, soon (from any thread)."""
        self.timers.after(0, fn)

    # -- the loop -----------------------------------------------------------------------
    def _serve(self) -> None:
        while True:
            m = receive_one(self.task, self.pset, self.stats)
            if m is None:
                return
            self.stats.requests += 1
            try:
                self._request(m)
            except Exception:                       # a server bug: it goes on serving
                self.stats.bugs += 1
                log.exception("unix server bug on message id %s", m.id)

    def _request(self, m) -> None:
        if m.local_port == self.timers.port:
            self.timers.due()
            return
        with self.lock:
            proc = self.procs.get(m.local_port)
        if proc is None:
            self.stats.refused += 1
            discard(self.task, m)
            return
        try:
            thread_name, task_name, exc, codes, state = parse(m)
        except BadRequest as e:
            self.stats.refused += 1
            log.info("unix: pid %d: %s", proc.pid, e)
            discard(self.task, m)
            return
        try:
            task = mach.mach_port_extract_right(self.task, task_name, MsgType.MOVE_SEND)
        except KernError:                        # not a send right: not the kernel's message
            self.stats.refused += 1
            discard(self.task, m)
            return
        try:
            thread_h = mach.mach_port_extract_right(self.task, thread_name, MsgType.MOVE_SEND)
        except KernError:
            self.stats.refused += 1
            task.deallocate()
            discard(self.task, m, keep=(task_name,))
            return
        if proc.task is None or proc.task.port is not task.port:
            if proc.task is not None:           # a new task: the process migrated
                for t in proc.threads.values():
                    t.moved = True
            _release(proc.task)
            proc.task = task
        else:
            task.deallocate()
        thread = self._thread_of(proc, thread_h, state)
        call = Call(self, m, proc, thread, proc.task, state, codes[0] if exc == EXC_SYSCALL else -exc)
        if m.remote_port and not call.alive:
            thread.last_answer = None
            call.drop()         # its thread was aborted while the request queued here: the
            return              # kernel runs the call again (a write must not happen twice)
        if exc == EXC_SYSCALL and self._answered_again(call):
            return
        if exc != EXC_SYSCALL:
            from .signals import fault           # (signals.py imports this module)
            fault(call, exc, codes)              # a fault: a signal
            return
        self._dispatch(call)

    @staticmethod
    def _answered_again(call: Call) -> bool:
        """A call run again after thread_abort (rcx = SYSCALL_RESTARTED) that was served
        already, its answer lost (the thread was aborted as it came): the same answer
        again, so that no call is made twice (a write, a fork).  Any other request
        shows that the thread had its last answer."""
        last, call.thread.last_answer = call.thread.last_answer, None
        if call.state.rcx != SYSCALL_RESTARTED or last is None or last[0] != call.key:
            return False
        call.answered = True
        call.thread.last_answer = last
        call.send_state(last[1])
        return True

    def _thread_of(self, proc: Process, handle, state) -> LThread:
        """The LThread of the kernel thread `handle` names (kept, or released if known).
        A thread the server has not seen is the first of the process, a clone the
        server created, or one moved by a migration: then it is known by its TLS."""
        known = proc.threads.get(handle.port)
        if known is not None:
            handle.deallocate()
            return known
        moved = [t for t in proc.threads.values() if t.moved and t.fs_base == state.fs_base]
        if moved:
            t = moved[0]
            t.moved = False
            del proc.threads[t.handle.port]
            _release(t.handle)
        else:
            t = LThread(tid=proc.pid if not proc.threads else self.new_tid())
        t.handle = handle
        proc.threads[handle.port] = t
        return t

    def _dispatch(self, call: Call) -> None:
        name, handler = SYSCALLS.get(call.nr, (None, unknown))
        self.calls[name or "unknown"] = self.calls.get(name or "unknown", 0) + 1
        CURRENT.call = call                      # a signal for its thread: in its answer
        try:
            result = handler(call)
        except OSError as e:                     # a guest's bad pointer, a host error
            result = -(e.errno or errno.EIO)
        except KernError as e:
            result = -_errno_of(e.code)
        except Exception:                        # a server bug: counted, and the caller answered
            self.stats.bugs += 1                 # (not left waiting, its reply right held)
            log.exception("unix server bug in %s", name)
            result = -errno.EIO
        finally:
            CURRENT.call = None
        if result is not None:
            call.finish(result)


def _errno_of(code: int) -> int:
    return {KernReturn.KERN_NO_SPACE: errno.ENOMEM,
            KernReturn.KERN_RESOURCE_SHORTAGE: errno.ENOMEM,
            KernReturn.KERN_INVALID_ADDRESS: errno.EFAULT,
            KernReturn.KERN_PROTECTION_FAILURE: errno.EFAULT}.get(code, errno.EINVAL)


def _alive(handle) -> bool:
    return handle is not None and handle.port is not None and handle.port.active


def _release(handle) -> None:
    if handle is not None and handle.port is not None:
        try:
            handle.deallocate()
        except KernError:
            pass


def server_for(kernel) -> UnixServer:
    """The Unix server of `kernel`'s node, started on first use in a task of its own."""
    from ...handles import Task
    from ...ipc.port import ipc_port_make_send
    from ...kern.task import task_create
    with _SERVERS_LOCK:
        server = _SERVERS.get(kernel)
        if server is None:
            with kernel.lock:
                t = task_create(None, False, kernel=kernel, name="unix")
                handle = Task(ipc_port_make_send(t.itk_self))
            server = _SERVERS[kernel] = UnixServer(handle, f"unix{kernel.node}")
        return server


def start_process(kernel, task, output, root: str, name: str, brk: int) -> Process:
    """Make the fresh Linux `task` (its first thread still suspended) a process of this
    node's Unix server: fds 0-2 on its console, `root` as its "/".
    Conditions: kernel lock not held."""
    from ...handles import Task
    from ...ipc.port import ipc_port_make_send
    server = server_for(kernel)
    with kernel.lock:
        handle = Task(ipc_port_make_send(task.itk_self))
    proc = server.add_process(handle, root, output, name=name)
    proc.brk_start = proc.brk = brk
    return proc
