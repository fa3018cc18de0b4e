"""Signals: actions (rt_sigaction), masks (rt_sigprocmask), kill, tkill and tgkill,
the alternate stack, rt_sigreturn, and the faults that become SIGSEGV, SIGFPE,
SIGILL and SIGTRAP.

A signal is delivered by rewriting a thread's registers, as Linux does on its way
back to user mode: the server builds Linux's x86-64 `struct rt_sigframe`
(pretcode, ucontext, siginfo, the FXSAVE image) on the thread's stack and resumes
it at the handler; the C library's restorer then calls rt_sigreturn, which takes
the registers and the mask back from the frame.  Where the thread is:

* in a call the server is answering (raise(), kill of itself, an unblock, a
  fault): the frame is built in that call's answer (`Call.finish` is hooked);
* parked in a blocking call that recorded itself as `thread.parked` (nanosleep,
  pause, sigsuspend): the wait is cancelled (`thread.wait_cancel`) and the call
  answers -EINTR with the frame;
* running guest code: thread_suspend, thread_abort (a system call it was making
  starts again after the handler), thread_get_state, the frame, thread_set_state,
  thread_resume, all from the server thread.

Default actions: SIGCHLD, SIGURG, SIGWINCH and SIGCONT are ignored; SIGSTOP,
SIGTSTP, SIGTTIN and SIGTTOU are ignored too (no job control); every other signal
ends the process with status 128 + signo, the parent seeing WIFSIGNALED.
"""

from __future__ import annotations

import dataclasses
import errno
import struct

from ... import mach
from ...errors import KernError
from ...kern.thread import X86FloatState64
from . import procs
from .call import U64
from .server import CURRENT
from .table import syscall

SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGKILL = range(1, 10)
SIGUSR1, SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM = range(10, 16)
SIGCHLD, SIGCONT, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG = 17, 18, 19, 20, 21, 22, 23
SIGWINCH = 28
NSIG = 64
SIG_DFL, SIG_IGN = 0, 1
SA_SIGINFO, SA_ONSTACK, SA_RESTORER = 4, 0x08000000, 0x04000000
SA_RESTART, SA_NODEFER, SA_RESETHAND = 0x10000000, 0x40000000, 0x80000000
SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2
SS_ONSTACK, SS_DISABLE = 1, 2
MINSIGSTKSZ = 2048
SI_USER, SI_TKILL, SI_KERNEL = 0, -6, 0x80
SEGV_MAPERR, SEGV_ACCERR = 1, 2
ILL_ILLOPN, FPE_INTDIV, TRAP_BRKPT = 2, 1, 1
KERN_PROTECTION_FAILURE = 2
EXC_BAD_ACCESS, EXC_BAD_INSTRUCTION, EXC_ARITHMETIC, EXC_BREAKPOINT = 1, 2, 3, 6
FAULT_SIGNAL = {EXC_BAD_ACCESS: SIGSEGV, EXC_BAD_INSTRUCTION: SIGILL,
                EXC_ARITHMETIC: SIGFPE, EXC_BREAKPOINT: SIGTRAP}
IGNORED_BY_DEFAULT = {SIGCHLD, SIGURG, SIGWINCH, SIGCONT, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU}
UNBLOCKABLE = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1))
ALL = (1 << NSIG) - 1
FLOAT_FLAVOR = 5                     # x86_FLOAT_STATE64
THREAD_FLAVOR = 4                    # x86_THREAD_STATE64
TASK_EXIT_TRAP = -100                # normach_task_exit (call.exit_task)

