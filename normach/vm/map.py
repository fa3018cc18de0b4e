"""Address maps: the ranges of a task's address space and what backs them.

A `VMMap` is a sorted list of non-overlapping `MapEntry`s.  Each entry maps
[start, end) to a range of one memory object (or to no object yet: untouched
anonymous memory, created at the first fault) with a current and a maximum
protection, an inheritance value, and two copy-on-write flags: `needs_copy`
(the object is shared with a copy and must be shadowed before the first write
through this entry) and `is_shared` (the object is mapped by another map with
SHARE semantics).  Operations on part of an entry first *clip* it, splitting it
in two entries that refer to the same object.

`VMMapCopy` is memory in transit: the entries of a range taken out of a map
(copy-on-write, or moved) to be put into another map — out-of-line message
data, and later the address-space description sent to another node.
"""

from __future__ import annotations

import bisect

from .. import param
from ..errors import KernError, KernReturn
from ..mach_types import VMInherit, VMProt
from .object import DELAY, VMObject
from .pmap import Pmap, pmap_protect, pmap_remove, pmap_destroy

PAGE = param.PAGE_SIZE


def trunc_page(x: int) -> int:
    return x & ~(PAGE - 1)


def round_page(x: int) -> int:
    return (x + PAGE - 1) & ~(PAGE - 1)


class MapEntry:
    """One range of a map.  Fields guarded by the kernel lock; wired_count is the
    number of vm_wire calls holding the range (Mach's user_wired_count, vm/wire.py)."""

    __slots__ = ("start", "end", "object", "offset", "protection", "max_protection",
                 "inheritance", "needs_copy", "is_shared", "wired_count")

    def __init__(self, start, end, obj=None, offset=0, protection=VMProt.DEFAULT,
                 max_protection=VMProt.ALL, inheritance=VMInherit.COPY,
                 needs_copy=False, is_shared=False):
        self.start, self.end = start, end
        self.object: VMObject | None = obj
        self.offset = offset
        self.protection = int(protection)
        self.max_protection = int(max_protection)
        self.inheritance = int(inheritance)
        self.needs_copy = needs_copy
        self.is_shared = is_shared
        self.wired_count = 0

    @property
    def size(self) -> int:
        return self.end - self.start

    def split(self, at: int) -> "MapEntry":
        """Cut at `at`: self keeps [start, at), the returned entry is [at, end)."""
        assert self.start < at < self.end and at % PAGE == 0
        tail = MapEntry(at, self.end, self.object, self.offset + (at - self.start),
                        self.protection, self.max_protection, self.inheritance,
                        self.needs_copy, self.is_shared)
        tail.wired_count = self.wired_count
        if self.object is not None:
            self.object.reference()
        self.end = at
        return tail

    def ensure_object(self, kernel) -> VMObject:
        if self.object is None:
            self.object = VMObject(kernel, self.size)
            self.offset = 0
        return self.object

    def resolve_needs_copy(self) -> None:
        """Give this entry a private top object before a write (shadow if still shared)."""
        assert self.needs_copy and self.object is not None
        obj = self.object
        if obj.ref_count > 1 or obj.pager.distributed:     # other nodes see it too
            self.object = obj.make_shadow(self.offset, self.size)   # takes our reference
            self.offset = 0
        self.needs_copy = False

    def __repr__(self) -> str:
        obj = f"obj={self.object.id}+{self.offset:#x}" if self.object else "obj=None"
        flags = ("N" if self.needs_copy else "") + ("S" if self.is_shared else "")
        return (f"<MapEntry {self.start:#x}-{self.end:#x} {obj} prot={self.protection}/"
                f"{self.max_protection} inh={self.inheritance} {flags}>")


