"""Physical memory: one pool of page frames per node.

A node's physical memory is one anonymous mmap cut into frames of PAGE_SIZE.
The CPUs of the next layer map the whole pool once and translate guest virtual
addresses through pmaps into frame numbers; the kernel reads and writes frames
directly through `frame_view`.  Each resident page of a memory object owns one
frame (`VMPage`), and the pool keeps the reverse map (frame -> the pmap slots that
map it, the "pv list") that every revocation uses.

When no frame is free the pageout path picks resident pages in FIFO order,
revokes every mapping of each, hands dirty ones to their object's pager, and
frees the frames.
"""

from __future__ import annotations

import collections
import ctypes
import mmap

from .. import param
from ..errors import KernError, KernReturn


class VMPage:
    """A resident page: `object` holds it at `offset` in `frame`.

    Fields (kernel lock): dirty (modified since it came from its pager),
    wired (never paged out while set).
    """

    __slots__ = ("object", "offset", "frame", "dirty", "wired")

    def __init__(self, obj, offset: int, frame: int):
        self.object = obj
        self.offset = offset
        self.frame = frame
        self.dirty = False
        self.wired = 0

    def __repr__(self) -> str:
        return (f"<VMPage obj={self.object.id} off={self.offset:#x} frame={self.frame}"
                f"{' dirty' if self.dirty else ''}>")


class PhysicalMemory:
    """The frame pool of one node.

    Fields (kernel lock): free (free frame numbers), pages (frame -> VMPage),
    pv (frame -> set of (pmap, vpn) mapping it), fifo (resident pages, oldest first),
    user_wired (pages vm_wire holds, one per map and address: what it is charged).
    """

    def __init__(self, kernel, nbytes: int):
        self.kernel = kernel
        self.nframes = nbytes // param.PAGE_SIZE
        assert self.nframes > 0
        self.mem = mmap.mmap(-1, self.nframes * param.PAGE_SIZE)
        self.view = memoryview(self.mem)
        self.base_address = ctypes.addressof(ctypes.c_char.from_buffer(self.mem))
        # frame 0 is never given out: CPUs map it, read/execute-only, as the
        # landing page of their emulation stop address
        self.free: list[int] = list(range(self.nframes - 1, 0, -1))
        self.pages: dict[int, VMPage] = {}
        self.pv: dict[int, set] = collections.defaultdict(set)
        self.fifo: collections.OrderedDict[int, VMPage] = collections.OrderedDict()
        self.user_wired = 0

    @property
    def user_wire_limit(self) -> int:
        """The most pages vm_wire may hold on this node (param.VM_WIRE_MAX_FRACTION)."""
        return int(self.nframes * param.VM_WIRE_MAX_FRACTION)

    @property
    def wired_count(self) -> int:
        """Resident pages that pageout may not take (vm_statistics wire_count)."""
        return sum(1 for p in self.pages.values() if p.wired)

    @property
    def free_count(self) -> int:
        return len(self.free)

    def frame_view(self, frame: int) -> memoryview:
        base = frame * param.PAGE_SIZE
        return self.view[base:base + param.PAGE_SIZE]

    def page_alloc(self, obj, offset: int, zero: bool = True) -> VMPage:
        """Take a frame for `obj` at `offset`, paging out if none is free.

        Conditions: kernel lock held.
        Raises: KERN_RESOURCE_SHORTAGE if every frame is wired or busy.
        """
        assert self.kernel.lock.held()
        if not self.free:
            self.pageout(param.PAGEOUT_FREE_TARGET)
        if not self.free:
            raise KernError(KernReturn.KERN_RESOURCE_SHORTAGE, "physical memory exhausted")
        frame = self.free.pop()
        if zero:
            self.frame_view(frame)[:] = bytes(param.PAGE_SIZE)
        page = VMPage(obj, offset, frame)
        self.pages[frame] = page
        self.fifo[frame] = page
        return page

    def page_free(self, page: VMPage) -> None:
        """Give `page`'s frame back; every mapping of it must already be gone.

        Conditions: kernel lock held.
        """
        assert self.kernel.lock.held()
        assert not self.mappings(page.frame), f"freeing mapped frame {page}"
        assert self.pages.get(page.frame) is page
        del self.pages[page.frame]
        self.fifo.pop(page.frame, None)
        self.pv.pop(page.frame, None)
        self.free.append(page.frame)

    def mappings(self, frame: int) -> list:
        """The live (pmap, vpn) pairs mapping `frame` (destroyed pmaps left out)."""
        return [pv for pv in self.pv.get(frame, ()) if not pv[0].dead]

    def pageout(self, want: int) -> int:
        """Evict up to `want` resident pages, oldest first; returns how many.

        Conditions: kernel lock held.
        """
        from .pmap import pmap_page_protect
        assert self.kernel.lock.held()
        freed, scanned, total = 0, 0, len(self.fifo)
        while freed < want and scanned < total and self.fifo:
            frame, page = self.fifo.popitem(last=False)        # the oldest
            scanned += 1
            if page.wired or not page.object.pager.may_evict(page.object, page):
                self.fifo[frame] = page                        # kept: to the back
                continue
            pmap_page_protect(self, frame, 0)
            page.object.page_evict(page)
            freed += 1
        return freed

    def audit(self) -> list[str]:
        """Frame accounting: every frame free xor owned by exactly one resident page."""
        errs = []
        free = set(self.free)
        if len(free) != len(self.free):
            errs.append("duplicate frame in free list")
        if free & set(self.pages):
            errs.append("frame both free and resident")
        if 0 in free or 0 in self.pages:
            errs.append("reserved frame 0 in use")
        if len(free) + len(self.pages) != self.nframes - 1:
            errs.append(f"frames leaked: {self.nframes - 1 - len(free) - len(self.pages)}")
        for frame, page in self.pages.items():
            if page.object.pages.get(page.offset) is not page:
                errs.append(f"{page} not in its object")
            for pmap, vpn in self.mappings(frame):
                if pmap.entries.get(vpn, (None,))[0] != frame:
                    errs.append(f"pv entry of frame {frame} stale in {pmap}")
        return errs

    def __repr__(self) -> str:
        return f"<PhysicalMemory {self.free_count}/{self.nframes} frames free>"
