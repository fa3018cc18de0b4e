"""Threads: the unit of execution of a task, and their register state.

A thread is created suspended (T7.1: user stop count 1) with undefined
registers; thread_set_state gives it a register file, thread_resume lets it run
once neither it nor its task is suspended.  The register file is kept per
flavor as the Mach structures define it, so a state taken from one thread and
set into another — on this node or another — resumes the same computation:

* x86_THREAD_STATE64: the integer registers, rip, rflags, segment selectors
  and the fs/gs bases;
* x86_FLOAT_STATE64: the whole FXSAVE area, as Mach defines this flavor — the
  x87 unit (control, status and abridged tag words, last opcode, instruction
  and operand pointers, st0-st7 as 80-bit values), mxcsr and xmm0-15.  The x87
  part extends the one class rather than adding a flavor of its own: Mach has
  no separate x87 flavor, and a thread's floating point state is one FXSAVE
  image.  Its words are that image in the 64-bit FXSAVE layout (64 words), which
  the guest struct lays out with the field names of Mach's x86_float_state64_t
  (less Mach's reserved prefix and tail; fip and fdp 64-bit);
* x86_DEBUG_STATE64: dr0-dr7, checked on set as Mach checks them (no global
  enables, no I/O breakpoints, addresses below the top of user memory, dr4 and
  dr5 read as 0).  The CPU holds them but unicorn does not enforce hardware
  breakpoints (docs/mach-compat.md).

The CPU that executes threads attaches to `Thread.cpu` in the machine layer,
which loads and saves every flavor (machine/regs.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields

from .. import param
from ..mach_types import ThreadRunState, ThreadStateFlavor, ThreadInfoFlavor
from ..errors import KernError, KernReturn
from .records import THREAD_BASIC_INFO, record
from .memory import THREADS

KERN = KernReturn
_U64 = (1 << 64) - 1

_GPRS = ("rax", "rbx", "rcx", "rdx", "rdi", "rsi", "rbp", "rsp",
         "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
         "rip", "rflags", "cs", "fs", "gs", "fs_base", "gs_base")


@dataclass
class X86ThreadState64:
    """x86_THREAD_STATE64: 23 64-bit registers (count in 32-bit words: 46)."""

    rax: int = 0; rbx: int = 0; rcx: int = 0; rdx: int = 0          # noqa: E702
    rdi: int = 0; rsi: int = 0; rbp: int = 0; rsp: int = 0          # noqa: E702
    r8: int = 0; r9: int = 0; r10: int = 0; r11: int = 0            # noqa: E702
    r12: int = 0; r13: int = 0; r14: int = 0; r15: int = 0          # noqa: E702
    rip: int = 0; rflags: int = 0x202; cs: int = 0x33; fs: int = 0; gs: int = 0   # noqa: E702
    fs_base: int = 0; gs_base: int = 0                               # noqa: E702

    FLAVOR = ThreadStateFlavor.x86_THREAD_STATE64
    COUNT = 2 * len(_GPRS)

    def to_words(self) -> list[int]:
        """The state as 64-bit words in Mach field order."""
        return [getattr(self, n) for n in _GPRS]

    @classmethod
    def from_words(cls, words) -> "X86ThreadState64":
        return cls(**dict(zip(_GPRS, words)))


MXCSR_MASK = 0xFFFF        # FXSAVE's MXCSR_MASK as unicorn (QEMU) reports it: bits 0-15 settable
_FX_WORDS, _FX_ST, _FX_XMM = 64, 4, 20     # the FXSAVE area in words; where st0 and xmm0 start


def _check_width(value, bits: int, what: str) -> int:
    """`value` if it is an int of at most `bits` bits.  Raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << bits:
        raise ValueError(f"{what} is not an unsigned {bits}-bit integer")
    return value


def _check_regs(values, n: int, bits: int, what: str) -> list:
    if not isinstance(values, (list, tuple)) or len(values) != n:
        raise ValueError(f"{what} must be {n} registers")
    return [_check_width(v, bits, f"{what}[{i}]") for i, v in enumerate(values)]