class VMMap:
    """A task's address map.

    Fields (kernel lock): entries (sorted by start), size (bytes mapped),
    pmap, ledger (limits checked when the map grows; may be None), wired
    {page address: the VMPage vm_wire holds wired there} (vm/wire.py).
    """

    def __init__(self, kernel, ledger=None, min_address=param.VM_MIN_ADDRESS,
                 max_address=param.VM_MAX_ADDRESS):
        self.kernel = kernel
        self.pmap = Pmap(kernel.phys)
        self.entries: list[MapEntry] = []
        self._starts: list[int] = []
        self.min_address = min_address
        self.max_address = max_address
        self.size = 0
        self.ledger = ledger
        self.wired: dict = {}

    # -- lookup -------------------------------------------------------------------------
    def lookup(self, addr: int) -> MapEntry | None:
        """The entry containing `addr`, or None."""
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0 and self.entries[i].end > addr:
            return self.entries[i]
        return None

    def entries_in(self, start: int, end: int) -> list[MapEntry]:
        """Entries overlapping [start, end), in order (not clipped)."""
        i = max(bisect.bisect_right(self._starts, start) - 1, 0)
        out = []
        for e in self.entries[i:]:
            if e.start >= end:
                break
            if e.end > start:
                out.append(e)
        return out

    def is_mapped(self, start: int, end: int) -> bool:
        """True if [start, end) has no hole."""
        cur = start
        for e in self.entries_in(start, end):
            if e.start > cur:
                return False
            cur = e.end
        return cur >= end

    # -- structure ---------------------------------------------------------------------
    def _insert(self, entry: MapEntry) -> None:
        i = bisect.bisect_left(self._starts, entry.start)
        self.entries.insert(i, entry)
        self._starts.insert(i, entry.start)

    def _delete(self, entry: MapEntry) -> None:
        i = bisect.bisect_left(self._starts, entry.start)
        assert self.entries[i] is entry
        del self.entries[i]
        del self._starts[i]

    def clip(self, start: int, end: int) -> list[MapEntry]:
        """Split entries at `start` and `end`; the entries inside [start, end), in order.

        Conditions: kernel lock held.
        """
        assert self.kernel.lock.held()
        for at in (start, end):
            e = self.lookup(at)
            if e is not None and e.start < at:
                self._insert(e.split(at))
        return [e for e in self.entries_in(start, end)]

    def find_space(self, size: int, mask: int = 0) -> int:
        """Lowest free, aligned address for `size` bytes, from VM_ANYWHERE_BASE up, then from the bottom.

        Raises: KERN_NO_SPACE.
        """
        for lo in (max(param.VM_ANYWHERE_BASE, self.min_address), self.min_address):
            addr = self._first_fit(lo, size, mask)
            if addr is not None:
                return addr
        raise KernError(KernReturn.KERN_NO_SPACE, f"no hole of {size:#x} bytes")

    def _first_fit(self, lo: int, size: int, mask: int) -> int | None:
        align = lambda a: (a + mask) & ~mask if mask else a   # noqa: E731
        addr = align(lo)
        for e in self.entries_in(lo, self.max_address):
            if addr + size <= e.start:
                return addr
            addr = align(max(addr, e.end))
        return addr if addr + size <= self.max_address else None

    def check_range(self, start: int, end: int) -> None:
        """Raises KERN_INVALID_ADDRESS if [start, end) is outside the map's bounds."""
        if start < self.min_address or end > self.max_address or start > end:
            raise KernError(KernReturn.KERN_INVALID_ADDRESS,
                            f"[{start:#x}, {end:#x}) outside the map")

    def charge(self, size: int) -> None:
        """Account `size` more bytes against the ledger.  Raises KERN_RESOURCE_SHORTAGE."""
        if self.ledger is not None and self.size + size > self.ledger.vm_max:
            raise KernError(KernReturn.KERN_RESOURCE_SHORTAGE,
                            f"virtual memory limit {self.ledger.vm_max:#x} reached")
        self.size += size

    def enter(self, start: int, size: int, obj=None, offset=0, *, needs_copy=False,
              protection=VMProt.DEFAULT, max_protection=VMProt.ALL,
              inheritance=VMInherit.COPY, is_shared=False) -> MapEntry:
        """Map [start, start+size) to `obj` (whose reference the entry takes).

        Conditions: kernel lock held; [start, start+size) page-aligned and free.
        Raises: KERN_RESOURCE_SHORTAGE (ledger).
        """
        assert self.kernel.lock.held()
        assert start % PAGE == 0 and size % PAGE == 0 and size > 0
        assert not self.entries_in(start, start + size), "enter over a mapped range"
        self.charge(size)
        e = MapEntry(start, start + size, obj, offset, protection, max_protection,
                     inheritance, needs_copy, is_shared)
        self._insert(e)
        return e

    def remove(self, start: int, end: int) -> None:
        """Unmap [start, end): holes are ignored; a wired range is unwired first.
        Conditions: kernel lock held."""
        for e in self.clip(start, end):
            if e.wired_count:
                e.wired_count = 0
                self.unwire_pages(e.start, e.end)
            self._delete(e)
            self.size -= e.size
            pmap_remove(self.pmap, e.start, e.end)
            if e.object is not None:
                e.object.deallocate()

    def unwire_pages(self, start: int, end: int) -> None:
        """Let go of the pages vm_wire holds in [start, end): pageout may take them again.
        Conditions: kernel lock held."""
        phys = self.kernel.phys
        for va in range(start, end, PAGE):
            page = self.wired.pop(va, None)
            if page is not None:
                page.wired -= 1
                phys.user_wired -= 1

    def destroy(self) -> None:
        """Release every entry and the pmap.  Conditions: kernel lock held."""
        pmap_destroy(self.pmap)               # first: then removing entries walks no pages
        self.remove(0, 1 << 64)

    def write_protect(self, entry: MapEntry) -> None:
        """Take write access out of the pmap for `entry` (copy-on-write set-up)."""
        pmap_protect(self.pmap, entry.start, entry.end, entry.protection & ~VMProt.WRITE)

    def __repr__(self) -> str:
        return (f"<VMMap {len(self.entries)} entries, {self.size:#x} bytes, "
                f"{self.pmap.resident} pages mapped>")


