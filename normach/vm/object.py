"""Memory objects, shadow chains and copy objects.

A VM object is a sequence of pages, some resident (in frames), some kept by the
object's pager, the rest never touched.  Map entries refer to a range of an
object.  Copy-on-write is built from two devices, as in Mach:

* Shadow chains (the symmetric strategy, for private anonymous memory).  A copy
  just makes both map entries refer to the same object, marked `needs_copy` and
  write-protected.  The first write through either entry creates a *shadow*: a
  new, empty object whose `shadow` is the old one.  Pages are looked up from the
  top of the chain down; a write copies the page found below into the top object.
  The object at the bottom is frozen from then on, so both sides keep seeing the
  snapshot in it for the pages they did not write.

* Copy objects (the delay strategy, for memory shared by several maps).  A
  shared object is written in place by every sharer, so a snapshot cannot
  simply refer to it.  Copying such an object creates a *copy object* whose
  shadow is the original; every resident page of the original is
  write-protected, and before any page of the original is modified its old
  contents are *pushed* into the copy object.  Readers of the snapshot go
  through the copy object and fall through to the original only for pages that
  were never modified since.  A second copy, taken after pushes happened, gets a
  new copy object inserted between the original and the older copy, which is
  then frozen.

Reference counts: every map entry, every shadow link and every copy in transit
holds one reference (an original's `copy` link holds none: the copy object's
shadow link already keeps the original alive, and a dying copy object clears it).
The object dies at zero: its frames are freed (after every mapping is revoked),
its pager forgets it, and its shadow loses a reference.
"""

from __future__ import annotations

from .. import param

SYMMETRIC = "symmetric"
DELAY = "delay"