# struct rt_sigframe of x86-64: pretcode, struct ucontext (uc_flags, uc_link, uc_stack,
# uc_mcontext = struct sigcontext, uc_sigmask), struct siginfo; the FXSAVE image above it.
UC_OFF = 8
UC_STACK = UC_OFF + 16
SC_OFF = UC_OFF + 40                  # struct sigcontext: 256 bytes
SC_SIZE = 256
UC_SIGMASK = SC_OFF + SC_SIZE
UC_SIZE = 40 + SC_SIZE + 8
INFO_OFF = UC_OFF + UC_SIZE
FRAME_SIZE = INFO_OFF + 128
FPSTATE_SIZE = 512
SC_REGS = ("r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rdi", "rsi", "rbp",
           "rbx", "rdx", "rax", "rcx", "rsp", "rip", "rflags")
UC_FP_XSTATE = 1
RFLAGS_USER = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x40000   # sigreturn's FIX_EFLAGS
DF, TF = 1 << 10, 1 << 8


def bit(signo: int) -> int:
    return 1 << (signo - 1)


@dataclasses.dataclass
class Action:
    handler: int = SIG_DFL
    flags: int = 0
    restorer: int = 0
    mask: int = 0


class SigState:
    """A process's signal state: its actions and its pending set (the process's;
    each thread has its own pending set as `thread.sig_pending`)."""

    def __init__(self):
        self.actions = [Action() for _ in range(NSIG + 1)]
        self.pending = 0
        self.info: dict = {}          # signo -> siginfo bytes of a pending signal
        self.exit_stub = 0            # the page with a `syscall` that ends the task


def state_of(proc) -> SigState:
    """The signal state of `proc`, made on first use (with the hooks that give a forked
    child its parent's actions and reset the handlers at an execve)."""
    if proc.sig is None:
        proc.sig = SigState()
        proc.extra["raise_signal"] = raise_signal
        proc.extra.setdefault("on_fork", []).append(_on_fork)
        proc.extra.setdefault("on_exec", []).append(_on_exec)
    return proc.sig


def _on_fork(proc, child) -> None:
    """fork: the child has its parent's actions (and exit page), nothing pending."""
    st = state_of(child)
    st.actions = [dataclasses.replace(a) for a in proc.sig.actions]
    st.exit_stub = proc.sig.exit_stub


def _on_exec(proc) -> None:
    """execve: caught signals go back to SIG_DFL (ignored ones stay ignored); the new
    image has no exit page nor alternate stack."""
    st = proc.sig
    st.actions = [Action() if a.handler != SIG_IGN else Action(SIG_IGN) for a in st.actions]
    st.exit_stub = 0
    for t in proc.threads.values():
        t.sig_altstack = (0, SS_DISABLE, 0)


def _tpending(thread) -> int:
    return getattr(thread, "sig_pending", 0)


def _ignored(action: Action, signo: int) -> bool:
    return action.handler == SIG_IGN or (action.handler == SIG_DFL and signo in IGNORED_BY_DEFAULT)


# -- siginfo ---------------------------------------------------------------------------------

def siginfo(signo: int, code: int = SI_USER, pid: int = 0, addr: int | None = None) -> bytes:
    """A 128-byte siginfo_t: si_signo, si_errno, si_code; si_pid and si_uid (kill) or
    si_addr (a fault)."""
    head = struct.pack("<iii4x", signo, 0, code)
    body = struct.pack("<Q", addr & U64) if addr is not None else struct.pack("<iI", pid, 0)
    return (head + body).ljust(128, b"\0")


# -- raising -----------------------------------------------------------------------------------

def raise_signal(proc, signo: int, thread=None, call=None, info: bytes | None = None) -> None:
    """Raise `signo` for `proc` (or for its thread `thread` only).  `call`, if given, is
    the call being answered now (of a thread of `proc` or not): a signal for its thread
    is delivered in its answer.  Conditions: on the server thread."""
    if not 1 <= signo <= NSIG or not proc.alive:
        return
    if call is None:                    # the call whose handler raises it, if any
        call = getattr(CURRENT, "call", None)
    st = state_of(proc)
    action = st.actions[signo]
    if signo != SIGKILL and _ignored(action, signo):
        return
    if signo == SIGKILL:
        _die(proc, SIGKILL, call)
        return
    st.info.setdefault(signo, info or siginfo(signo))
    if thread is not None:
        thread.sig_pending = _tpending(thread) | bit(signo)
    else:
        st.pending |= bit(signo)
    kick(proc, call)


