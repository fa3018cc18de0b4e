"""Mach exceptions: a fault the kernel cannot resolve becomes a message.

The faulting thread sends a message to its own exception port for that
exception type, else to its task's, and waits for the reply on a reply port
only the kernel holds.  The port's behavior, chosen when it was set, says which
message: `exception_raise` (2401: the thread and task ports, the exception and
its codes), `exception_raise_state` (2402: the exception, its codes and the
thread's registers of the port's flavor) or `exception_raise_state_identity`
(2403: both).  A handler may repair memory or registers before replying; the
reply to a state message carries the registers the thread resumes with.
KERN_SUCCESS resumes the thread.  Any other answer, a handler that dies, or no
handler at all terminates the task, and the reason is kept for `normach run` /
`Cluster.wait`.  Message layout: docs/guest-abi.md.

A Linux system call (a `syscall` whose number is below LINUX_SYSCALL_MAX) is
the exception EXC_SYSCALL, raised from the trap path (`syscall_raise`), as xnu
raises it for the system calls of a task it does not serve itself: the Unix
server (servers/unix) is the handler of its processes, so their system calls
follow them across nodes as their exception port does.  With no handler the
call returns -ENOSYS.
"""

from __future__ import annotations

import struct

from ..mach_types import MsgType
from ..errors import KernError, KernReturn, code_name

EXCEPTION_RAISE = 2401
EXCEPTION_RAISE_STATE = 2402
EXCEPTION_RAISE_STATE_IDENTITY = 2403
EXCEPTION_DEFAULT, EXCEPTION_STATE, EXCEPTION_STATE_IDENTITY = 1, 2, 3
EXC_SYSCALL = 7
# rcx of a system call run again after thread_abort ended its wait (a `syscall` leaves rcx
# as it was, and Linux code never expects it kept): a handler that served the call and
# whose answer was lost answers the same again instead of running it twice.
SYSCALL_RESTARTED = 0x7265_7374_6172_7465
ENOSYS = 38
_REQUEST_ID = {EXCEPTION_DEFAULT: EXCEPTION_RAISE, EXCEPTION_STATE: EXCEPTION_RAISE_STATE,
               EXCEPTION_STATE_IDENTITY: EXCEPTION_RAISE_STATE_IDENTITY}
EXC_NAMES = {1: "EXC_BAD_ACCESS", 2: "EXC_BAD_INSTRUCTION", 3: "EXC_ARITHMETIC",
             4: "EXC_EMULATION", 5: "EXC_SOFTWARE", 6: "EXC_BREAKPOINT", 7: "EXC_SYSCALL"}
EXC_STATUS = {1: 128 + 11, 2: 128 + 4, 3: 128 + 8, 6: 128 + 5}   # as a shell reports signals
EXC_TYPES_MAX = 9
BEHAVIORS = (EXCEPTION_DEFAULT, EXCEPTION_STATE, EXCEPTION_STATE_IDENTITY)


def exc_reason(exc: int, codes: list) -> str:
    name = EXC_NAMES.get(exc, f"exception {exc}")
    if exc == 1 and len(codes) >= 2:
        return f"{name} ({code_name(codes[0])}) at {codes[1]:#x}"
    if len(codes) >= 2:
        return f"{name} (code {codes[0]}) at rip {codes[1]:#x}"
    return name


def set_exception_ports(holder, mask: int, port, behavior: int, flavor: int) -> None:
    """Install `port` (a send right the kernel holds, consumed) for each type in `mask`.

    Raises: KERN_INVALID_ARGUMENT for a mask outside exception types 1..9.
    """
    from ..ipc.port import ipc_port_copy_send, ipc_port_release_send
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (mask, behavior, flavor))
    if not ints or behavior not in BEHAVIORS or not 0 <= flavor < 1 << 32:
        ipc_port_release_send(port)
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, "bad exception behavior or flavor")
    if mask & ~(((1 << (EXC_TYPES_MAX + 1)) - 1) & ~1) or mask < 0:
        ipc_port_release_send(port)
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"exception mask {mask:#x}")
    for exc in range(1, EXC_TYPES_MAX + 1):
        if mask & (1 << exc):
            old = holder.exc_ports.pop(exc, None)
            if port is not None:
                holder.exc_ports[exc] = (ipc_port_copy_send(port), behavior, flavor)
            if old is not None:
                ipc_port_release_send(old[0])
    ipc_port_release_send(port)


