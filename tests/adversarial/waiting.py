"""Waiting on state, never on the clock: the adversarial tests' one polling helper."""

from __future__ import annotations

import time


def wait_until(cond, what: str = "the condition", timeout: float = 60.0) -> None:
    """Poll `cond()` until it is true; fail the test if `timeout` seconds pass first."""
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.002)