def kick(proc, call=None) -> None:
    """Deliver what is pending and deliverable: to the thread of `call` at its answer,
    to a parked thread now, or to a running thread by rewriting its registers."""
    if proc.sig is None or not proc.alive:
        return
    st = proc.sig
    caller = None
    if call is not None and call.proc is proc and not call.answered:
        caller = call.thread
        if _deliverable(proc, caller):
            _hook(call)

    def wanted(t) -> int:              # the caller takes the shared signals it does not block
        shared = st.pending & caller.sigmask if caller is not None else st.pending
        return (_tpending(t) | shared) & ~t.sigmask
    others = [t for t in proc.threads.values() if not t.exited and t is not caller]
    for t in others:                          # a parked thread first: its wait ends
        parked = getattr(t, "parked", None)
        if parked is not None and not parked.answered and wanted(t):
            _interrupt(parked)
    for t in others:
        if (getattr(t, "parked", None) is None and wanted(t)) and proc.alive:
            _deliver_running(proc, t)


def _deliverable(proc, thread) -> int:
    return (_tpending(thread) | proc.sig.pending) & ~thread.sigmask


def _take(proc, thread) -> int:
    """The lowest deliverable signal of `thread` (removed from its pending set), or 0."""
    st = proc.sig
    mine = _tpending(thread) & ~thread.sigmask
    shared = st.pending & ~thread.sigmask
    ready = mine or shared
    if not ready:
        return 0
    signo = (ready & -ready).bit_length()
    if mine:
        thread.sig_pending = _tpending(thread) & ~bit(signo)
    else:
        st.pending &= ~bit(signo)
    return signo


# -- delivery in an answer ----------------------------------------------------------------

def _hook(call) -> None:
    """Deliver at the answer of `call` (its thread is in it)."""
    if call.__dict__.get("finish") is not None:
        return
    original = call.finish

    def finish(result=None):
        del call.finish                         # back to Call.finish
        if result is not None:
            call.state.rax = result & U64
        _deliver_in_answer(call)
        if not call.answered:
            original(None)
    call.finish = finish


def _deliver_in_answer(call, saved_mask: int | None = None) -> None:
    """Build a frame for the first deliverable signal in call.state (or end the process
    if its action is to die).  The caller answers with call.state."""
    proc, t = call.proc, call.thread
    if proc.sig is None or not proc.alive:
        return
    while True:
        signo = _take(proc, t)
        if not signo:
            return
        action = proc.sig.actions[signo]
        info = proc.sig.info.pop(signo, None) or siginfo(signo)
        if _ignored(action, signo):
            continue
        if action.handler == SIG_DFL:
            _die(proc, signo, call)
            return
        _frame(proc, t, call.state, signo, action, info, call.read, call.write,
               saved_mask)
        return


def _die(proc, signo: int, call=None) -> None:
    """End `proc` by `signo`: its parent sees WIFSIGNALED, the task's status 128+signo."""
    procs.ended(proc, signo)
    if call is not None and call.proc is proc and not call.answered:
        call.__dict__.pop("finish", None)
        if call.nr >= 0:                              # a system call: its `syscall` again
            call.exit_task(128 + signo)
            return
        try:                                          # a fault: the exit page's `syscall`
            s = call.state
            s.rip, s.rax, s.rdi = _exit_stub(proc), TASK_EXIT_TRAP & U64, 128 + signo
        except KernError:
            call.fail(5)                              # KERN_FAILURE: the kernel's status
            return
        call.finish(None)
        return
    if signo != SIGKILL and _exit_by_thread(proc, 128 + signo):
        return
    try:
        mach.task_terminate(proc.task)
    except KernError:
        pass