class VMObject:
    """A memory object.

    Fields (kernel lock): size, pages {offset: VMPage}, shadow, shadow_offset,
    copy (the current copy object, delay strategy), copy_of (the original this is
    the copy object of), strategy, ref_count, pager, alive.
    """

    def __init__(self, kernel, size: int, pager=None):
        self.kernel = kernel
        self.id = kernel.next_id()
        self.size = size
        self.pages: dict = {}
        self.shadow: VMObject | None = None
        self.shadow_offset = 0
        self.copy: VMObject | None = None
        self.copy_of: VMObject | None = None
        self.strategy = SYMMETRIC
        self.ref_count = 1
        self.pager = pager if pager is not None else kernel.default_pager
        self.alive = True
        kernel.vm_objects[self.id] = self

    # -- references ---------------------------------------------------------------
    def reference(self) -> "VMObject":
        assert self.alive and self.ref_count > 0
        self.ref_count += 1
        return self

    def deallocate(self) -> None:
        """Drop one reference; at zero the object is destroyed (iteratively down the chain).

        Conditions: kernel lock held.
        """
        obj = self
        while obj is not None:
            assert obj.kernel.lock.held()
            assert obj.ref_count > 0, f"{obj} over-released"
            obj.ref_count -= 1
            if obj.ref_count:
                if obj.ref_count == 1:
                    obj.pager.unreferenced(obj)
                return
            obj = obj._terminate()

    def _terminate(self) -> "VMObject | None":
        """Destroy this object; returns the shadow whose reference must be dropped."""
        from .pmap import pmap_page_protect
        phys = self.kernel.phys
        self.pager.terminate(self)            # first: a distributed pager keeps what was written
        for page in list(self.pages.values()):
            pmap_page_protect(phys, page.frame, 0)
            phys.page_free(page)
        self.pages.clear()
        self.alive = False
        del self.kernel.vm_objects[self.id]
        if self.copy_of is not None and self.copy_of.copy is self:
            self.copy_of.copy = None
        shadow, self.shadow = self.shadow, None
        return shadow

    # -- pages ----------------------------------------------------------------------
    def has_page(self, offset: int) -> bool:
        """Resident here or kept by this object's pager (not looking down the chain)."""
        return offset in self.pages or self.pager.has(self, offset)

    def page_get(self, offset: int):
        """The resident page at `offset`, paging it in if the pager has it; else None.

        Conditions: kernel lock held.
        """
        stats = self.kernel.stats
        stats.lookups += 1
        page = self.pages.get(offset)
        if page is not None:
            stats.hits += 1
            return page
        data = self.pager.data_request(self, offset)
        if data is None:
            return None
        page = self.page_insert(offset, zero=False)
        page.object.kernel.phys.frame_view(page.frame)[:] = data
        page.dirty = True          # the pager no longer holds it
        stats.pageins += 1
        return page

    def page_insert(self, offset: int, zero: bool = True):
        """A new resident page at `offset` (zero-filled unless told otherwise)."""
        assert offset not in self.pages and offset % param.PAGE_SIZE == 0
        page = self.kernel.phys.page_alloc(self, offset, zero=zero)
        self.pages[offset] = page
        return page

    def page_copy_in(self, offset: int, src_page):
        """A new resident page at `offset` holding a copy of `src_page`'s data."""
        phys = self.kernel.phys
        page = self.page_insert(offset, zero=False)
        phys.frame_view(page.frame)[:] = phys.frame_view(src_page.frame)
        page.dirty = True
        return page

    def page_evict(self, page) -> None:
        """Pageout: return `page` to the pager if dirty, then free its frame.

        Conditions: kernel lock held; every mapping of the page already revoked.
        """
        phys = self.kernel.phys
        if self.pager.evict_returns(self, page):
            self.pager.data_return(self, page.offset, bytes(phys.frame_view(page.frame)))
            self.kernel.stats.pageouts += 1
        del self.pages[page.offset]
        phys.page_free(page)

    # -- copy-on-write ---------------------------------------------------------------
    def make_shadow(self, offset: int, size: int) -> "VMObject":
        """A new object shadowing [offset, offset+size) of this one; takes our reference."""
        shadow = VMObject(self.kernel, size)
        shadow.shadow = self
        shadow.shadow_offset = offset
        return shadow

    def copy_delayed(self) -> "VMObject":
        """The copy object to give a new snapshot of this (shared) object.

        Reuses the current copy object if nothing was pushed into it yet;
        otherwise inserts a new one between this object and the old copy, which
        is frozen.  Every resident page is write-protected so that the next write
        faults and pushes.  Returns a new reference.
        Conditions: kernel lock held (released while a distributed pager's manager
        makes the copy).
        """
        from .pmap import pmap_page_protect
        if self.pager.distributed:
            return self.pager.copy(self)      # the object's manager makes it (X4.20)
        old = self.copy
        if old is not None and not old.pages and not old.pager.stored_pages(old):
            return old.reference()
        new = VMObject(self.kernel, self.size)      # ref_count 1: the caller's
        new.shadow = self.reference()
        new.copy_of = self
        if old is not None:
            # the old copy now looks through the new one and is frozen
            assert old.shadow is self
            old.shadow = new.reference()
            old.copy_of = None
            self.ref_count -= 1                      # old no longer shadows us
            assert self.ref_count > 0
        self.copy = new
        for page in self.pages.values():
            pmap_page_protect(self.kernel.phys, page.frame, 5)   # READ|EXECUTE: writes fault
        return new

    def push_page(self, offset: int, page) -> None:
        """Before `page` (at `offset` of this object) is modified, save it in the copy object."""
        from .pmap import pmap_page_protect
        copy = self.copy
        if copy is None or copy.has_page(offset):
            return
        copy.page_copy_in(offset, page)
        # mappings that read the old data through the copy object must now find the pushed page
        pmap_page_protect(self.kernel.phys, page.frame, 0)
        self.kernel.stats.pushes += 1

    def chain(self):
        """This object and its shadows, top first."""
        obj = self
        while obj is not None:
            yield obj
            obj = obj.shadow

    def __repr__(self) -> str:
        extra = f" shadow={self.shadow.id}+{self.shadow_offset:#x}" if self.shadow else ""
        if self.copy is not None:
            extra += f" copy={self.copy.id}"
        return (f"<VMObject {self.id} {self.strategy} size={self.size:#x} "
                f"resident={len(self.pages)} refs={self.ref_count}{extra}>")
