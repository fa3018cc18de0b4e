"""Time: the clocks (clock_gettime, gettimeofday, time, clock_getres) and sleeps
(nanosleep, clock_nanosleep), which the server answers when they are due
(timers.py), the thread waiting meanwhile as in any blocking call.
"""

from __future__ import annotations

import errno
import struct
import time

from .table import syscall

CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID = 0, 1, 2, 3
CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME = 4, 5, 6, 7
TIMER_ABSTIME = 1
NSEC = 1_000_000_000


def now(clock: int, call=None) -> float:
    """Seconds on `clock`.  Raises OSError(EINVAL)."""
    if clock in (CLOCK_REALTIME, CLOCK_REALTIME_COARSE):
        return time.time()
    if clock in (CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME):
        return time.monotonic()
    if clock in (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID) and call is not None:
        return _cpu_seconds(call)
    raise OSError(errno.EINVAL, f"clock {clock}")


def _cpu_seconds(call) -> float:
    """The task's user + system time (task_info TASK_BASIC_INFO, Mach's accounting)."""
    from ... import mach
    try:
        info = mach.task_info(call.task, 5)          # TASK_BASIC_INFO_64
        u, s = getattr(info, "user_time", (0, 0)), getattr(info, "system_time", (0, 0))
        return u[0] + u[1] / 1e6 + s[0] + s[1] / 1e6
    except Exception:                               # noqa: BLE001 - a clock never fails
        return time.monotonic()


def timespec(seconds: float) -> bytes:
    ns = int(seconds * NSEC)
    return struct.pack("<qq", ns // NSEC, ns % NSEC)


def read_timespec(call, addr: int) -> float:
    """Raises OSError(EFAULT, EINVAL)."""
    sec, nsec = struct.unpack("<qq", call.read(addr, 16))
    if sec < 0 or not 0 <= nsec < NSEC:
        raise OSError(errno.EINVAL, "timespec")
    return sec + nsec / NSEC


@syscall(228, "clock_gettime")
def sys_clock_gettime(call):
    call.write(call.args[1], timespec(now(call.args[0] & 0xFFFFFFFF, call)))
    return 0


@syscall(229, "clock_getres")
def sys_clock_getres(call):
    now(call.args[0] & 0xFFFFFFFF, call)
    if call.args[1]:
        call.write(call.args[1], struct.pack("<qq", 0, 1))
    return 0


@syscall(96, "gettimeofday")
def sys_gettimeofday(call):
    if call.args[0]:
        us = int(time.time() * 1e6)
        call.write(call.args[0], struct.pack("<qq", us // 1_000_000, us % 1_000_000))
    if call.args[1]:
        call.write(call.args[1], struct.pack("<ii", 0, 0))
    return 0


@syscall(201, "time")
def sys_time(call):
    t = int(time.time())
    if call.args[0]:
        call.put_u64(call.args[0], t)
    return t


def sleep(call, seconds: float, result: int = 0) -> None:
    """Answer `call` with `result` in `seconds` (the thread waits meanwhile, parked:
    a signal ends the wait with -EINTR, signals.py)."""
    thread = call.thread

    def due():
        if getattr(thread, "parked", None) is call:
            thread.parked = thread.wait_cancel = None
        call.finish(result)
    cell = call.server.timers.after(seconds, due)
    thread.wait_cancel = lambda: call.server.timers.cancel(cell)
    thread.parked = call


@syscall(35, "nanosleep")
def sys_nanosleep(call):
    sleep(call, read_timespec(call, call.args[0]))
    return None


@syscall(230, "clock_nanosleep")
def sys_clock_nanosleep(call):
    clock, flags, req = call.args[0] & 0xFFFFFFFF, call.args[1], call.args[2]
    try:
        t = read_timespec(call, req)
        base = now(clock, call)
    except OSError as e:
        return -e.errno
    sleep(call, t - base if flags & TIMER_ABSTIME else t)
    return None