@dataclass
class X86FloatState64:
    """x86_FLOAT_STATE64: the FXSAVE area (64 64-bit words; count in 32-bit words: 128).

    Fields: fcw, fsw (TOP in bits 11-13), ftw (abridged: bit i set when physical
    register i holds a value), fop, fip, fdp, mxcsr, st (st0-st7, 80-bit, in stack
    order), xmm (xmm0-15, 128-bit).  The defaults are the state after FNINIT.
    """

    fcw: int = 0x37F
    fsw: int = 0
    ftw: int = 0
    fop: int = 0
    fip: int = 0
    fdp: int = 0
    mxcsr: int = 0x1F80
    st: list = field(default_factory=lambda: [0] * 8)
    xmm: list = field(default_factory=lambda: [0] * 16)

    FLAVOR = ThreadStateFlavor.x86_FLOAT_STATE64
    COUNT = 2 * _FX_WORDS

    def to_words(self) -> list[int]:
        """The FXSAVE image as little-endian 64-bit words (Mach's field offsets, less
        its 8-byte reserved prefix).  Raises ValueError for a field wider than its slot."""
        w = [0] * _FX_WORDS
        w[0] = (_check_width(self.fcw, 16, "fcw") | _check_width(self.fsw, 16, "fsw") << 16
                | _check_width(self.ftw, 8, "ftw") << 32 | _check_width(self.fop, 16, "fop") << 48)
        w[1], w[2] = _check_width(self.fip, 64, "fip"), _check_width(self.fdp, 64, "fdp")
        w[3] = _check_width(self.mxcsr, 32, "mxcsr") | MXCSR_MASK << 32
        for base, regs in ((_FX_ST, _check_regs(self.st, 8, 80, "st")),
                           (_FX_XMM, _check_regs(self.xmm, 16, 128, "xmm"))):
            for i, v in enumerate(regs):
                w[base + 2 * i], w[base + 2 * i + 1] = v & _U64, v >> 64
        return w

    @classmethod
    def from_words(cls, words) -> "X86FloatState64":
        """The state an FXSAVE image holds, read as FXRSTOR reads it: reserved bits and
        MXCSR_MASK ignored, mxcsr limited to the bits MXCSR_MASK allows."""
        w0 = words[0]
        st = [words[_FX_ST + 2 * i] | (words[_FX_ST + 2 * i + 1] & 0xFFFF) << 64 for i in range(8)]
        xmm = [words[_FX_XMM + 2 * i] | words[_FX_XMM + 2 * i + 1] << 64 for i in range(16)]
        return cls(fcw=w0 & 0xFFFF, fsw=w0 >> 16 & 0xFFFF, ftw=w0 >> 32 & 0xFF,
                   fop=w0 >> 48 & 0x7FF, fip=words[1], fdp=words[2],
                   mxcsr=words[3] & MXCSR_MASK, st=st, xmm=xmm)


_DRS = ("dr0", "dr1", "dr2", "dr3", "dr4", "dr5", "dr6", "dr7")


