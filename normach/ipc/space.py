"""Port spaces: the names a task uses for port rights.

A task never sees a Port; it sees *names*, small integers valid in its own space
(its `itk_space`).  Each name is an entry that holds some rights:

  SEND          with a count of user references (urefs, 1..65535): N urefs are
                still ONE send right as far as the port's `srights` is concerned
  RECEIVE       the one receive right of a port (counts as 1)
  SEND|RECEIVE  both, for the same port, under one name (P6.3)
  SEND_ONCE     one send-once right; each has its own name
  PORT_SET      a port set (counts as 1)
  DEAD_NAME     what a send or send-once name becomes when its port dies; keeps
                the urefs (a send-once right becomes one dead-name uref)

One space names a port's send/receive rights under at most one name: receiving
a send right for a port already named merges into that name (P6.7), and the
reverse map `_rev` (Port -> entry) is what finds it.  An entry may also carry a
dead-name request (`dnrequest`, the DNREQUEST type bit).

Names are `(index << 8) | generation` (P6.2): an index freed and reused gets the
next generation, so a stale name is not silently confused with a new right.

Destroying a space (task termination, T7.7) destroys every right it holds:
receive rights die (dead names and notifications elsewhere, port-destroyed
requests honoured), send rights are released (no-senders may fire), send-once
rights are destroyed (send-once notifications).  After that every mach_port_*
call on the space fails with KERN_INVALID_TASK.
"""

from __future__ import annotations

import collections

from .. import param
from ..errors import KernError, KernReturn
from ..kern.memory import NAMES
from ..mach_types import MACH_PORT_DEAD, MACH_PORT_NULL, PortType

NAME_INDEX_LIMIT = (1 << (32 - param.NAME_GEN_BITS)) - 1   # index 0xFFFFFF would make MACH_PORT_DEAD
GEN_MASK = (1 << param.NAME_GEN_BITS) - 1


def name_index(name: int) -> int:
    return name >> param.NAME_GEN_BITS


def name_valid(name: int) -> bool:
    """A name a right can live under (not NULL, not DEAD, 32-bit)."""
    return isinstance(name, int) and 0 < name < MACH_PORT_DEAD


class IPCEntry:
    """One name in one space.

    Fields (guarded by the kernel lock):
      space      the IPCSpace (fixed)
      name       the name (changes only by mach_port_rename)
      bits       PortType bits of the rights held (no DNREQUEST bit)
      urefs      send or dead-name user references; 0 for receive-only,
                 send-once and port-set entries (each of those counts as 1)
      object     the Port (port rights), the PortSet, or None (dead name)
      dnrequest  send-once Port for a dead-name notification, or None
    """

    __slots__ = ("space", "name", "bits", "urefs", "object", "dnrequest", "__weakref__")

    def __init__(self, space, name: int):
        self.space = space
        self.name = name
        self.bits = PortType.NONE
        self.urefs = 0
        self.object = None
        self.dnrequest = None

    @property
    def type(self) -> int:
        """mach_port_type of this name (with DNREQUEST)."""
        return int(self.bits) | (PortType.DNREQUEST if self.dnrequest is not None else 0)

    def has(self, bits: int) -> bool:
        return bool(self.bits & bits)

    def __repr__(self) -> str:
        return (f"<IPCEntry {self.name:#x} {PortType(self.bits)!r} urefs={self.urefs} "
                f"obj={self.object!r}{' dnr' if self.dnrequest is not None else ''}>")