def _exit_stub(proc) -> int:
    """A page of `syscall` instructions in `proc` (made once): a thread sent there with
    rax = normach_task_exit ends the task.  Raises KernError."""
    st = state_of(proc)
    if not st.exit_stub:
        where = mach.vm_allocate(proc.task, 0, 4096, True)
        mach.vm_write(proc.task, where, b"\x0f\x05" * 8)
        mach.vm_protect(proc.task, where, 4096, False, 5)      # read + execute
        st.exit_stub = where
    return st.exit_stub


def _exit_by_thread(proc, status: int) -> bool:
    """Make a thread of `proc` end its task with `status`: it is stopped and resumed at
    a `syscall` of normach_task_exit in a page of its own.  False if that failed."""
    for t in proc.threads.values():
        if t.exited or not _alive(t.handle):
            continue
        try:
            stub = _exit_stub(proc)
            mach.thread_suspend(t.handle)
            try:
                mach.thread_abort(t.handle)
                s = mach.thread_get_state(t.handle, THREAD_FLAVOR)
                s.rip, s.rax, s.rdi = stub, TASK_EXIT_TRAP & U64, status & 0xFF
                mach.thread_set_state(t.handle, THREAD_FLAVOR, s)
            finally:
                mach.thread_resume(t.handle)
            _cancel_parked(t)
            return True
        except KernError:
            continue
    return False


def _alive(handle) -> bool:
    return handle is not None and handle.port is not None and handle.port.active


# -- the frame ------------------------------------------------------------------------------

def _frame(proc, thread, state, signo: int, action: Action, info: bytes, read, write,
           saved_mask: int | None = None) -> None:
    """Push an rt_sigframe for `signo` below state.rsp and point `state` at the handler.
    Raises OSError(EFAULT) (a stack that cannot take it: the caller kills)."""
    old_mask = thread.sigmask if saved_mask is None else saved_mask
    alt = getattr(thread, "sig_altstack", (0, SS_DISABLE, 0))
    sp = state.rsp
    on_alt = alt[0] < sp <= alt[0] + alt[2]
    if action.flags & SA_ONSTACK and not alt[1] & SS_DISABLE and not on_alt:
        sp = alt[0] + alt[2]
    else:
        sp -= 128                                    # the red zone
    fpstate = (sp - FPSTATE_SIZE) & ~63
    frame = ((fpstate - FRAME_SIZE) & ~15) - 8        # (rsp + 8) % 16 == 0 at entry
    try:
        fx = mach.thread_get_state(thread.handle, FLOAT_FLAVOR)
        fx_bytes = struct.pack("<64Q", *fx.to_words())
    except KernError:
        fx_bytes, fpstate = b"", 0
    regs = struct.pack("<18Q", *[getattr(state, r) & U64 for r in SC_REGS])
    sc = regs + struct.pack("<HHHH", state.cs & 0xFFFF, state.gs & 0xFFFF, state.fs & 0xFFFF, 0x2B)
    sc += struct.pack("<QQQQQ", 0, 14 if signo == SIGSEGV else 0, old_mask & U64,
                      _addr_of(info) if signo == SIGSEGV else 0, fpstate)
    sc = sc.ljust(SC_SIZE, b"\0")
    stack = struct.pack("<QiiQ", alt[0], (SS_ONSTACK if on_alt else 0) | (alt[1] & SS_DISABLE),
                        0, alt[2])
    uc = struct.pack("<QQ", 0, 0) + stack + sc + struct.pack("<Q", old_mask & U64)
    data = struct.pack("<Q", action.restorer) + uc + info
    assert len(data) == FRAME_SIZE
    write(frame, data)
    if fx_bytes:
        write(fpstate, fx_bytes)
    state.rsp = frame
    state.rip = action.handler
    state.rdi = signo
    state.rsi = frame + INFO_OFF
    state.rdx = frame + UC_OFF
    state.rax = 0
    state.rflags &= ~(DF | TF)
    mask = thread.sigmask if saved_mask is None else saved_mask
    mask |= action.mask
    if not action.flags & SA_NODEFER:
        mask |= bit(signo)
    thread.sigmask = mask & ~UNBLOCKABLE
    if action.flags & SA_RESETHAND:
        proc.sig.actions[signo] = Action()


