"""A node's memory budget: what guests may make the node hold, beyond its frames.

A node's physical memory is its frame pool (vm/page.py), a fixed size.  But a
Python kernel holds guests' data in other places too, and each of them grew
without bound before there was a budget: pages paged out to the default pager
(one guest touching 512 MiB took its node process to 585 MiB), pages other
nodes gave back to an XMM manager, a CPU per thread (unicorn: ~3 MiB resident
each), message text queued on ports.  The budget is the node's memory limit
(`--memory`, default a quarter of the host's RAM) less the pool; every such
holding is charged to it, under the kernel lock, and given back when it goes.

What happens at the limit is what a Mach kernel does when memory runs short:
  - pageout stops: a page that would go to the default pager stays resident,
    and when no frame can be freed the fault fails with KERN_RESOURCE_SHORTAGE
    (the guest sees EXC_BAD_ACCESS with that code);
  - thread_create and task_create answer KERN_RESOURCE_SHORTAGE;
  - a send that would queue more text answers MACH_SEND_NO_BUFFER.
Data a node owes to others (a written page a node gives back, a page pushed
to it) is never refused: refusing it would lose it.  It is charged even past
the limit (`force`), and the limit then holds back everything else until it
drains.  So a node never asks the host for more than its limit plus what it
must keep, and guests meet Mach errors, never the host's OOM killer.
"""

from __future__ import annotations

import collections
import os

from .. import param
from ..errors import KernError, KernReturn


# What the budget is charged for (its kinds, as `used` and `refused` name them).
TASKS = "tasks"                   # a task's map, space and bookkeeping
THREADS = "threads"               # a thread's CPU
NAMES = "port names"              # entries of port spaces (a name holds a right, often a port)
QUEUED = "queued messages"        # messages waiting on ports
STORED = "stored pages"           # pages held outside the frame pool (paged out, given back)


def host_memory_bytes() -> int:
    """The host's physical memory (0 if unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def default_limit() -> int:
    """A node's memory limit when none is given: a share of the host's RAM."""
    host = host_memory_bytes()
    return host // param.NODE_MEMORY_SHARE if host else param.NODE_MEMORY_FALLBACK


class NodeMemory:
    """The budget of one node.

    Fields (kernel lock): limit (bytes the node may hold for guests, its frame pool
    included), pool (the frame pool's bytes), used {kind: bytes charged}, refused
    {kind: charges refused}.
    """

    def __init__(self, limit: int, pool: int):
        self.limit = max(int(limit), pool)
        self.pool = pool
        self.used: collections.Counter = collections.Counter()
        self.refused: collections.Counter = collections.Counter()

    @property
    def free(self) -> int:
        """Bytes that may still be charged."""
        return self.limit - self.pool - sum(self.used.values())

    def charge(self, kind: str, nbytes: int, force: bool = False) -> bool:
        """Charge `nbytes` for `kind` if the budget has room (always, with `force`).
        Returns: whether it was charged."""
        if not force and nbytes > self.free:
            self.refused[kind] += 1
            return False
        self.used[kind] += nbytes
        return True

    def must_charge(self, kind: str, nbytes: int) -> None:
        """Charge or raise KERN_RESOURCE_SHORTAGE."""
        if not self.charge(kind, nbytes):
            raise KernError(KernReturn.KERN_RESOURCE_SHORTAGE,
                            f"node memory limit: {kind} ({self.limit >> 20} MiB in all)")

    def credit(self, kind: str, nbytes: int) -> None:
        """Give back what was charged for `kind`."""
        self.used[kind] -= nbytes
        assert self.used[kind] >= 0, f"memory budget: {kind} credited more than charged"
        if not self.used[kind]:
            del self.used[kind]

    def stats(self) -> dict:
        return {"limit": self.limit, "pool": self.pool, "used": dict(self.used),
                "free": self.free, "refused": dict(self.refused)}

    def __repr__(self) -> str:
        return (f"<NodeMemory limit={self.limit >> 20} MiB pool={self.pool >> 20} MiB "
                f"used={dict(self.used)} refused={dict(self.refused)}>")


class ChargedStore(dict):
    """A dict {key: page bytes} whose every value is charged to a node's budget, as
    `kind`, always (past the limit if need be): what a store holds is data that must
    not be refused (a page given back, an orphan); a caller that may refuse checks
    the room first.  Writes go through __setitem__ alone (no update/setdefault)."""

    def __init__(self, memory: NodeMemory, kind: str):
        super().__init__()
        self.memory, self.kind = memory, kind

    def __setitem__(self, key, value) -> None:
        old = dict.get(self, key)
        if old is not None:
            self.memory.credit(self.kind, stored_bytes(old))
        self.memory.charge(self.kind, stored_bytes(value), force=True)
        dict.__setitem__(self, key, value)

    def _uncharged(self, *args, **kwargs):
        raise TypeError("ChargedStore: write through store[key] = value")

    update = setdefault = copy = __ior__ = _uncharged

    def __delitem__(self, key) -> None:
        self.memory.credit(self.kind, stored_bytes(dict.__getitem__(self, key)))
        dict.__delitem__(self, key)

    def pop(self, key, *default):
        if key in self:
            value = dict.pop(self, key)
            self.memory.credit(self.kind, stored_bytes(value))
            return value
        return default[0] if default else dict.pop(self, key)

    def popitem(self):
        key, value = dict.popitem(self)
        self.memory.credit(self.kind, stored_bytes(value))
        return key, value

    def clear(self) -> None:
        for value in self.values():
            self.memory.credit(self.kind, stored_bytes(value))
        dict.clear(self)

    def release(self) -> None:
        """The store is dropped whole (its object died): give everything back."""
        self.clear()


def stored_bytes(value) -> int:
    """The bytes of one stored value: a page, or an orphan (seq, page)."""
    if isinstance(value, tuple):
        value = value[-1]
    return len(value)