class IPCSpace:
    """A task's port name space.

    Fields (guarded by the kernel lock; `kernel`, `task` fixed):
      kernel, task   owner (task may be None for a bare test space)
      active         False once destroyed
      table          name -> IPCEntry
      _rev           Port -> the entry holding its send and/or receive right
      _gens          index -> last generation used
      _index_use     index -> number of names using it (user-chosen names may
                     share an index with other generations)
      _free          indices free for reuse (LIFO)
      _hiwater       highest index ever handed out automatically
      msgs_sent, msgs_received   statistics for `normach ps`
    """

    def __init__(self, kernel, task=None):
        self.kernel = kernel
        self.task = task
        self.active = True
        self.table: dict[int, IPCEntry] = {}
        self._rev: dict = {}
        self._gens: dict[int, int] = {}
        self._index_use: collections.Counter = collections.Counter()
        self._free: list[int] = []
        self._hiwater = 0
        self.msgs_sent = 0
        self.msgs_received = 0

    # -- lookup -----------------------------------------------------------
    def lookup(self, name: int) -> IPCEntry | None:
        return self.table.get(name)

    def reverse_lookup(self, port) -> IPCEntry | None:
        """The entry naming `port`'s send/receive right, or None."""
        return self._rev.get(port)

    @property
    def entries(self) -> dict:
        """The name table (name -> IPCEntry); read-only use."""
        return self.table

    def label(self) -> str:
        tid = getattr(self.task, "id", None) if self.task is not None else None
        return str(tid) if tid is not None else hex(id(self) & 0xFFFF)

    # -- name allocation ----------------------------------------------------
    def _reserve(self) -> None:
        """Room for one more name: in the space (KERN_NO_SPACE), and in the node's memory
        budget (KERN_RESOURCE_SHORTAGE: a name holds a right, often a port)."""
        if len(self.table) >= param.SPACE_MAX_ENTRIES:
            raise KernError(KernReturn.KERN_NO_SPACE, "port space full")
        self.kernel.memory.must_charge(NAMES, param.NAME_MEMORY_COST)

    def _take_index(self) -> int:
        while self._free:
            index = self._free.pop()
            if self._index_use[index] == 0:
                return index
        while True:
            self._hiwater += 1
            if self._hiwater >= NAME_INDEX_LIMIT:
                raise KernError(KernReturn.KERN_NO_SPACE, "port name indices exhausted")
            if self._index_use[self._hiwater] == 0:
                return self._hiwater

    def _install(self, name: int) -> IPCEntry:
        entry = IPCEntry(self, name)
        self.table[name] = entry
        self._index_use[name_index(name)] += 1
        return entry

    def entry_alloc(self) -> IPCEntry:
        """A fresh empty entry under a new name.

        Conditions: kernel lock held; space active.
        Raises: KERN_NO_SPACE (the space is full), KERN_RESOURCE_SHORTAGE (the node budget).
        """
        assert self.kernel.lock.held() and self.active
        self._reserve()
        try:
            index = self._take_index()
        except KernError:
            self.kernel.memory.credit(NAMES, param.NAME_MEMORY_COST)
            raise
        gen = (self._gens.get(index, -1) + 1) & GEN_MASK
        self._gens[index] = gen
        return self._install((index << param.NAME_GEN_BITS) | gen)

    def entry_alloc_name(self, name: int) -> IPCEntry:
        """A fresh empty entry under the caller's `name` (not in use).

        Conditions: kernel lock held; space active; name valid and free.
        Raises: KERN_NO_SPACE (the space is full), KERN_RESOURCE_SHORTAGE (the node budget).
        """
        assert self.kernel.lock.held() and self.active
        assert name_valid(name) and name not in self.table
        self._reserve()
        return self._install(name)

    def entry_dealloc(self, entry: IPCEntry) -> None:
        """Remove an entry that no longer holds any right.  Conditions: lock held."""
        assert entry.bits == PortType.NONE and entry.dnrequest is None, repr(entry)
        assert self.table.get(entry.name) is entry
        del self.table[entry.name]
        self.kernel.memory.credit(NAMES, param.NAME_MEMORY_COST)
        index = name_index(entry.name)
        self._index_use[index] -= 1
        if self._index_use[index] == 0:
            del self._index_use[index]
            self._free.append(index)

    def entry_rename(self, entry: IPCEntry, new_name: int) -> None:
        """Move an entry to a free valid name.  Conditions: lock held."""
        assert name_valid(new_name) and new_name not in self.table
        del self.table[entry.name]
        old_index = name_index(entry.name)
        self._index_use[old_index] -= 1
        if self._index_use[old_index] == 0:
            del self._index_use[old_index]
            self._free.append(old_index)
        entry.name = new_name
        self.table[new_name] = entry
        self._index_use[name_index(new_name)] += 1

    # -- rights for kernel calls ------------------------------------------
    def copyout_right(self, port, msgt_type: int) -> int:
        """Insert a right the kernel holds into this space; returns its name.

        Send rights merge into an existing name for the port (P6.7); None gives
        MACH_PORT_NULL, IP_DEAD or a dead port MACH_PORT_DEAD.  The right is
        consumed in every case (destroyed if it cannot be inserted).
        Conditions: kernel lock held.
        Raises: KERN_INVALID_TASK (space dead), KERN_NO_SPACE (space full),
        KERN_RESOURCE_SHORTAGE (the node budget).
        """
        from .kmsg import ipc_object_destroy
        from .right import ipc_right_copyout
        assert self.kernel.lock.held()
        if not self.active:
            ipc_object_destroy(port, msgt_type)
            raise KernError(KernReturn.KERN_INVALID_TASK)
        try:
            return ipc_right_copyout(self, port, msgt_type)
        except KernError:
            ipc_object_destroy(port, msgt_type)
            raise

    def copyin_right(self, name: int, disposition: int):
        """Take a right out of this space for the kernel: returns (port, msgt_type).

        `disposition` is a MsgType MOVE_/COPY_/MAKE_ value; msgt_type is the
        received type of the right the kernel now holds.  A dead name gives
        (IP_DEAD, type) for the send dispositions; MACH_PORT_NULL gives (None, 0).
        Conditions: kernel lock held.
        Raises: KERN_INVALID_TASK (space dead), KERN_INVALID_VALUE (bad
        disposition), KERN_INVALID_NAME (no such name), KERN_INVALID_RIGHT
        (the name does not hold the needed right).
        """
        from .right import DISPOSITIONS, ipc_right_copyin, ipc_right_copyin_check
        assert self.kernel.lock.held()
        if not self.active:
            raise KernError(KernReturn.KERN_INVALID_TASK)
        if not isinstance(disposition, int) or disposition not in DISPOSITIONS:
            raise KernError(KernReturn.KERN_INVALID_VALUE, f"disposition {disposition!r}")
        if not isinstance(name, int) or isinstance(name, bool):
            raise KernError(KernReturn.KERN_INVALID_NAME, repr(name))
        if name == MACH_PORT_NULL:
            return None, 0
        if name != MACH_PORT_DEAD and name not in self.table:
            raise KernError(KernReturn.KERN_INVALID_NAME, hex(name))
        if name == MACH_PORT_DEAD or not ipc_right_copyin_check(self, name, disposition, {}):
            raise KernError(KernReturn.KERN_INVALID_RIGHT, hex(name))
        return ipc_right_copyin(self, name, disposition)

    # -- destruction --------------------------------------------------------
    def destroy(self) -> None:
        """Destroy the space and every right in it (T7.7).

        Conditions: kernel lock held.  Idempotent.
        """
        from .right import ipc_right_destroy
        assert self.kernel.lock.held()
        if not self.active:
            return
        self.active = False
        for name in sorted(self.table):
            entry = self.table.get(name)
            if entry is not None:
                ipc_right_destroy(self, entry)
        assert not self.table and not self._rev, repr(self)

    def __repr__(self) -> str:
        state = "" if self.active else " DEAD"
        return (f"<IPCSpace task={self.label()}{state} names={len(self.table)} "
                f"sent={self.msgs_sent} rcvd={self.msgs_received}>")
