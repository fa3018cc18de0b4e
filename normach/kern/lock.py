"""The node kernel lock.

One lock per node guards all of that node's kernel state (ports, spaces, maps,
objects, tasks, threads).  It is never held while guest code runs or while a
thread waits for another node.  Internal routines do not take it; they assert
it is held (`assert kernel.lock.held()`), so the contract in each docstring's
`Conditions:` line is checked, not just written.

Waiting (a receive, a full queue, a suspended thread) uses condition variables
bound to this lock: `kernel.lock.condition()`.
"""

import threading


class KernelLock:
    """A non-reentrant lock that knows its owner, usable by threading.Condition."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None   # thread ident of the holder; guarded by _lock

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        me = threading.get_ident()
        assert self._owner != me, "kernel lock is not reentrant"
        ok = self._lock.acquire(blocking, timeout)
        if ok:
            self._owner = me
        return ok

    def release(self) -> None:
        assert self._owner == threading.get_ident(), "kernel lock released by a non-owner"
        self._owner = None
        self._lock.release()

    __enter__ = acquire

    def __exit__(self, *exc) -> None:
        self.release()

    def held(self) -> bool:
        """True if the calling thread holds the lock."""
        return self._owner == threading.get_ident()

    # threading.Condition protocol
    def _is_owned(self) -> bool:
        return self.held()

    def _release_save(self):
        self.release()

    def _acquire_restore(self, _state) -> None:
        self.acquire()

    def condition(self) -> threading.Condition:
        return threading.Condition(self)

    def __repr__(self) -> str:
        return f"<KernelLock owner={self._owner}>"