# -- copy-on-write of one entry ---------------------------------------------------------

def entry_copy_object(vmap: VMMap, entry: MapEntry):
    """The (object, offset) a snapshot of `entry` should map, with needs_copy set.

    Symmetric objects are shared with the snapshot and both sides get needs_copy;
    delay (shared) objects give their copy object; a wired entry is copied in full
    now (V2.7): its pages stay where vm_wire holds them, writable.  Returns (None, 0)
    for an untouched entry (the snapshot is zero-fill too).
    Conditions: kernel lock held.
    Raises: KERN_RESOURCE_SHORTAGE (no frames for a wired entry's copy).
    """
    obj = entry.object
    if obj is None:
        return None, 0
    if entry.wired_count:
        return _copy_slowly(vmap.kernel, obj, entry.offset, entry.size), 0
    if obj.strategy == DELAY:
        return obj.copy_delayed(), entry.offset
    entry.needs_copy = True
    vmap.write_protect(entry)
    return obj.reference(), entry.offset


def _copy_slowly(kernel, obj: VMObject, offset: int, size: int) -> VMObject:
    """A new object holding a copy of [offset, offset+size) of `obj`'s chain (Mach's
    vm_object_copy_slowly).  Conditions: kernel lock held.
    Raises: KERN_RESOURCE_SHORTAGE (nothing is left behind)."""
    from .fault import object_read_page
    new, obj = VMObject(kernel, size), obj.reference()   # kept alive while pages are read
    try:
        for off in range(0, size, PAGE):
            data = object_read_page(obj, offset + off)
            if data is not None:
                page = new.page_insert(off, zero=False)
                kernel.phys.frame_view(page.frame)[:] = data
                page.dirty = True
    except BaseException:
        new.deallocate()
        raise
    finally:
        obj.deallocate()
    return new


def entry_share_object(vmap: VMMap, entry: MapEntry) -> VMObject:
    """Prepare `entry` to be shared (V2.6): a real, private-to-the-sharers object.

    Conditions: kernel lock held.
    """
    obj = entry.ensure_object(vmap.kernel)
    if entry.needs_copy:
        entry.resolve_needs_copy()
        obj = entry.object
    obj.strategy = DELAY
    entry.is_shared = True
    return obj


# -- memory in transit -------------------------------------------------------------------

class VMMapCopy:
    """Memory taken out of a map: entries relative to a page-aligned base.

    `offset` is where the data starts within the first page; `size` the data's size.
    """

    def __init__(self, kernel, size: int, offset: int = 0):
        self.kernel = kernel
        self.size = size
        self.offset = offset
        self.entries: list[MapEntry] = []   # start/end relative to 0

    @property
    def span(self) -> int:
        return round_page(self.offset + self.size)

    def __repr__(self) -> str:
        return f"<VMMapCopy {self.size:#x} bytes in {len(self.entries)} entries>"


