"""Message queues: dequeue, and the waits of receivers and blocked senders.

A port's queue is `port.messages` (a deque).  Waiting releases the kernel lock:
every waiter sleeps on a Condition bound to it (`port.cond`, or `pset.cond` for
a set receiver) and, when woken, re-examines the state from scratch, since
anything may have happened meanwhile.  Whoever changes a queue or a port's
state calls notify_all on the conditions concerned (enqueue, dequeue, death,
moving a receive right, joining a set, raising the queue limit).

A receiver waiting on a port ends with
  a message                       (dequeued, seqno assigned, P6.13)
  MACH_RCV_PORT_DIED              the port died, or its receive right left the
                                  space (D5.17), or the set was destroyed
  MACH_RCV_PORT_CHANGED           the port was moved into a set (P6.16)
  MACH_RCV_TIMED_OUT              the deadline passed (timeout 0 = poll)
  MACH_RCV_INTERRUPTED            thread_abort (a sender: MACH_SEND_INTERRUPTED)
"""

from __future__ import annotations

import time

from ..errors import KernError, KernReturn
from ..kern.thread import aborted, current_thread


class Deadline:
    """When a wait with a Mach timeout (ms) must give up; None = wait forever."""

    def __init__(self, timeout_ms: int | None):
        self.end = None if timeout_ms is None else time.monotonic() + max(timeout_ms, 0) / 1000.0

    def expired(self) -> bool:
        return self.end is not None and time.monotonic() >= self.end

    def wait(self, cond) -> None:
        """Wait on `cond` (lock held) until notified, the deadline, or thread_abort."""
        th = current_thread()
        if th is not None:
            th.waiting_on = cond
        try:
            if self.end is None:
                cond.wait()
            else:
                remaining = self.end - time.monotonic()
                if remaining > 0:
                    cond.wait(remaining)
        finally:
            if th is not None:
                th.waiting_on = None


def ipc_mqueue_full(port) -> bool:
    """True if a user send must wait (P6.12).  For a DIPC proxy: the port's node said
    its queue is full (D5.7).  Conditions: kernel lock held."""
    if port.proxy is not None:
        return port.remote_full
    return len(port.messages) >= port.qlimit


def ipc_mqueue_dequeue(port):
    """Take the oldest message: assigns its seqno, wakes blocked senders.

    Conditions: kernel lock held; queue not empty.
    """
    from .kmsg import ipc_kmsg_unqueue
    kmsg = ipc_kmsg_unqueue(port)
    kmsg.seqno = port.seqno
    port.seqno += 1
    port.cond.notify_all()
    if port.remote_waiters and len(port.messages) < port.qlimit:
        port.kernel.remote.queue_space(port)          # D5.7: wake senders on other nodes
    return kmsg


def _port_status(space, port):
    """Why a receiver on `port` must stop waiting, or None."""
    if not port.active or port.receiver is not space:
        return KernReturn.MACH_RCV_PORT_DIED
    if port.pset is not None:
        return KernReturn.MACH_RCV_PORT_CHANGED
    return None


def ipc_mqueue_receive_port(space, port, deadline: Deadline):
    """Receive from a port (not in a set).  Returns: the dequeued Kmsg.

    Conditions: kernel lock held (released while waiting).
    Raises: MACH_RCV_PORT_DIED, MACH_RCV_PORT_CHANGED, MACH_RCV_TIMED_OUT.
    """
    while True:
        status = _port_status(space, port)
        if status is not None:
            raise KernError(status)
        if port.messages:
            return ipc_mqueue_dequeue(port)
        if deadline.expired():
            raise KernError(KernReturn.MACH_RCV_TIMED_OUT)
        if aborted():
            raise KernError(KernReturn.MACH_RCV_INTERRUPTED)
        deadline.wait(port.cond)


def ipc_mqueue_receive_set(space, pset, deadline: Deadline):
    """Receive the oldest message of any member of a set.

    Returns: (member Port, Kmsg).
    Conditions: kernel lock held (released while waiting).
    Raises: MACH_RCV_PORT_DIED (set destroyed or space dead), MACH_RCV_TIMED_OUT.
    """
    while True:
        if not pset.active or not space.active:
            raise KernError(KernReturn.MACH_RCV_PORT_DIED)
        port = pset.oldest_member()
        if port is not None:
            return port, ipc_mqueue_dequeue(port)
        if deadline.expired():
            raise KernError(KernReturn.MACH_RCV_TIMED_OUT)
        if aborted():
            raise KernError(KernReturn.MACH_RCV_INTERRUPTED)
        deadline.wait(pset.cond)


def ipc_mqueue_wait_send(port, deadline: Deadline) -> None:
    """Wait once for room on a full queue (or the port's death).

    The caller re-validates its whole send afterwards.
    Conditions: kernel lock held (released while waiting).
    Raises: MACH_SEND_TIMED_OUT if the deadline has passed, MACH_SEND_INTERRUPTED.
    """
    if deadline.expired():
        raise KernError(KernReturn.MACH_SEND_TIMED_OUT)
    if aborted():
        raise KernError(KernReturn.MACH_SEND_INTERRUPTED)
    deadline.wait(port.cond)
