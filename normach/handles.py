"""Handles: the rights a Python caller holds.

A Python program is outside every task, so the rights it holds are handles: a
`Port` handle owns one right (send, send-once or receive) to a port, counted by
the kernel like a right in a space.  `Task`, `Thread` and `Host` are send-right
handles to kernel object ports.  `handle.node` is the node of the object behind
it.  A handle whose right was moved away (passed with a MOVE_* disposition) is
spent; using it again gives MACH_SEND_INVALID_RIGHT.

A handle that is dropped without `deallocate()` gives its right back as a
garbage-collected space would: its finalizer queues the right on its kernel
(`kernel.orphaned_rights`), and the next call into that kernel releases it
(`release_orphans`).  The finalizer itself takes no lock: it may run in any
thread, at any moment, even while that thread holds the kernel lock.
"""

from __future__ import annotations

import collections  # noqa: F401  (the Counter type of kernel.handle_rights)
import weakref

from .mach_types import MsgType


def external_rights(kernel) -> collections.Counter:
    """Counter {(port, received type): n} of rights held by handles on `kernel`."""
    return kernel.handle_rights


class Port:
    """A right to a port held by the Python caller.

    Fields: port (the kernel Port; None once spent), right (MsgType.PORT_SEND,
    PORT_SEND_ONCE or PORT_RECEIVE).
    """

    def __init__(self, port, right: int = MsgType.PORT_SEND):
        self.port = port
        self.right = int(right)
        external_rights(port.kernel)[(port, self.right)] += 1
        self._finalizer = weakref.finalize(self, _orphaned, port.kernel, port, self.right)
        self._finalizer.atexit = False

    @property
    def node(self) -> int:
        """The node of the object behind the right (where its receive right is)."""
        return self.port.location_hint() if self.port is not None else -1

    @property
    def spent(self) -> bool:
        return self.port is None

    def take(self):
        """Give the right to the kernel (a MOVE disposition); the handle is spent."""
        port, self.port = self.port, None
        self._finalizer.detach()
        c = external_rights(port.kernel)
        c[(port, self.right)] -= 1
        if not c[(port, self.right)]:
            del c[(port, self.right)]
        return port

    def deallocate(self) -> None:
        """Drop the right (mach_port_deallocate for a handle)."""
        from .ipc.kmsg import ipc_object_destroy
        if self.port is None:
            return
        with self.port.kernel.lock:
            right = self.right
            ipc_object_destroy(self.take(), right)

    def __repr__(self) -> str:
        kind = {MsgType.PORT_SEND: "send", MsgType.PORT_SEND_ONCE: "send-once",
                MsgType.PORT_RECEIVE: "receive"}.get(self.right, str(self.right))
        return f"<{type(self).__name__} {kind} {self.port!r}>"


def _orphaned(kernel, port, right: int) -> None:
    """A handle holding a right died without giving it back: queue it (no lock here)."""
    kernel.orphaned_rights.append((port, right))


def release_orphans(kernel) -> None:
    """Release the rights of handles that were dropped.  Conditions: kernel lock held."""
    from .ipc.kmsg import ipc_object_destroy
    assert kernel.lock.held()
    queue = kernel.orphaned_rights
    while queue:
        try:
            port, right = queue.popleft()
        except IndexError:
            return
        c = kernel.handle_rights
        c[(port, right)] -= 1
        assert c[(port, right)] >= 0, f"an orphaned right no handle held: {port!r}"
        if not c[(port, right)]:
            del c[(port, right)]
        ipc_object_destroy(port, right)


class Task(Port):
    """A send right to a task's kernel port."""


class Thread(Port):
    """A send right to a thread's kernel port."""


class Host(Port):
    """A send right to a host (or host_priv) port."""


HANDLE_CLASSES = {"task": Task, "thread": Thread, "host": Host, "host_priv": Host}


def handle_for(port, right: int = MsgType.PORT_SEND) -> Port:
    """The handle class matching the port's kernel object kind."""
    cls = HANDLE_CLASSES.get(port.kotype, Port) if right == MsgType.PORT_SEND else Port
    return cls(port, right)
