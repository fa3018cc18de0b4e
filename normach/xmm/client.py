"""The kernel side of a shared memory object (the "kobj" of spec §4.1).

Every node that maps an object managed by XMM holds it as an ordinary local
VMObject whose pager is an `XmmPager`.  The pager remembers, per page, the
access the manager granted this node (X4.4): READ, READ|WRITE, or none (the
page is then not resident, X4.9).  The fault path consults `granted` and calls
`request` when the page is missing or read-only and a write is wanted; the
manager's answer (a *grant*) is installed, and the fault starts over.

Crossing messages.  A grant travels back as the reply to a request while the
manager, done with it, may already send this node a *lock* for a later request
of another node (take the page away, or keep it read-only).  The two can arrive
in either order.  Every grant carries a per-page sequence number, and a lock
carries the number of the grant it revokes; a lock that arrives before its
grant is installed waits for it (the grant is already on its way: the manager
sends locks only for grants it has answered), so a lock always applies to the
state it was meant for.

Pages this node wrote are precious (X4.10): they leave only with their data,
either in the answer to a lock or, when the local object dies or pageout takes
the page, as *orphans* kept here until the manager acknowledges the release
that carries them (each with the sequence number of the grant it was written
under, so a late release never undoes a newer grant).  Read-only copies are
clean and may be dropped silently (X4.11).
"""

from __future__ import annotations

import collections

from .. import param
from ..errors import KernError, KernReturn
from ..kern.memory import STORED, ChargedStore
from ..vm.pager import Pager
from ..vm.pmap import pmap_page_protect

READ, WRITE = 1, 2
RW = READ | WRITE
DATA, ZERO, KEEP, ERROR = 0, 1, 2, 3       # grant kinds: data follows / zero-fill / keep yours / lost