def task_set_exception_ports(task, mask, port, behavior, flavor) -> None:
    if not task.active:
        from ..ipc.port import ipc_port_release_send
        ipc_port_release_send(port)
        raise KernError(KernReturn.KERN_FAILURE, "task is terminated")
    set_exception_ports(task, mask, port, behavior, flavor)


def thread_set_exception_ports(thread, mask, port, behavior, flavor) -> None:
    if not thread.active:
        from ..ipc.port import ipc_port_release_send
        ipc_port_release_send(port)
        raise KernError(KernReturn.KERN_TERMINATED, "thread is terminated")
    set_exception_ports(thread, mask, port, behavior, flavor)


def _handler(thread, exc: int):
    """(port, behavior, flavor) of the exception port that takes `exc`, or None."""
    for holder in (thread, thread.task):
        entry = holder.exc_ports.get(exc)
        if entry is not None and entry[0] is not None and getattr(entry[0], "active", False):
            return entry
    return None


def _state_words(thread, flavor: int) -> list | None:
    """The thread's registers of `flavor` as words (thread.state is current), or None
    for a flavor the kernel does not have (the message then carries none)."""
    state = thread.state.get(flavor)
    return None if state is None else list(state.to_words())


def _request(thread, handler, reply, exc: int, codes: list):
    """The request for the behavior of `handler` = (port, behavior, flavor)."""
    from ..ipc.kmsg import Kmsg, PortItem
    from ..ipc.port import ipc_port_copy_send, ipc_port_make_send, ipc_port_make_sonce
    port, behavior, flavor = handler
    body = []
    if behavior != EXCEPTION_STATE:
        body += [PortItem(ipc_port_make_send(thread.ith_self), MsgType.PORT_SEND),
                 PortItem(ipc_port_make_send(thread.task.itk_self), MsgType.PORT_SEND)]
    data = struct.pack(f"<iI{len(codes)}q", exc, len(codes), *[_signed(c) for c in codes])
    if behavior != EXCEPTION_DEFAULT:
        words = _state_words(thread, flavor) or []
        data += struct.pack(f"<iI{len(words)}Q", flavor, 2 * len(words), *words)
    body.append(data)
    return Kmsg(dest=ipc_port_copy_send(port), dest_type=MsgType.PORT_SEND,
                reply=ipc_port_make_sonce(reply), reply_type=MsgType.PORT_SEND_ONCE,
                id=_REQUEST_ID[behavior], body=body)


def _signed(c: int) -> int:
    c &= (1 << 64) - 1
    return c - (1 << 64) if c >> 63 else c


def _reply(kmsg, request_id: int):
    """(code, new state words or None) of the handler's answer.  A reply to a state
    message is RetCode, flavor, count (32-bit units), the state."""
    if kmsg.id != request_id + 100:
        return int(KernReturn.KERN_FAILURE), None        # e.g. a send-once notification
    data = b"".join(bytes(i) for i in kmsg.body if isinstance(i, (bytes, bytearray)))
    ints = [i for i in kmsg.body if isinstance(i, int) and not isinstance(i, bool)]
    if len(data) < 4:
        return (ints[0] if ints else int(KernReturn.MIG_BAD_ARGUMENTS)), None
    code = struct.unpack_from("<i", data)[0]
    if request_id == EXCEPTION_RAISE or code != KernReturn.KERN_SUCCESS:
        return code, None
    if len(data) < 12:
        return int(KernReturn.MIG_BAD_ARGUMENTS), None
    _flavor, count = struct.unpack_from("<iI", data, 4)
    if count % 2 or len(data) != 12 + 4 * count:
        return int(KernReturn.MIG_BAD_ARGUMENTS), None
    return code, list(struct.unpack_from(f"<{count // 2}Q", data, 12))


def _install_state(thread, flavor: int, words: list, cpu) -> bool:
    """Give the thread the registers a handler answered with; False if they are not a
    whole state of `flavor` (the handler's fault: the task dies)."""
    from .thread import STATE_CLASSES
    cls = STATE_CLASSES.get(flavor)
    if cls is None or len(words) != len(cls().to_words()):
        return False
    try:
        new = cls.from_words(words)
    except (KernError, ValueError, TypeError):
        return False
    thread.state[flavor] = new
    if cpu is not None:
        cpu.load_state(thread)
    return True