@dataclass
class X86DebugState64:
    """x86_DEBUG_STATE64: dr0-dr7 (8 64-bit words; count in 32-bit words: 16)."""

    dr0: int = 0; dr1: int = 0; dr2: int = 0; dr3: int = 0       # noqa: E702
    dr4: int = 0; dr5: int = 0; dr6: int = 0; dr7: int = 0       # noqa: E702

    FLAVOR = ThreadStateFlavor.x86_DEBUG_STATE64
    COUNT = 2 * len(_DRS)

    def to_words(self) -> list[int]:
        return [getattr(self, n) for n in _DRS]

    @classmethod
    def from_words(cls, words) -> "X86DebugState64":
        return cls(**dict(zip(_DRS, words)))

    def validated(self) -> "X86DebugState64":
        """The state a thread gets, checked and fixed up as Mach i386 does
        (debug_state_is_valid64): dr4 and dr5 are 0; dr7 keeps its low 32 bits, bit 10
        set and bits 11, 12, 14, 15 clear.
        Raises: KERN_INVALID_ARGUMENT for a global enable (G0-G3), an I/O breakpoint
        (R/W 10b), an execution breakpoint of length other than 1, or an enabled
        breakpoint at or above the top of user memory."""
        dr7 = self.dr7 & 0xFFFF_FFFF
        bad = KernError(KERN.KERN_INVALID_ARGUMENT, f"debug state dr7 {self.dr7:#x}")
        for i in range(4):
            rw, length = dr7 >> (16 + 4 * i) & 3, dr7 >> (18 + 4 * i) & 3
            if rw == 2 or (rw == 0 and length) or dr7 & 2 << (2 * i):
                raise bad
            if dr7 & 1 << (2 * i) and getattr(self, f"dr{i}") >= param.VM_MAX_ADDRESS:
                raise KernError(KERN.KERN_INVALID_ARGUMENT, f"dr{i} is not a user address")
        dr7 = (dr7 | 1 << 10) & ~(1 << 11 | 1 << 12 | 1 << 14 | 1 << 15)
        return X86DebugState64(self.dr0, self.dr1, self.dr2, self.dr3, 0, 0, self.dr6, dr7)


STATE_CLASSES = {c.FLAVOR: c for c in (X86ThreadState64, X86FloatState64, X86DebugState64)}

_current = threading.local()


def current_thread():
    """The Mach thread the calling OS thread is running for (None for a Python caller)."""
    return getattr(_current, "thread", None)


def set_current_thread(thread) -> None:
    _current.thread = thread


class Thread:
    """A thread of a task.

    Fields (kernel lock): active, suspend_count (user stop count), hold_count
    (holds by task_suspend), state {flavor: state object}, exc_ports, cpu (set
    by the machine layer), run_state, abort_pending (thread_abort asked the
    kernel call it waits in to give up), waiting_on (the condition it waits on
    in a kernel call, for thread_abort to wake it), vm_privilege (thread_wire:
    recorded only, normach's threads are never swapped out).
    """

    def __init__(self, task):
        from ..ipc.port import ipc_kobject_alloc
        self.task = task
        self.kernel = task.kernel
        self.id = self.kernel.next_id()
        self.active = True
        self.suspend_count = 1
        self.hold_count = 1 if task.suspend_count else 0
        self.state = {f: cls() for f, cls in STATE_CLASSES.items()}
        self.exc_ports: dict = {}
        self.cpu = None
        self.has_state = False     # set by thread_set_state / the loader: only then can it run
        self.run_state = ThreadRunState.STOPPED
        self.abort_pending = False
        self.times = [0, 0]        # user, system microseconds of CPU (kernel lock)
        self.waiting_on = None
        self.vm_privilege = False
        self.ith_self = ipc_kobject_alloc(self.kernel, self, "thread")
        self.changed = self.kernel.lock.condition()   # signalled on suspend/resume/terminate

    @property
    def runnable(self) -> bool:
        return self.active and self.suspend_count == 0 and self.hold_count == 0

    def cpu_times(self) -> tuple[int, int]:
        """(user, system) microseconds, the slice it is running now included.
        Conditions: kernel lock held."""
        running = self.cpu.running_user_s() if self.cpu is not None else 0.0
        return self.times[0] + int(running * 1e6), self.times[1]

    def hold(self) -> None:
        self.hold_count += 1
        self._update()

    def release(self) -> None:
        assert self.hold_count > 0
        self.hold_count -= 1
        self._update()

    def _update(self) -> None:
        if self.active and self.run_state != ThreadRunState.HALTED:
            self.run_state = ThreadRunState.RUNNING if self.runnable else ThreadRunState.STOPPED
        self.changed.notify_all()
        self.kernel.machine.thread_changed(self)

    def wait_stopped(self) -> None:
        """Wait until the thread executes no guest code (unless it is the caller)."""
        if self.cpu is not None and self is not current_thread():
            self.cpu.wait_stopped()

    def held_send_rights(self):
        return [p for (p, _b, _f) in self.exc_ports.values() if p is not None]

    def __repr__(self) -> str:
        st = self.run_state.name if self.active else "TERMINATED"
        wired = " wired" if self.vm_privilege else ""
        return f"<Thread {self.id} of {self.task.name} {st} suspend={self.suspend_count}{wired}>"


