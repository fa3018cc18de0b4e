"""The IPC state a node kernel keeps beside its ports: registry and statistics.

Ports are not owned by any table: a port lives as long as something names it (a
space entry, a message, a kernel object).  The kernel still wants to enumerate
them (for `audit_ipc`, for `normach ps`), so every port and port set registers
itself in a weak set here; dropping the last reference lets it go.

`IPCKernelState` hangs off the kernel as `kernel.ipc` (made by `Kernel.__init__`).
"""

from __future__ import annotations

import itertools
import weakref
from dataclasses import dataclass, field


@dataclass
class IPCStatistics:
    """Counters of one node's IPC activity (guarded by the kernel lock)."""

    ports_allocated: int = 0
    ports_destroyed: int = 0
    messages_sent: int = 0          # accepted by mach_msg send (user sends)
    messages_received: int = 0      # delivered by mach_msg receive
    messages_destroyed: int = 0     # destroyed undelivered (dead port, too large, ...)
    kernel_sends: int = 0           # internal sends: notifications, kernel replies
    kobject_calls: int = 0          # messages handed to the kernel object server
    notifications: int = 0          # notification messages generated

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class IPCKernelState:
    """Per-kernel IPC bookkeeping.

    Fields (all guarded by the kernel lock):
      ports   weak set of every Port created on this node
      psets   weak set of every PortSet created on this node
      stats   IPCStatistics
      stamp   counter giving each enqueued message a node-wide arrival number
              (receiving on a port set takes the oldest message of all members)
    """

    ports: weakref.WeakSet = field(default_factory=weakref.WeakSet)
    psets: weakref.WeakSet = field(default_factory=weakref.WeakSet)
    stats: IPCStatistics = field(default_factory=IPCStatistics)
    stamp: itertools.count = field(default_factory=lambda: itertools.count(1))


def ipc_state(kernel) -> IPCKernelState:
    """The IPC state of `kernel`."""
    return kernel.ipc
