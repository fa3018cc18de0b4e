"""Waiting on state, never on the clock: the tests' one polling helper.

A test waits for a condition it can observe (a counter, a queue length, a line
of output, a thread's run state); the timeout only turns a hang into a failure.
"""

from __future__ import annotations

import time


def satisfied(cond, timeout: float = 60.0):
    """Poll `cond()` until it is true or `timeout` seconds pass; returns its last value."""
    end = time.monotonic() + timeout
    while True:
        value = cond()
        if value or time.monotonic() >= end:
            return value
        time.sleep(0.002)


def wait_until(cond, what: str = "the condition", timeout: float = 60.0):
    """Poll `cond()` until it is true (returns its value); fail the test if `timeout`
    seconds pass first."""
    value = satisfied(cond, timeout)
    assert value, f"timed out waiting for {what}"
    return value


def blocked_in(thread, function: str) -> bool:
    """`thread` (a threading.Thread) waits — on a lock or a condition — inside `function`."""
    import sys
    frame = sys._current_frames().get(thread.ident)
    if frame is None or not frame.f_code.co_filename.endswith("threading.py"):
        return False
    while frame is not None:
        if frame.f_code.co_name == function:
            return True
        frame = frame.f_back
    return False