def _check(thread: Thread) -> None:
    if not thread.active:
        raise KernError(KERN.KERN_TERMINATED, f"thread {thread.id} is terminated")


def thread_create(task) -> Thread:
    """A new thread in `task`, created suspended (T7.1).

    Raises: KERN_FAILURE (inactive task), KERN_RESOURCE_SHORTAGE (thread limit).
    """
    if not task.active:
        raise KernError(KERN.KERN_FAILURE, "task is terminated")
    if len(task.threads) >= task.ledger.threads_max:
        raise KernError(KERN.KERN_RESOURCE_SHORTAGE, f"thread limit {task.ledger.threads_max}")
    task.kernel.memory.must_charge(THREADS, param.THREAD_MEMORY_COST)
    th = Thread(task)
    task.threads.append(th)
    return th


def thread_suspend(thread: Thread) -> None:
    """Increment the user stop count (T7.3).  Raises KERN_TERMINATED."""
    _check(thread)
    thread.suspend_count += 1
    thread._update()
    if thread.suspend_count == 1:
        thread.wait_stopped()


def thread_resume(thread: Thread) -> None:
    """Decrement the user stop count (T7.3).  Raises KERN_TERMINATED, KERN_FAILURE at 0."""
    _check(thread)
    if thread.suspend_count == 0:
        raise KernError(KERN.KERN_FAILURE, "thread is not suspended")
    thread.suspend_count -= 1
    thread._update()


def thread_abort(thread: Thread) -> None:
    """Abort the kernel call `thread` waits in, and wait until it has left it (T7.3).

    A mach_msg waiting to receive returns MACH_RCV_INTERRUPTED, one waiting for
    room to send MACH_SEND_INTERRUPTED (the guest library retries unless the
    option asked for the interruption); a wait for an exception reply ends and
    the faulting instruction runs again; other kernel calls finish first.  A
    thread not in a kernel call is not affected.  Used on suspended threads, to
    take a state that can run elsewhere (migration).
    Conditions: kernel lock held (released while waiting).
    Raises: KERN_TERMINATED; KERN_INVALID_ARGUMENT on the calling thread.
    """
    _check(thread)
    if thread is current_thread():
        raise KernError(KERN.KERN_INVALID_ARGUMENT, "not on the calling thread")
    if thread.cpu is None or not thread.cpu.in_trap():
        return
    thread.abort_pending = True
    if thread.waiting_on is not None:
        thread.waiting_on.notify_all()
    thread.cpu.wait_trap_left()


def aborted() -> bool:
    """True if thread_abort interrupted the kernel call of the calling thread."""
    th = current_thread()
    return th is not None and th.abort_pending


def _check_state_target(thread: Thread, flavor) -> type:
    if thread is current_thread():
        raise KernError(KERN.KERN_INVALID_ARGUMENT, "not on the calling thread")
    _check(thread)
    cls = STATE_CLASSES.get(flavor) if isinstance(flavor, int) else None
    if cls is None:
        raise KernError(KERN.KERN_INVALID_ARGUMENT, f"unknown thread state flavor {flavor}")
    return cls


def thread_get_state(thread: Thread, flavor):
    """A copy of the thread's state of `flavor` (T7.4).

    Raises: KERN_INVALID_ARGUMENT (calling thread, unknown flavor), KERN_TERMINATED.
    """
    cls = _check_state_target(thread, flavor)
    if thread.cpu is not None:
        thread.cpu.save_state(thread)
    return cls.from_words(thread.state[flavor].to_words())