class XmmPager(Pager):
    """This node's view of one shared object.

    Fields (kernel lock): obj (the local VMObject, None once it died), access
    {offset: prot granted}, initial (pages resident here without an access entry
    are held READ|WRITE: the manager node's own object when it was exported),
    installed {offset: seq of the newest grant seen}, orphans {offset: (seq, bytes)
    written here and no longer mapped, until a release carried them}, gen (attach
    generation), lost (the manager's node is down: every fault fails).
    """

    name = "xmm"
    distributed = True

    def __init__(self, xmm, xid: tuple, size: int, initial: bool = False):
        self.xmm = xmm
        self.kernel = xmm.kernel
        self.xid = tuple(xid)
        self.size = size
        self.obj = None
        self.access: dict[int, int] = {}
        self.initial = initial
        self.installed: dict[int, int] = {}
        self.orphans = ChargedStore(self.kernel.memory, STORED)  # {offset: (seq, bytes)}
        self.streams: collections.OrderedDict = collections.OrderedDict()
        # read-ahead: {offset a sequential fault would come next: its window}, newest last
        self.gen = 0
        self.requesting = 0             # requests to the manager whose grant is not in yet
        self.attached = True            # registered with the manager (import_object clears it)
        self.lost = False
        self.changed = self.kernel.lock.condition()   # a grant was installed
        self.stats = {"requests": 0, "locks": 0, "pages_in": 0, "pages_out": 0}

    @property
    def manager_node(self) -> int:
        return self.xmm.manager_node(self.xid)

    # -- what the fault path asks -------------------------------------------------------
    def granted(self, obj, offset: int) -> int:
        acc = self.access.get(offset)
        if acc is None:
            return RW if self.initial and offset in obj.pages else 0
        return acc

    def request(self, obj, offset: int, desired: int) -> None:
        """Ask the manager for `desired` on `offset` and install its grant.

        Conditions: kernel lock held on entry and exit, released while asking.
        Raises: KERN_MEMORY_ERROR (page lost, or its manager's node down).
        """
        assert self.kernel.lock.held() and obj is self.obj
        if self.lost:
            raise KernError(KernReturn.KERN_MEMORY_ERROR, f"xmm {self.xid}: manager node is down")
        has = self.granted(obj, offset) if offset in obj.pages else 0
        page = obj.pages.get(offset)
        if page is not None:
            page.wired += 1                # an upgrade keeps its data resident meanwhile
        self.stats["requests"] += 1
        ahead = self._read_ahead(offset) if not has else 0
        self.requesting += 1                 # no hand-over while a grant is on its way here
        try:
            (kind, access, seq, data), more = self.xmm.request(self.xid, offset, desired, has,
                                                               ahead)
        except KernError as e:
            if obj.pager is not self or self.obj is not obj:
                return               # handed over to this node meanwhile: the fault starts over
            if e.code != KernReturn.KERN_NODE_DOWN:
                raise
            raise KernError(KernReturn.KERN_MEMORY_ERROR, f"xmm {self.xid}: {e.detail}") from None
        finally:
            self.requesting -= 1
            if page is not None:
                page.wired -= 1
        if obj.pager is not self or self.obj is not obj:
            return                   # gone meanwhile: the fault starts over
        if kind == ERROR:
            self.installed[offset] = max(seq, self.installed.get(offset, 0))
            self.changed.notify_all()
            raise KernError(KernReturn.KERN_MEMORY_ERROR,
                            f"xmm {self.xid}: page {offset:#x} was lost with its node")
        self.install(offset, kind, access, seq, data)
        last = offset
        for off, kind, access, seq, data in more:                # read-ahead
            self.install(off, kind, access, seq, data)           # (an older grant is ignored)
            last = off
        self._expect(last + param.PAGE_SIZE, ahead)

    def _read_ahead(self, offset: int) -> int:
        """Pages to ask for after `offset`: none for a fault out of the blue, a window that
        doubles for a fault where one of the recent sequential streams goes on."""
        window = self.streams.pop(offset, None)
        if window is None:
            return 0
        return min(max(window * 2, param.XMM_READAHEAD), param.XMM_READAHEAD_MAX)

    def _expect(self, offset: int, window: int) -> None:
        self.streams[offset] = window
        self.streams.move_to_end(offset)
        while len(self.streams) > param.XMM_READAHEAD_STREAMS:
            self.streams.popitem(last=False)

    def install(self, offset: int, kind: int, access: int, seq: int, data) -> None:
        """Apply a grant (ignored if a newer one is already in).  Conditions: kernel lock held."""
        if seq <= self.installed.get(offset, 0):
            return
        self.installed[offset] = seq
        self.changed.notify_all()
        obj = self.obj
        if obj is None or not obj.alive:
            if access & WRITE and kind == DATA:
                self.orphans[offset] = (seq, bytes(data))   # ours to give back
                self.xmm.paged_out(self)
            return
        phys = self.kernel.phys
        page = obj.pages.get(offset)
        if kind == KEEP:
            assert page is not None, f"xmm {self.xid}: upgrade of a page not resident"
        else:
            if page is None:
                page = obj.page_insert(offset, zero=(kind == ZERO))
            elif kind == ZERO:
                phys.frame_view(page.frame)[:] = bytes(param.PAGE_SIZE)
            if kind == DATA:
                phys.frame_view(page.frame)[:] = data
            self.stats["pages_in"] += 1
            self.xmm.stats["pages_in"] += 1
        self.access[offset] = access
        page.dirty = bool(access & WRITE)

    # -- what the manager asks ----------------------------------------------------------
    def lock(self, offset: int, keep: int, seq: int):
        """Reduce this node's access to `offset` to `keep` (0: drop the page); returns
        (dirty, data): the page's data if this node may have written it.

        Conditions: kernel lock held (released while waiting for the grant `seq`).
        """
        assert self.kernel.lock.held()
        self.stats["locks"] += 1
        if not self.changed.wait_for(lambda: self.installed.get(offset, 0) >= seq or self.lost,
                                     timeout=param.XMM_GRANT_WAIT_S):
            self.installed[offset] = seq          # never came: refuse it if it ever does
            self.stats["grants_missed"] = self.stats.get("grants_missed", 0) + 1
        obj = self.obj
        page = obj.pages.get(offset) if obj is not None else None
        if page is None:
            orphan = self.orphans.pop(offset, None)
            return (orphan is not None), (orphan[1] if orphan else b"")
        phys = self.kernel.phys
        acc = self.granted(obj, offset)
        # first every CPU loses write access (the shootdown waits for them), then the data
        # is taken: a store a CPU made in between would otherwise be lost
        pmap_page_protect(phys, page.frame, 5 if keep & READ else 0)   # READ|EXECUTE or none
        data = bytes(phys.frame_view(page.frame)) if acc & WRITE else b""
        if keep & READ:
            self.access[offset] = acc & keep | READ
            page.dirty = False
        else:
            self.drop(obj, page)
        self.stats["pages_out"] += 1
        return bool(data), data

    def drop(self, obj, page) -> None:
        """Take a page out of this node's memory.  Conditions: kernel lock held."""
        pmap_page_protect(self.kernel.phys, page.frame, 0)
        del obj.pages[page.offset]
        self.kernel.phys.page_free(page)
        self.access.pop(page.offset, None)

    # -- the Pager interface --------------------------------------------------------------
    def has(self, obj, offset: int) -> bool:
        return True                      # the manager answers for every page

    def data_request(self, obj, offset: int):
        raise AssertionError("distributed pages come through request()")

    def may_evict(self, obj, page) -> bool:
        if self.granted(obj, page.offset) & WRITE and self.xmm.is_manager_node(self.xid):
            return not self.xmm.busy(self.xid, page.offset)
        return True

    def evict_returns(self, obj, page) -> bool:
        return bool(self.granted(obj, page.offset) & WRITE)

    def data_return(self, obj, offset: int, data: bytes) -> None:
        """Pageout of a written page (X4.19): on the manager's node it goes to the
        manager's store; elsewhere it is kept as an orphan and returned in the
        background (a lock meanwhile finds it here)."""
        if self.xmm.is_manager_node(self.xid):
            self.xmm.returned(self.xid, offset, data)
        else:
            self.orphans[offset] = (self.installed.get(offset, 0), bytes(data))
            self.xmm.paged_out(self)
        self.access.pop(offset, None)

    def terminate(self, obj) -> None:
        """The local object died: keep what this node wrote and tell the manager."""
        phys = self.kernel.phys
        for off, page in obj.pages.items():
            if self.granted(obj, off) & WRITE:
                self.orphans[off] = (self.installed.get(off, 0), bytes(phys.frame_view(page.frame)))
        self.access.clear()
        self.initial = False
        self.obj = None
        self.changed.notify_all()
        self.xmm.detached(self)

    def absent(self, obj, offset: int, size: int) -> tuple[int, int]:
        """Asks the manager (Xmm.pages_absent); once the manager's node is down, every
        page of the range is lost (each access answers KERN_MEMORY_ERROR).  An object
        handed over to this node while the manager was asked has every page here.
        Raises: KERN_NODE_DOWN (the manager's node does not answer, not yet declared down)."""
        if self.lost:
            return 0, size // param.PAGE_SIZE
        try:
            (elsewhere, lost), = self.xmm.pages_absent(self.xid, [(offset, size)])
        except KernError:
            if obj.pager is not self or self.obj is not obj:
                return 0, 0          # handed over to this node meanwhile: every page is here
            raise
        return elsewhere, lost

    def stored_pages(self, obj) -> int:
        return 0

    def copy(self, obj):
        """A snapshot of the shared object: its manager's copy object, mapped here (X4.20).
        Conditions: kernel lock held (released while the manager works).
        Raises: KERN_NODE_DOWN, KERN_MEMORY_ERROR."""
        obj.reference()                      # the caller's entry may go meanwhile
        try:
            xid = self.xmm.copy_object(obj)
            copy = self.xmm.import_object(xid, obj.size)
            try:
                self.xmm.attach_pending([copy])
            except BaseException:
                copy.deallocate()
                raise
            return copy
        finally:
            obj.deallocate()

    def unreferenced(self, obj) -> None:
        """Only one reference left: on the manager's node it is the manager's own."""
        if self.xmm.is_manager_node(self.xid):
            self.xmm.unreferenced(self.xid)

    def __repr__(self) -> str:
        w = sum(1 for a in self.access.values() if a & WRITE)
        return (f"<XmmPager {self.xid[0]}:{self.xid[1]} {len(self.access)} pages "
                f"({w} written) orphans={len(self.orphans)}{' LOST' if self.lost else ''}>")