def _await_reply(thread, reply):
    """The handler's answer, or None (the thread died, or thread_abort ended the wait).
    thread_abort wakes the wait (waiting_on); a terminated thread's wait ends at the next
    tick, so that a handler that terminates the thread and then replies finds its reply
    port (guest/tests/exc_terminate_thread.c)."""
    thread.waiting_on = reply.cond
    try:
        while thread.active and not reply.messages and not thread.abort_pending:
            reply.cond.wait(0.05)
    finally:
        thread.waiting_on = None
    if not reply.messages:
        return None
    from ..ipc.mqueue import ipc_mqueue_dequeue
    return ipc_mqueue_dequeue(reply)


def _raise(thread, handler, exc: int, codes: list, cpu):
    """Send the exception to `handler` and wait: "resume", "again" (thread_abort ended
    the wait: the instruction runs again), "dead" (the thread was terminated) or the
    reason the task must die.  Conditions: kernel lock held (released while waiting);
    thread.state current."""
    from ..ipc.kmsg import ipc_kmsg_destroy, ipc_kmsg_send_internal
    from ..ipc.port import ipc_port_alloc, ipc_port_destroy
    reply = ipc_port_alloc(thread.kernel)
    thread.kernel.reply_ports.add(reply)          # held by this wait (audits count it)
    request = _request(thread, handler, reply, exc, codes)
    request_id = request.id
    ipc_kmsg_send_internal(request)
    answer = _await_reply(thread, reply)
    try:
        if answer is None and thread.abort_pending and thread.active:
            thread.abort_pending = False
            return "again"
        code, words = _reply(answer, request_id) if answer is not None \
            else (int(KernReturn.KERN_ABORTED), None)
    finally:
        if answer is not None:
            ipc_kmsg_destroy(answer)
        thread.kernel.reply_ports.discard(reply)
        ipc_port_destroy(reply)
    if not thread.active:
        return "dead"       # the handler (or anyone) terminated the thread: it alone is gone
    if code != KernReturn.KERN_SUCCESS:
        return f"handler answered {code_name(code)}"
    if words is not None and not _install_state(thread, handler[2], words, cpu):
        return "handler answered a malformed state"
    return "resume"


def exception_raise(thread, exc: int, codes: list, cpu=None) -> bool:
    """Deliver an exception for `thread`; True if it may resume, False if it does not
    (its task dies, or the thread was terminated meanwhile: the task goes on).

    Conditions: kernel lock not held (taken here, released while waiting).
    """
    with thread.kernel.lock:
        if not thread.active:
            return False
        handler = _handler(thread, exc)
        if handler is None:
            return _kill(thread, exc, codes, "no handler")
        if cpu is not None:
            cpu.mode = "blocked"
            thread.changed.notify_all()
        outcome = _raise(thread, handler, exc, codes, cpu)
        if outcome in ("resume", "again"):
            return True
        if outcome == "dead":
            return False
        return _kill(thread, exc, codes, outcome)


def syscall_raise(thread, number: int):
    """A Linux system call of `thread` (from the trap path, its registers in its CPU):
    EXC_SYSCALL to its handler, codes [number, rip].  Returns the value for rax, or
    None when the thread resumes with registers the handler gave (a state behavior)
    or set (thread_set_state), or runs the call again (thread_abort: rip goes back to
    the `syscall`, as Linux restarts a call).
    Conditions: kernel lock held (released while waiting)."""
    from .thread import X86ThreadState64
    handler = _handler(thread, EXC_SYSCALL)
    if handler is None:
        return -ENOSYS
    cpu = thread.cpu
    if cpu is not None:
        cpu.save_state(thread)
    ts = thread.state[X86ThreadState64.FLAVOR]
    ts.rip = (ts.rip + 2) & ((1 << 64) - 1)   # the hook sees rip at the `syscall`: the
    # handler sees (and answers) the registers after it, as Linux's pt_regs are
    outcome = _raise(thread, handler, EXC_SYSCALL, [number, ts.rip], cpu)
    if outcome == "again":
        ts = thread.state[X86ThreadState64.FLAVOR]
        ts.rip, ts.rax = (ts.rip - 2) & ((1 << 64) - 1), number
        ts.rcx = SYSCALL_RESTARTED    # the handler may have served it: it answers it again
        if cpu is not None:
            cpu.load_state(thread)
        return None
    if outcome in ("resume", "dead"):
        return None
    _kill(thread, EXC_SYSCALL, [number, ts.rip], outcome)
    return None


def _kill(thread, exc: int, codes: list, why: str) -> bool:
    from .task import task_terminate
    task = thread.task
    if task.active:
        task.exit_reason = f"{exc_reason(exc, codes)}: {why}"
        task.exit_status = EXC_STATUS.get(exc, 128 + 6)
        task_terminate(task)
    return False