def _addr_of(info: bytes) -> int:
    return struct.unpack_from("<Q", info, 16)[0]


@syscall(15, "rt_sigreturn")
def sys_rt_sigreturn(call):
    frame = call.state.rsp - 8
    try:
        data = call.read(frame, FRAME_SIZE)
    except OSError:
        _die(call.proc, SIGSEGV, call)
        return None
    regs = struct.unpack_from("<18Q", data, SC_OFF)
    s = call.state
    for name, value in zip(SC_REGS, regs):
        setattr(s, name, value)
    s.rflags = (s.rflags & RFLAGS_USER) | 0x202
    fpstate = struct.unpack_from("<Q", data, SC_OFF + 184)[0]
    call.thread.sigmask = struct.unpack_from("<Q", data, UC_SIGMASK)[0] & ~UNBLOCKABLE
    if fpstate:
        try:
            words = struct.unpack("<64Q", call.read(fpstate, FPSTATE_SIZE))
            fx = X86FloatState64.from_words(list(words))
            mach.thread_set_state(call.thread.handle, FLOAT_FLAVOR, fx)
        except (OSError, KernError, ValueError):
            pass
    if call.proc.sig is not None:
        kick(call.proc, call)
    call.finish(None)
    return None


# -- the calls ---------------------------------------------------------------------------------

def _check_size(call, size: int) -> None:
    if size != 8:
        raise OSError(errno.EINVAL, "sigset size")


@syscall(13, "rt_sigaction")
def sys_rt_sigaction(call):
    signo, act, oact, size = call.args[0] & 0xFFFFFFFF, call.args[1], call.args[2], call.args[3]
    _check_size(call, size)
    if not 1 <= signo <= NSIG or (act and signo in (SIGKILL, SIGSTOP)):
        return -errno.EINVAL
    st = state_of(call.proc)
    old = st.actions[signo]
    new = None
    if act:
        handler, flags, restorer, mask = struct.unpack("<4Q", call.read(act, 32))
        new = Action(handler, flags, restorer, mask & ~UNBLOCKABLE)
    if oact:
        call.write(oact, struct.pack("<4Q", old.handler, old.flags, old.restorer, old.mask))
    if new is not None:
        st.actions[signo] = new
        if _ignored(new, signo):                      # a pending one is discarded
            st.pending &= ~bit(signo)
            for t in call.proc.threads.values():
                t.sig_pending = _tpending(t) & ~bit(signo)
    return 0


@syscall(14, "rt_sigprocmask")
def sys_rt_sigprocmask(call):
    how, new, old, size = call.args[0] & 0xFFFFFFFF, call.args[1], call.args[2], call.args[3]
    _check_size(call, size)
    t = call.thread
    value = call.u64(new) if new else None
    if value is not None and how not in (SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK):
        return -errno.EINVAL
    if old:
        call.put_u64(old, t.sigmask)
    if value is not None:
        mask = {SIG_BLOCK: t.sigmask | value, SIG_UNBLOCK: t.sigmask & ~value,
                SIG_SETMASK: value}[how]
        t.sigmask = mask & ~UNBLOCKABLE
        if call.proc.sig is not None:
            kick(call.proc, call)
    return 0


@syscall(127, "rt_sigpending")
def sys_rt_sigpending(call):
    if call.args[1] > 8:
        return -errno.EINVAL
    st = state_of(call.proc)
    pending = (st.pending | _tpending(call.thread)) & call.thread.sigmask
    call.write(call.args[0], struct.pack("<Q", pending)[:call.args[1]])
    return 0


