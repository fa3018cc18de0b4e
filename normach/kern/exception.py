"""Mach exceptions: a fault the kernel cannot resolve becomes a message.

The faulting thread sends `exception_raise` (id 2401) to its own exception
port for that exception type, else to its task's, and waits for the reply
(id 2501) on a reply port only the kernel holds.  A handler may repair memory
or registers before replying; KERN_SUCCESS resumes the thread.  Any other
answer, a handler that dies, or no handler at all terminates the task, and the
reason is kept for `normach run` / `Cluster.wait`.  Message layout:
docs/guest-abi.md.
"""

from __future__ import annotations

import struct

from ..mach_types import MsgType
from ..errors import KernError, KernReturn, code_name

EXCEPTION_RAISE = 2401
EXC_NAMES = {1: "EXC_BAD_ACCESS", 2: "EXC_BAD_INSTRUCTION", 3: "EXC_ARITHMETIC",
             4: "EXC_EMULATION", 5: "EXC_SOFTWARE", 6: "EXC_BREAKPOINT"}
EXC_STATUS = {1: 128 + 11, 2: 128 + 4, 3: 128 + 8, 6: 128 + 5}   # as a shell reports signals
EXC_TYPES_MAX = 9
BEHAVIORS = (1, 2, 3)          # EXCEPTION_DEFAULT, _STATE, _STATE_IDENTITY (all sent as DEFAULT)


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


def _handler_port(thread, exc: int):
    for holder in (thread, thread.task):
        entry = holder.exc_ports.get(exc)
        if entry is not None and entry[0] is not None and getattr(entry[0], "active", False):
            return entry[0]
    return None


def _request(thread, port, reply, exc: int, codes: list):
    from ..ipc.kmsg import Kmsg, PortItem
    from ..ipc.port import ipc_port_copy_send, ipc_port_make_send, ipc_port_make_sonce
    body = [PortItem(ipc_port_make_send(thread.ith_self), MsgType.PORT_SEND),
            PortItem(ipc_port_make_send(thread.task.itk_self), MsgType.PORT_SEND),
            struct.pack(f"<iI{len(codes)}q", exc, len(codes), *[_signed(c) for c in codes])]
    return Kmsg(dest=ipc_port_copy_send(port), dest_type=MsgType.PORT_SEND,
                reply=ipc_port_make_sonce(reply), reply_type=MsgType.PORT_SEND_ONCE,
                id=EXCEPTION_RAISE, body=body)


def _signed(c: int) -> int:
    c &= (1 << 64) - 1
    return c - (1 << 64) if c >> 63 else c


def _reply_code(kmsg) -> int:
    if kmsg.id != EXCEPTION_RAISE + 100:
        return int(KernReturn.KERN_FAILURE)          # e.g. a send-once notification
    for item in kmsg.body:
        if isinstance(item, int):
            return item
        if isinstance(item, (bytes, bytearray)) and len(item) >= 4:
            return struct.unpack_from("<i", item)[0]
    return int(KernReturn.MIG_BAD_ARGUMENTS)


def _await_reply(thread, reply):
    """The handler's answer, or None (the thread died, or thread_abort ended the wait)."""
    while thread.active and not reply.messages and not thread.abort_pending:
        reply.cond.wait(0.05)
    if not reply.messages:
        return None
    from ..ipc.mqueue import ipc_mqueue_dequeue
    return ipc_mqueue_dequeue(reply)


def exception_raise(thread, exc: int, codes: list, cpu=None) -> bool:
    """Deliver an exception for `thread`; True if it may resume, False if it does not
    (its task dies, or the thread was terminated meanwhile: the task goes on).

    Conditions: kernel lock not held (taken here, released while waiting).
    """
    from ..ipc.kmsg import ipc_kmsg_destroy, ipc_kmsg_send_internal
    from ..ipc.port import ipc_port_alloc, ipc_port_destroy
    k = thread.kernel
    with k.lock:
        if not thread.active:
            return False
        port = _handler_port(thread, exc)
        if port is None:
            return _kill(thread, exc, codes, "no handler")
        reply = ipc_port_alloc(k)
        if cpu is not None:
            cpu.mode = "blocked"
            thread.changed.notify_all()
        ipc_kmsg_send_internal(_request(thread, port, reply, exc, codes))
        answer = _await_reply(thread, reply)
        if answer is None and thread.abort_pending and thread.active:
            thread.abort_pending = False          # thread_abort: the instruction runs again
            ipc_port_destroy(reply)
            return True
        code = _reply_code(answer) if answer is not None else int(KernReturn.KERN_ABORTED)
        if answer is not None:
            ipc_kmsg_destroy(answer)
        ipc_port_destroy(reply)
        if not thread.active:
            return False    # the handler (or anyone) terminated the thread: it alone is gone
        if code == KernReturn.KERN_SUCCESS:
            return True
        return _kill(thread, exc, codes, f"handler answered {code_name(code)}")


def _kill(thread, exc: int, codes: list, why: str) -> bool:
    from .task import task_terminate
    task = thread.task
    if task.active:
        task.exit_reason = f"{exc_reason(exc, codes)}: {why}"
        task.exit_status = EXC_STATUS.get(exc, 128 + 6)
        task_terminate(task)
    return False
