"""Helpers shared by the transport tests."""

import time

from normach.transport.messages import echo_reply


def wait_until(predicate, timeout=5.0):
    """Poll `predicate` until it is true or `timeout` passes.  Returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.01)


def echo_handler(sender, msg):
    """Answers echo with the same data."""
    return echo_reply(msg.data)