def vm_map_copyin(vmap: VMMap, addr: int, size: int, src_destroy: bool) -> VMMapCopy:
    """Take [addr, addr+size) out of `vmap`, copy-on-write (or moved if src_destroy).

    Conditions: kernel lock held.
    Raises: KERN_INVALID_ADDRESS (a hole), KERN_PROTECTION_FAILURE (unreadable).
    """
    assert vmap.kernel.lock.held()
    copy = VMMapCopy(vmap.kernel, size, addr - trunc_page(addr))
    if size == 0:
        return copy
    start, end = trunc_page(addr), round_page(addr + size)
    vmap.check_range(start, end)
    if not vmap.is_mapped(start, end):
        raise KernError(KernReturn.KERN_INVALID_ADDRESS, f"hole in [{start:#x}, {end:#x})")
    for e in vmap.entries_in(start, end):
        if not e.protection & VMProt.READ:
            raise KernError(KernReturn.KERN_PROTECTION_FAILURE, f"{e} is not readable")
    for e in vmap.clip(start, end):
        obj, off = entry_copy_object(vmap, e)
        copy.entries.append(MapEntry(e.start - start, e.end - start, obj, off,
                                     needs_copy=obj is not None))
    if src_destroy:
        vmap.remove(start, end)
    return copy


def vm_map_copyout(vmap: VMMap, copy: VMMapCopy) -> int:
    """Put `copy` into `vmap` anywhere; returns the data's address.  Consumes the copy.

    Conditions: kernel lock held.
    Raises: KERN_NO_SPACE, KERN_RESOURCE_SHORTAGE (the copy is then not consumed).
    """
    assert vmap.kernel.lock.held()
    if copy.size == 0:
        return 0
    base = vmap.find_space(copy.span)
    vmap.charge(copy.span)
    vmap.size -= copy.span          # enter() charges each piece again
    for ce in copy.entries:
        vmap.enter(base + ce.start, ce.size, ce.object, ce.offset, needs_copy=ce.needs_copy)
    copy.entries = []
    return base + copy.offset


def vm_map_copy_discard(copy: VMMapCopy) -> None:
    """Drop memory in transit.  Conditions: kernel lock held."""
    for ce in copy.entries:
        if ce.object is not None:
            ce.object.deallocate()
    copy.entries = []


def vm_map_copy_from_bytes(kernel, data: bytes) -> VMMapCopy:
    """Memory in transit holding `data` (a Python sender's out-of-line bytes).

    Conditions: kernel lock held.
    """
    copy = VMMapCopy(kernel, len(data))
    if not data:
        return copy
    span = round_page(len(data))
    obj = VMObject(kernel, span)
    for off in range(0, len(data), PAGE):
        page = obj.page_insert(off)
        chunk = data[off:off + PAGE]
        kernel.phys.frame_view(page.frame)[:len(chunk)] = chunk
        page.dirty = True
    copy.entries.append(MapEntry(0, span, obj, 0))
    return copy


# -- task_create's address space (V2.4-V2.9) -----------------------------------------------

def vm_map_fork(parent: VMMap, child: VMMap, share_all: bool = False) -> None:
    """Fill the empty `child` from `parent` by each entry's inheritance.

    SHARE: both map the same object, marked shared (V2.6).  COPY: a lazy
    copy-on-write snapshot (V2.7); a region whose max protection lacks READ is
    omitted (§9.13).  NONE: absent (V2.5).  Entries keep protection, max
    protection and inheritance; wiring is not inherited (V2.8).  With
    `share_all` every region is shared whatever its inheritance (a clone, §0.3).
    Conditions: kernel lock held.
    Raises: KERN_RESOURCE_SHORTAGE if the child's ledger is too small.
    """
    assert parent.kernel.lock.held() and not child.entries
    for e in list(parent.entries):
        share = share_all or e.inheritance == VMInherit.SHARE
        if share:
            obj, off = entry_share_object(parent, e).reference(), e.offset
        elif e.inheritance == VMInherit.COPY and e.max_protection & VMProt.READ:
            obj, off = entry_copy_object(parent, e)
        else:
            continue
        try:
            child.enter(e.start, e.size, obj, off, needs_copy=not share and obj is not None,
                        protection=e.protection, max_protection=e.max_protection,
                        inheritance=e.inheritance, is_shared=share)
        except KernError:
            if obj is not None:
                obj.deallocate()
            raise


def vm_map_copy_read(copy: VMMapCopy) -> bytes:
    """The bytes of memory in transit (an eager copy, for sending it off the node).

    Conditions: kernel lock held.
    """
    from .fault import object_read_page
    out = bytearray(copy.span)
    for ce in copy.entries:
        if ce.object is None:
            continue
        for off in range(0, ce.size, PAGE):
            data = object_read_page(ce.object, ce.offset + off)
            if data is not None:
                out[ce.start + off:ce.start + off + PAGE] = data
    return bytes(out[copy.offset:copy.offset + copy.size])
