"""The system call table of the Unix server: Linux's numbers, each to its handler.

A handler is `fn(call) -> int | None`: the value is the call's result (a
negative errno is an error, as the Linux ABI returns it in rax); None means the
handler answers later (`call.finish`), as a read of an empty pipe does.  Each
area of the server (memory, files, processes ...) registers its calls with
`@syscall(number, name)`.  A number with no handler answers -ENOSYS, logged once
per number.
"""

from __future__ import annotations

import errno
import logging

log = logging.getLogger("normach.unix")

SYSCALLS: dict = {}       # number -> (name, handler)
_UNKNOWN_SEEN: set = set()


def syscall(number: int, name: str):
    def register(fn):
        assert number not in SYSCALLS, f"system call {number} registered twice"
        SYSCALLS[number] = (name, fn)
        return fn
    return register


def unknown(call) -> int:
    """-ENOSYS for a call the server does not emulate, logged once per number."""
    if call.nr not in _UNKNOWN_SEEN:
        _UNKNOWN_SEEN.add(call.nr)
        log.info("unix: system call %d not emulated (-ENOSYS)", call.nr)
    return -errno.ENOSYS


def name_of(number: int) -> str:
    entry = SYSCALLS.get(number)
    return entry[0] if entry else f"syscall_{number}"
