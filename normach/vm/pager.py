"""Pagers: where a memory object's pages live when they are not resident.

A memory object asks its pager for a page it does not hold (`data_request`) and
gives back dirty pages it evicts (`data_return`).  The default pager backs
anonymous memory: it has nothing for a page never returned (the fault path then
zero-fills), and keeps what pageout hands it.  The distributed memory manager of
a later layer implements the same interface, so the fault path does not care
whether a page comes from this node's store or from another node.
"""

from __future__ import annotations

from .. import param
from ..kern.memory import STORED, ChargedStore



class Pager:
    """Interface every pager implements.  Called with the kernel lock held.

    A *distributed* pager (xmm/) hands out access as well as data: a page of its
    object may be resident here with read access only, or not at all while
    another node writes it.  The fault path asks it for each page it uses
    (`granted`), and when that is not enough calls `request`, which may release
    the kernel lock while other nodes answer; the fault then starts over.
    """

    name = "pager"
    distributed = False

    def granted(self, obj, offset: int) -> int:
        """Access this node holds on a resident page (VM_PROT bits)."""
        return 7

    def request(self, obj, offset: int, desired: int) -> None:
        """Obtain `desired` access (and the data) for `offset`; distributed pagers only.

        Conditions: kernel lock held on entry and exit, released meanwhile.
        Raises: KERN_MEMORY_ERROR if the page cannot be had (its node is down).
        """
        raise NotImplementedError

    def copy(self, obj):
        """A copy object for a snapshot of `obj` (distributed pagers only): a new reference.
        Conditions: kernel lock held (may be released)."""
        raise NotImplementedError

    def may_evict(self, obj, page) -> bool:
        """Whether pageout may take this page now."""
        return True

    def unreferenced(self, obj) -> None:
        """The object's reference count dropped to one."""

    def evict_returns(self, obj, page) -> bool:
        """Whether an evicted page goes back to the pager even when clean."""
        return page.dirty

    def has(self, obj, offset: int) -> bool:
        raise NotImplementedError

    def data_request(self, obj, offset: int) -> bytes | None:
        """The page's data, or None if the pager has none (zero-fill or descend)."""
        raise NotImplementedError

    def data_return(self, obj, offset: int, data: bytes) -> None:
        raise NotImplementedError

    def terminate(self, obj) -> None:
        """The object is gone: drop whatever is kept for it."""
        raise NotImplementedError

    def stored_pages(self, obj) -> int:
        """How many of the object's pages the pager keeps."""
        raise NotImplementedError

    def absent(self, obj, offset: int, size: int) -> tuple[int, int]:
        """Of [offset, offset+size): (pages only other nodes hold, pages lost with a
        node).  Conditions: kernel lock held (a distributed pager may release it)."""
        return 0, 0


class DefaultPager(Pager):
    """The pager of anonymous memory on one node: an in-memory backing store, charged
    to the node's memory budget (kern/memory.py): at the limit, pageout keeps dirty
    pages resident, and a fault that finds no frame fails (KERN_RESOURCE_SHORTAGE).

    Fields (kernel lock): store {object id: ChargedStore {offset: bytes}}, counters.
    """

    name = "default"

    def __init__(self, kernel):
        self.kernel = kernel
        self.store: dict[int, dict[int, bytes]] = {}
        self.pageins = 0
        self.pageouts = 0

    def has(self, obj, offset: int) -> bool:
        return offset in self.store.get(obj.id, ())

    def may_evict(self, obj, page) -> bool:
        """A dirty page goes to the store only if the budget has room for it."""
        if not page.dirty or self.kernel.memory.free >= param.PAGE_SIZE:
            return True
        self.kernel.memory.refused[STORED] += 1
        return False

    def take_store(self, obj):
        """The pages stored for `obj`, handed over whole (its memory becomes shared)."""
        return self.store.pop(obj.id, None) or ChargedStore(self.kernel.memory, STORED)

    def data_request(self, obj, offset: int) -> bytes | None:
        assert self.kernel.lock.held()
        pages = self.store.get(obj.id)
        if pages is None or offset not in pages:
            return None
        self.pageins += 1
        return pages.pop(offset)

    def data_return(self, obj, offset: int, data: bytes) -> None:
        assert self.kernel.lock.held()
        self.pageouts += 1
        pages = self.store.get(obj.id)
        if pages is None:
            pages = self.store[obj.id] = ChargedStore(self.kernel.memory, STORED)
        pages[offset] = bytes(data)            # charged even past the limit: may_evict checked
                                               # the room, and a returned page is never lost

    def terminate(self, obj) -> None:
        pages = self.store.pop(obj.id, None)
        if pages is not None:
            pages.release()

    def stored_pages(self, obj) -> int:
        return len(self.store.get(obj.id, ()))

    def __repr__(self) -> str:
        n = sum(len(p) for p in self.store.values())
        return f"<DefaultPager {n} pages stored, in={self.pageins} out={self.pageouts}>"