@syscall(131, "sigaltstack")
def sys_sigaltstack(call):
    new, old = call.args[0], call.args[1]
    t = call.thread
    alt = getattr(t, "sig_altstack", (0, SS_DISABLE, 0))
    on_alt = alt[0] < call.state.rsp <= alt[0] + alt[2]
    if new:
        sp, flags, _pad, size = struct.unpack("<QiiQ", call.read(new, 24))
        if on_alt:
            return -errno.EPERM
        if flags & ~(SS_DISABLE | (1 << 31)):
            return -errno.EINVAL
    if old:
        call.write(old, struct.pack("<QiiQ", alt[0], SS_ONSTACK if on_alt else alt[1] & SS_DISABLE,
                                    0, alt[2]))
    if new:
        if flags & SS_DISABLE:
            t.sig_altstack = (0, SS_DISABLE, 0)
        elif size < MINSIGSTKSZ:
            return -errno.ENOMEM
        else:
            t.sig_altstack = (sp, 0, size)
    return 0


def _target(call, pid: int) -> list:
    server = call.server
    with server.lock:
        if pid > 0:
            p = server.pids.get(pid)
            return [p] if p is not None else []
        if pid == 0:
            return [call.proc]
        if pid == -1:
            return [p for p in server.pids.values() if p is not call.proc and p.pid != 1]
        p = server.pids.get(-pid)
        return [p] if p is not None else []


@syscall(62, "kill")
def sys_kill(call):
    pid = call.args[0] - (1 << 64) if call.args[0] >> 63 else call.args[0]
    pid = ((pid + (1 << 31)) % (1 << 32)) - (1 << 31)
    signo = call.args[1] & 0xFFFFFFFF
    if signo > NSIG:
        return -errno.EINVAL
    targets = _target(call, pid)
    if not targets:
        return -errno.ESRCH
    if signo:
        for p in targets:
            raise_signal(p, signo, call=call, info=siginfo(signo, SI_USER, call.proc.pid))
    return 0


def _thread_by_tid(call, tid: int, tgid: int | None = None):
    server = call.server
    with server.lock:
        processes = list(server.pids.values())
    for p in processes:
        if tgid is not None and p.pid != tgid:
            continue
        for t in p.threads.values():
            if t.tid == tid and not t.exited and p.alive:
                return p, t
    return None, None


def _tkill(call, tgid, tid: int, signo: int) -> int:
    if signo > NSIG or tid <= 0:
        return -errno.EINVAL
    p, t = _thread_by_tid(call, tid, tgid)
    if t is None:
        return -errno.ESRCH
    if signo:
        raise_signal(p, signo, thread=t, call=call, info=siginfo(signo, SI_TKILL, call.proc.pid))
    return 0


@syscall(200, "tkill")
def sys_tkill(call):
    return _tkill(call, None, call.args[0] & 0xFFFFFFFF, call.args[1] & 0xFFFFFFFF)


@syscall(234, "tgkill")
def sys_tgkill(call):
    tgid = call.args[0] & 0xFFFFFFFF
    if not tgid or tgid >> 31:
        return -errno.EINVAL
    return _tkill(call, tgid, call.args[1] & 0xFFFFFFFF, call.args[2] & 0xFFFFFFFF)


# -- waiting for a signal ------------------------------------------------------------------------

def _park(call, saved_mask: int | None = None) -> None:
    t = call.thread
    t.parked = call
    t.sig_saved_mask = saved_mask
    t.wait_cancel = None
    kick(call.proc, call)       # something already deliverable ends it at once
    if _deliverable(call.proc, t) and t.parked is call:
        _interrupt(call)


@syscall(34, "pause")
def sys_pause(call):
    state_of(call.proc)
    _park(call)
    return None