def thread_set_state(thread: Thread, flavor, state) -> None:
    """Replace the thread's state of `flavor` (T7.4).

    `state` is the flavor's dataclass, a dict of all its fields, or its word list.
    Raises: KERN_INVALID_ARGUMENT (calling thread, unknown flavor, too few values, a
    value wider than its register, a debug state Mach refuses), KERN_TERMINATED.
    """
    cls = _check_state_target(thread, flavor)
    new = _coerce_state(cls, state)
    if thread.cpu is not None:
        thread.cpu.save_state(thread)
    thread.state[flavor] = new
    if thread.cpu is not None:
        thread.cpu.load_state(thread)
    thread.has_state = True
    thread._update()


def _coerce_state(cls, state):
    bad = KernError(KERN.KERN_INVALID_ARGUMENT, f"state is not a complete {cls.__name__}")
    need = len(cls().to_words())
    try:
        if isinstance(state, cls):
            words = state.to_words()
        elif isinstance(state, dict):
            if set(state) != {f.name for f in fields(cls)}:
                raise bad
            words = cls(**state).to_words()
        elif isinstance(state, (list, tuple)):
            words = list(state)
        else:
            raise bad
    except (TypeError, ValueError, IndexError):       # e.g. a short or non-integer xmm list
        raise bad from None
    if len(words) < need or (not isinstance(state, (list, tuple)) and len(words) != need):
        raise bad
    if not all(isinstance(w, int) and not isinstance(w, bool) for w in words):
        raise bad
    limit = (1 << 64) - 1
    if any(w < 0 or w > limit for w in words):
        raise KernError(KERN.KERN_INVALID_ARGUMENT, "register values are unsigned 64-bit")
    new = cls.from_words(words)
    return new.validated() if hasattr(new, "validated") else new


def thread_terminate_internal(thread: Thread) -> None:
    """Stop and remove `thread`; its port keeps naming it (calls then get KERN_TERMINATED)."""
    from ..ipc.port import ipc_port_release_send
    if thread.active:
        thread.kernel.memory.credit(THREADS, param.THREAD_MEMORY_COST)
    thread.active = False
    thread.run_state = ThreadRunState.HALTED
    if thread in thread.task.threads:
        thread.task.threads.remove(thread)
        thread.task.dead_times[0] += thread.times[0]     # its time stays the task's
        thread.task.dead_times[1] += thread.times[1]
    for port, _b, _f in thread.exc_ports.values():
        if port is not None:
            ipc_port_release_send(port)
    thread.exc_ports = {}
    thread.changed.notify_all()
    thread.kernel.machine.thread_changed(thread)


def thread_terminate(thread: Thread) -> None:
    """Terminate `thread` (T7.5).  Raises KERN_TERMINATED if it already is."""
    _check(thread)
    thread_terminate_internal(thread)


def thread_info(thread: Thread, flavor) -> dict:
    """THREAD_BASIC_INFO."""
    if flavor != ThreadInfoFlavor.THREAD_BASIC_INFO:
        raise KernError(KERN.KERN_INVALID_ARGUMENT, f"thread_info flavor {flavor}")
    _check(thread)
    user, system = thread.cpu_times()
    return record(THREAD_BASIC_INFO, user, system, 0, 1,
                  int(thread.run_state), 0, thread.suspend_count, 0)


def thread_wire(host_priv, thread_port, wired) -> None:
    """thread_wire: `thread` must always be able to run and to allocate memory (Mach's
    vm_privilege).  normach never swaps a thread out nor keeps a reserve of pages for
    privileged threads, so the kernel only records it (`Thread.vm_privilege`, shown
    by repr).  `thread_port` is a send right the call consumes.
    Raises: KERN_INVALID_ARGUMENT (not a live thread of this node).
    """
    from ..ipc.port import ipc_port_release_send
    from .routines import port_kobject
    try:
        thread = port_kobject(thread_port, "thread")
        if thread is None or not thread.active:
            raise KernError(KERN.KERN_INVALID_ARGUMENT, "not a live thread of this node")
        thread.vm_privilege = bool(wired)
    finally:
        ipc_port_release_send(thread_port)
