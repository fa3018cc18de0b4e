"""One system call in progress: the request the kernel sent (EXC_SYSCALL, the
thread's registers), the process and thread it came from, and the answer.

The kernel raises EXC_SYSCALL with behavior EXCEPTION_STATE_IDENTITY
(exception_raise_state_identity, id 2403): the thread and task ports, codes
[number, rip], and the thread's x86_THREAD_STATE64.  The answer (2503) gives the
registers the thread resumes with: those it had, with rax = the result, unless a
handler changed more (a signal frame, a new program).  A guest's memory is read
and written through the task port (vm_read / vm_write), wherever the task runs.
"""

from __future__ import annotations

import errno
import struct

from ... import mach
from ...errors import KernError
from ...kern.thread import X86ThreadState64
from ...mach_types import ThreadStateFlavor
from ..server import reply

FLAVOR = int(ThreadStateFlavor.x86_THREAD_STATE64)
NWORDS = len(X86ThreadState64().to_words())
U64 = (1 << 64) - 1
PAGE = 4096


class BadRequest(Exception):
    """A message on a process port that is not a system call the kernel sent."""


def parse(m) -> tuple:
    """(thread name, task name, number, state) of an exception_raise_state_identity.
    Raises BadRequest."""
    from ...ipc.message import PortDesc
    ports = [i for i in m.body if isinstance(i, PortDesc)]
    data = b"".join(bytes(i) for i in m.body if isinstance(i, (bytes, bytearray)))
    if m.id != 2403 or len(ports) != 2 or len(data) < 8:
        raise BadRequest(f"message id {m.id}")
    exc, ncodes = struct.unpack_from("<iI", data)
    at = 8 + 8 * ncodes
    if ncodes < 1 or len(data) < at + 8:
        raise BadRequest("short codes")
    codes = struct.unpack_from(f"<{ncodes}q", data, 8)
    flavor, count = struct.unpack_from("<iI", data, at)
    if flavor != FLAVOR or count != 2 * NWORDS or len(data) != at + 8 + 4 * count:
        raise BadRequest("not an x86_THREAD_STATE64")
    words = struct.unpack_from(f"<{NWORDS}Q", data, at + 8)
    return ports[0].name, ports[1].name, exc, list(codes), X86ThreadState64.from_words(words)


class Call:
    """A system call: `nr`, `args` (rdi rsi rdx r10 r8 r9), `state` (its registers),
    `proc`, `thread` (LThread), `server`.  `finish(result)` answers it."""

    def __init__(self, server, m, proc, thread, task, state: X86ThreadState64, nr: int):
        self.server, self.m, self.proc, self.thread, self.task = server, m, proc, thread, task
        self.state, self.nr = state, nr
        s = state
        self.args = [s.rdi, s.rsi, s.rdx, s.r10, s.r8, s.r9]
        self.key = (nr, tuple(self.args), s.rip)     # what a restart of it repeats
        self.answered = False

    # -- the answer --------------------------------------------------------------------
    def finish(self, result: int | None = None) -> None:
        """Answer: the thread resumes with `state`, rax = result (unless None)."""
        if self.answered:
            return
        self.answered = True
        if result is not None:
            self.state.rax = result & U64
        words = [w & U64 for w in self.state.to_words()]
        if self.nr >= 0 and self.thread is not None:
            self.thread.last_answer = (self.key, words)
        self.send_state(words)

    def send_state(self, words: list) -> None:
        body = [struct.pack(f"<iiI{NWORDS}Q", 0, FLAVOR, 2 * NWORDS, *words)]
        reply(self.server.task, self.m, body)

    def fail(self, code: int) -> None:
        """Answer with a Mach error: the kernel ends the task (a request the server
        cannot take, e.g. from a process it no longer knows)."""
        if not self.answered:
            self.answered = True
            reply(self.server.task, self.m, [struct.pack("<i", code)])

    def drop(self) -> None:
        """Never answer (the thread is gone): release the reply right."""
        if not self.answered:
            self.answered = True
            try:
                mach.mach_port_deallocate(self.server.task, self.m.remote_port)
            except KernError:
                pass

    def exit_task(self, status: int) -> None:
        """Answer so that the thread ends its task with `status`: it runs its `syscall`
        again as normach_task_exit(status) (the guest ABI's own exit, which gives
        `normach run` and Cluster.wait the status)."""
        s = self.state
        s.rip = (s.rip - 2) & U64
        s.rdi = status & 0xFF
        self.finish(-100)           # normach_task_exit's trap number

    @property
    def alive(self) -> bool:
        """False once the caller no longer waits (its thread was aborted or died): its
        reply right is then a dead name, and a result would be lost."""
        try:
            return bool(mach.mach_port_type(self.server.task, self.m.remote_port)
                        & (1 << 18))     # MACH_PORT_TYPE_SEND_ONCE
        except KernError:
            return False

    def child_state(self, newsp: int = 0, tls: int | None = None) -> X86ThreadState64:
        """The registers a clone starts with: the caller's, returning 0 from the call, on
        stack `newsp` (if given) with TLS `tls` (CLONE_SETTLS, if given)."""
        state = X86ThreadState64.from_words(self.state.to_words())
        state.rax = 0
        if newsp:
            state.rsp = newsp
        if tls is not None:
            state.fs_base = tls
        return state

    # -- the caller's memory -------------------------------------------------------------
    def read(self, addr: int, size: int) -> bytes:
        """`size` bytes at `addr`.  Raises OSError(EFAULT)."""
        if size == 0:
            return b""
        if addr < 0 or size < 0 or addr + size > 1 << 47:
            raise OSError(errno.EFAULT, "bad address")
        try:
            return bytes(mach.vm_read(self.task, addr, size))
        except KernError:
            raise OSError(errno.EFAULT, "bad address") from None

    def write(self, addr: int, data: bytes) -> None:
        """Raises OSError(EFAULT)."""
        if not data:
            return
        if addr <= 0 or addr + len(data) > 1 << 47:
            raise OSError(errno.EFAULT, "bad address")
        try:
            mach.vm_write(self.task, addr, bytes(data))
        except KernError:
            raise OSError(errno.EFAULT, "bad address") from None

    def cstring(self, addr: int, limit: int = 4096) -> bytes:
        """The NUL-terminated string at `addr` (at most `limit` bytes).
        Raises OSError(EFAULT; ENAMETOOLONG past the limit)."""
        out = b""
        while len(out) < limit:
            chunk = min(PAGE - (addr + len(out)) % PAGE, limit - len(out))
            data = self.read(addr + len(out), chunk)
            end = data.find(b"\0")
            if end >= 0:
                return out + data[:end]
            out += data
        raise OSError(errno.ENAMETOOLONG, "string too long")

    def u32(self, addr: int) -> int:
        return struct.unpack("<I", self.read(addr, 4))[0]

    def u64(self, addr: int) -> int:
        return struct.unpack("<Q", self.read(addr, 8))[0]

    def put_u32(self, addr: int, value: int) -> None:
        self.write(addr, struct.pack("<I", value & 0xFFFFFFFF))

    def put_u64(self, addr: int, value: int) -> None:
        self.write(addr, struct.pack("<Q", value & U64))

    def __repr__(self) -> str:
        from .table import name_of
        return f"<Call {name_of(self.nr)} pid {self.proc.pid} tid {self.thread.tid}>"