@syscall(130, "rt_sigsuspend")
def sys_rt_sigsuspend(call):
    _check_size(call, call.args[1])
    mask = call.u64(call.args[0])
    state_of(call.proc)
    t = call.thread
    saved = t.sigmask
    t.sigmask = mask & ~UNBLOCKABLE
    _park(call, saved)
    return None


def _cancel_parked(t) -> None:
    cancel = getattr(t, "wait_cancel", None)
    t.wait_cancel = None
    t.parked = None
    if cancel is not None:
        cancel()


def _interrupt(call) -> None:
    """End the parked `call` with -EINTR and deliver a signal in its answer."""
    t = call.thread
    saved = getattr(t, "sig_saved_mask", None)
    t.sig_saved_mask = None
    _cancel_parked(t)
    call.__dict__.pop("finish", None)
    call.state.rax = -errno.EINTR & U64
    _deliver_in_answer(call, saved)
    if saved is not None and not call.answered and call.state.rax == -errno.EINTR & U64:
        t.sigmask = saved                   # nothing delivered: sigsuspend's mask goes
    if not call.answered:
        call.finish(None)


# -- a running thread ------------------------------------------------------------------------

def _deliver_running(proc, t) -> None:
    """Deliver to `t`, running guest code (or stopped in the kernel): stop it, take
    its registers, push the frame, and let it go on at the handler."""
    if not _alive(t.handle):
        return
    try:
        mach.thread_suspend(t.handle)
    except KernError:
        return
    die = 0
    try:
        mach.thread_abort(t.handle)
        state = mach.thread_get_state(t.handle, THREAD_FLAVOR)
        signo = _take(proc, t)
        action = proc.sig.actions[signo] if signo else None
        info = proc.sig.info.pop(signo, None) or siginfo(signo)
        if not signo or _ignored(action, signo):
            pass
        elif action.handler == SIG_DFL:
            die = signo
        else:
            task = proc.task

            def read(addr, size):
                return bytes(mach.vm_read(task, addr, size))

            def write(addr, data):
                mach.vm_write(task, addr, bytes(data))
            try:
                _frame(proc, t, state, signo, action, info, read, write)
                mach.thread_set_state(t.handle, THREAD_FLAVOR, state)
            except KernError:
                die = SIGSEGV
    except KernError:
        pass
    finally:
        try:
            mach.thread_resume(t.handle)
        except KernError:
            pass
    if die:
        _die(proc, die)


# -- faults ------------------------------------------------------------------------------------

def fault(call, exc: int, codes: list) -> None:
    """EXC_BAD_ACCESS, EXC_BAD_INSTRUCTION, EXC_ARITHMETIC, EXC_BREAKPOINT of a thread
    of call.proc: its handler runs (the frame's rip is the faulting instruction), or
    the process dies of the signal."""
    signo = FAULT_SIGNAL.get(exc)
    proc, t = call.proc, call.thread
    if signo is None:
        call.fail(5)                                  # KERN_FAILURE
        return
    st = state_of(proc)
    action = st.actions[signo]
    if exc == EXC_BAD_ACCESS:
        code = SEGV_ACCERR if codes and codes[0] == KERN_PROTECTION_FAILURE else SEGV_MAPERR
        info = siginfo(signo, code, addr=codes[1] if len(codes) > 1 else 0)
    else:
        code = {SIGILL: ILL_ILLOPN, SIGFPE: FPE_INTDIV, SIGTRAP: TRAP_BRKPT}[signo]
        info = siginfo(signo, code, addr=call.state.rip)
    if action.handler in (SIG_DFL, SIG_IGN) or t.sigmask & bit(signo):
        _die(proc, signo, call)
        return
    try:
        _frame(proc, t, call.state, signo, action, info, call.read, call.write)
    except OSError:
        _die(proc, SIGSEGV, call)
        return
    call.finish(None)
