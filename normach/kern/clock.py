"""Clocks: the time a node keeps, as Mach's clock service gives it.

Each node has two clocks, as OSF MK has: SYSTEM_CLOCK, the time since the node
started, monotonic (it never steps back; the host's monotonic clock), and
CALENDAR_CLOCK, the time of day (the host's clock).  Across nodes only calendar
times compare: each node's system clock starts at its own boot, and calendar
clocks agree as far as the hosts' clocks do (on one machine, exactly).

    host_get_time(host) -> (seconds, microseconds)          the calendar clock
    host_get_clock_service(host, clock_id) -> clock port    (a send right)
    clock_get_time(clock) -> (seconds, nanoseconds)
    clock_sleep(clock, TIME_ABSOLUTE | TIME_RELATIVE, seconds, nanoseconds)
        -> (seconds, nanoseconds) when it woke; the thread waits with the kernel lock
        released, and thread_abort ends the wait (KERN_ABORTED).

In OSF MK clock_sleep is a trap; here it is a kernel call like the others.
"""

from __future__ import annotations

import time

from ..errors import KernError, KernReturn

SYSTEM_CLOCK, CALENDAR_CLOCK = 0, 1
TIME_ABSOLUTE, TIME_RELATIVE = 0, 1
NSEC = 1_000_000_000


class Clock:
    """One clock of a node.  Fields fixed after init: kernel, clock_id, port, origin."""

    def __init__(self, kernel, clock_id: int):
        from ..ipc.port import ipc_kobject_alloc
        self.kernel = kernel
        self.clock_id = clock_id
        self.origin = time.monotonic_ns()      # the system clock's zero: the node's start
        self.port = ipc_kobject_alloc(kernel, self, "clock")
        self.wakeups = kernel.lock.condition()  # nothing notifies it: sleepers time out

    def now_ns(self) -> int:
        if self.clock_id == SYSTEM_CLOCK:
            return time.monotonic_ns() - self.origin
        return time.time_ns()

    def __repr__(self) -> str:
        kind = "system" if self.clock_id == SYSTEM_CLOCK else "calendar"
        return f"<Clock {kind} node={self.kernel.node}>"


def host_get_time(host) -> tuple[int, int]:
    """The calendar clock as (seconds, microseconds)."""
    ns = time.time_ns()
    return ns // NSEC, (ns % NSEC) // 1000


def host_get_clock_service(host, clock_id: int):
    """A send right to the clock `clock_id` of the host's node.
    Raises: KERN_INVALID_VALUE (no such clock)."""
    from ..ipc.port import ipc_port_make_send
    clocks = host.kernel.clocks
    if type(clock_id) is not int or clock_id not in clocks:
        raise KernError(KernReturn.KERN_INVALID_VALUE, f"no clock {clock_id}")
    return ipc_port_make_send(clocks[clock_id].port)


def clock_get_time(clock: Clock) -> tuple[int, int]:
    """(seconds, nanoseconds) of `clock`."""
    ns = clock.now_ns()
    return ns // NSEC, ns % NSEC


def clock_sleep(clock: Clock, sleep_type: int, seconds: int, nanoseconds: int):
    """Wait until `clock` reads the given time (TIME_ABSOLUTE) or that much later
    (TIME_RELATIVE).  Returns: the time it woke.
    Conditions: kernel lock held (released while waiting).
    Raises: KERN_INVALID_VALUE (a bad type or time), KERN_ABORTED (thread_abort)."""
    from .thread import aborted, current_thread
    if not all(type(v) is int for v in (sleep_type, seconds, nanoseconds)) \
            or sleep_type not in (TIME_ABSOLUTE, TIME_RELATIVE) \
            or not (0 <= nanoseconds < NSEC) or not (0 <= seconds < 1 << 40):
        raise KernError(KernReturn.KERN_INVALID_VALUE, "clock_sleep: type or time")
    until = seconds * NSEC + nanoseconds + (clock.now_ns() if sleep_type == TIME_RELATIVE else 0)
    th = current_thread()
    if th is not None:
        th.waiting_on = clock.wakeups           # thread_abort wakes it
    try:
        while (left := until - clock.now_ns()) > 0:
            if aborted():
                raise KernError(KernReturn.KERN_ABORTED, "clock_sleep: thread_abort")
            clock.wakeups.wait(min(left / NSEC, 0.05))
    finally:
        if th is not None:
            th.waiting_on = None
    return clock_get_time(clock)
