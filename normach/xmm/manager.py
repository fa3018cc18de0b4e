"""The coherence manager of one shared memory object (the SVM "mobj", spec §4).

One manager per object, on the node where the object was first shared (its
*manager node*; X4.1, X4.3).  Every kernel that maps the object, the manager
node's own included, is a client (xmm/client.py).  Per page the manager knows
which kernels hold it and with what access: one writer, or any number of
readers (X4.6, X4.7).

Requests for one page are served one at a time, in arrival order (the page is
*busy* meanwhile).  Serving a request may take access away from other kernels
(a *lock*): the manager node's kernel lock is released while they answer, and
the busy page keeps every other request for it waiting.

* Read (X4.12): a writer elsewhere is demoted to reader and returns its data,
  which becomes the page's *store* copy; the reader gets the page's content:
  the store copy, else what lies below the object, else zeros.
* Write (X4.13): every other holder is flushed; a writer returns its data;
  if the object has a copy object that has no version of the page yet, the
  current content is pushed into it first (X4.22); the writer then holds the
  only up-to-date copy (the store copy is dropped: X4.10).
* Upgrade (X4.14): a reader asking to write keeps its data (a KEEP grant).
* A request from a kernel that already holds what it asks (crossing messages,
  X4.15) is answered with a KEEP grant.

Data is never dropped (X4.11): a writer's page leaves it only with its data
(answer to a lock, pageout on the manager node, or a release), and when a
writer's node dies its pages are *lost*: later requests get an error rather
than old data.

Copy objects (X4.20-X4.23).  A snapshot of a shared object is a copy object
managed here too: its pages are those pushed into it, and it reads every other
page through the object it copies (`below`).  A new copy demotes every writer
so that the next write asks, and pushes.  The copy's clients never write it
(they shadow it first), so a copy's page, once read, stays valid.
"""

from __future__ import annotations

import collections

from .. import param
from ..errors import KernError, KernReturn
from ..kern.memory import STORED, ChargedStore
from .client import DATA, ERROR, KEEP, READ, RW, WRITE, ZERO

ZEROS = bytes(param.PAGE_SIZE)


class PageState:
    """Manager-side state of one page.  Fields (manager node's kernel lock):
    holders {node: [access, seq of its grant, the node's attach generation then]},
    seq (last grant), busy."""

    __slots__ = ("holders", "seq", "busy")

    def __init__(self):
        self.holders: dict[int, list] = {}
        self.seq = 0
        self.busy = False

    def writer(self):
        for node, held in self.holders.items():
            if held[0] & WRITE:
                return node
        return None


class Manager:
    """The manager of one object.

    Fields (kernel lock): xid, obj (this node's VMObject for it; the manager
    holds one reference), size, pages {offset: PageState}, store {offset: bytes},
    clients {node: attach generation} (other kernels mapping it), copy (the
    current copy Manager), below (for a copy object: the Manager it reads
    through) and below_offset, dependents (copies reading through this one),
    lost (offsets whose only copy died with a node), stats.
    """

    def __init__(self, xmm, xid: tuple, obj, size: int):
        self.xmm = xmm
        self.kernel = xmm.kernel
        self.node = xmm.kernel.node
        self.xid = xid
        self.obj = obj
        self.size = size
        self.pages: dict[int, PageState] = {}
        self.store = ChargedStore(self.kernel.memory, STORED)   # charged to the budget
        self.clients: dict[int, int] = {}
        self.copy: Manager | None = None
        self.below: Manager | None = None
        self.below_offset = 0
        self.dependents = 0
        self.lost: set[int] = set()
        self.hand_overs = 0                              # attempts to move it to its one user
        self.adopting = False                            # handing the object over (xmm/push.py)
        self.idle = self.kernel.lock.condition()        # a page stopped being busy
        self.stats = collections.Counter()

    @property
    def client(self):
        return self.obj.pager

    # -- page states ----------------------------------------------------------------------
    def state(self, offset: int) -> PageState:
        """The page's state; pages this node held when the object was exported start
        held READ|WRITE here.  Conditions: kernel lock held."""
        st = self.pages.get(offset)
        if st is None:
            st = self.pages[offset] = PageState()
            if offset in self.obj.pages:
                g = self.client.granted(self.obj, offset)
                if g:
                    st.holders[self.node] = [g, self.client.installed.get(offset, 0), 0]
        return st

    def acquire(self, offset: int) -> PageState:
        """Wait until no request is being served for the page and no hand-over is under
        way, then mark the page busy.  (A request served during a hand-over would change
        what is being handed over: a page taken back from the adopting node would stay
        in the store here, and be lost when the manager retires.)
        Conditions: kernel lock held (released while waiting)."""
        while True:
            st = self.state(offset)
            if not st.busy and not self.adopting:
                st.busy = True
                return st
            self.idle.wait()

    def current(self) -> bool:
        """This manager still manages its object (it was not retired or handed over)."""
        return self.xmm.managers.get(self.xid) is self

    def release_page(self, st: PageState) -> None:
        st.busy = False
        self.idle.notify_all()
        if not self.clients and self.obj.ref_count == 1:
            self.xmm.unreferenced(self.xid)          # perhaps the last use: check later

    def settled(self) -> bool:
        """Wait until no hand-over is in progress; False if the object was handed over.
        Conditions: kernel lock held (released while waiting)."""
        while self.adopting:
            self.idle.wait()
        return self.xmm.managers.get(self.xid) is self

    def busy(self, offset: int) -> bool:
        st = self.pages.get(offset)
        return st is not None and st.busy

    # -- serving a kernel (X4.12-X4.15) --------------------------------------------------------
    def serve(self, node: int, offset: int, desired: int, has: int):
        """Answer `node`'s request for `offset`: (kind, access, seq, data).

        Conditions: kernel lock held on entry and exit, released while other kernels
        are asked.
        """
        assert self.kernel.lock.held()
        self.stats["requests"] += 1
        st = self.acquire(offset)
        try:
            if not self.current():            # handed over while the request waited: the
                raise KernError(KernReturn.KERN_ABORTED,      # requester owns every page now
                                f"xmm {self.xid}: handed over")
            if offset in self.lost:
                return ERROR, 0, st.seq, b""
            held = st.holders.get(node, [0, 0])[0]
            if has and has & desired == desired and held & desired == desired:
                return KEEP, held, self._grant(st, node, held), b""          # X4.15
            if held & WRITE and not has:
                self._lock(st, node, offset, 0)       # it lost track of its page: take it back
            if desired & WRITE:
                return self._serve_write(st, node, offset, bool(has))
            return self._serve_read(st, node, offset, bool(has))
        finally:
            self.release_page(st)

    def serve_ahead(self, node: int, offsets, desired: int) -> list:
        """Read-ahead: grant `node` each of `offsets` that no other node uses and no request
        waits for (this node's own copy is demoted or taken, which needs no message);
        [(offset, kind, access, seq, data)].
        Conditions: kernel lock held (may be released while reading below)."""
        out = []
        for off in offsets:
            if self.adopting or not self.current():
                break
            if not 0 <= off < self.size or off in self.lost:
                continue
            st = self.state(off)
            if st.busy or node in st.holders or set(st.holders) - {self.node}:
                continue                  # only this node's own copy is taken for read-ahead
            st.busy = True
            try:
                if self.node in st.holders and (desired & WRITE or st.writer() is not None):
                    self._lock(st, self.node, off, 0 if desired & WRITE else READ)
                data = self._content(off)
                if desired & WRITE:
                    self._push(off, data)
                    self.store.pop(off, None)
                access = RW if desired & WRITE else READ
                out.append((off, ZERO if data is None else DATA, access,
                            self._grant(st, node, access), data or b""))
                self.stats["read_ahead"] += 1
            finally:
                self.release_page(st)
        return out

    def _serve_read(self, st: PageState, node: int, offset: int, has: bool):
        w = st.writer()
        if w is not None and w != node:
            self._lock(st, w, offset, READ)                                 # demote (X4.12)
        if offset in self.lost:
            return ERROR, 0, st.seq, b""
        if has and st.holders.get(node, [0])[0] & READ:
            return KEEP, READ, self._grant(st, node, READ), b""
        data = self._content(offset)
        self.stats["reads"] += 1
        return (ZERO if data is None else DATA), READ, self._grant(st, node, READ), data or b""

    def _serve_write(self, st: PageState, node: int, offset: int, has: bool):
        for h in [h for h in st.holders if h != node]:
            self._lock(st, h, offset, 0)                                    # flush (X4.13)
        if offset in self.lost:
            return ERROR, 0, st.seq, b""
        keep = has and st.holders.get(node, [0])[0] & READ
        data = None if keep else self._content(offset)
        self._push(offset, data if not keep else self._content(offset))
        self.store.pop(offset, None)             # the writer holds the only current copy
        self.stats["writes"] += 1
        seq = self._grant(st, node, RW)
        if keep:
            return KEEP, RW, seq, b""                                       # X4.14
        return (ZERO if data is None else DATA), RW, seq, data or b""

    def _grant(self, st: PageState, node: int, access: int) -> int:
        st.seq += 1
        st.holders[node] = [access, st.seq, self.clients.get(node, 0)]
        return st.seq

    def _lock(self, st: PageState, node: int, offset: int, keep: int) -> None:
        """Reduce `node`'s access to `keep`; a writer's data becomes the store copy.
        Conditions: kernel lock held (released while a remote node answers); page busy."""
        acc, seq = st.holders[node][:2]
        self.stats["locks"] += 1
        try:
            dirty, data = self.xmm.lock_client(node, self.xid, offset, keep, seq)
        except KernError:                                 # KERN_NODE_DOWN: its copy is gone
            if acc & WRITE:
                self.lost.add(offset)
            st.holders.pop(node, None)
            return
        if dirty and len(data) == param.PAGE_SIZE:
            self.store[offset] = bytes(data)
        elif acc & WRITE and offset not in self.store and dirty:
            self.lost.add(offset)                         # a malformed answer: never guess
        if node in st.holders:
            if keep:
                st.holders[node][0] = acc & keep | READ
            else:
                del st.holders[node]

    # -- content ---------------------------------------------------------------------------------
    def _content(self, offset: int):
        """The page's current data when no kernel writes it, or None for zeros.
        Conditions: kernel lock held (may be released); page busy."""
        if offset in self.store:
            return self.store[offset]
        if self.below is not None:
            return self.below.peek(offset + self.below_offset, self)
        if self.obj.shadow is not None:
            from ..vm.fault import object_read_page
            return object_read_page(self.obj.shadow, offset + self.obj.shadow_offset)
        return None

    def peek(self, offset: int, copy: "Manager"):
        """A copy object reads a page it has no version of through this object."""
        st = self.acquire(offset)
        try:
            if offset in copy.store:                      # pushed while it waited (X4.23)
                return copy.store[offset]
            w = st.writer()
            if w is not None:
                self._lock(st, w, offset, READ)
            if offset in self.lost:
                return ZEROS
            return self._content(offset)
        finally:
            self.release_page(st)

    def _push(self, offset: int, data) -> None:
        """Before a write: the copy object keeps the old content (X4.22)."""
        c = self.copy
        if c is not None and offset not in c.store:
            c.store[offset] = data if data is not None else ZEROS
            self.stats["pushes"] += 1
        local = self.obj.copy                             # a copy made before the export
        if local is not None and not local.has_page(offset):
            page = local.page_insert(offset, zero=data is None)
            if data is not None:
                self.kernel.phys.frame_view(page.frame)[:] = data
            page.dirty = True

    # -- snapshots (X4.20, X4.21) ---------------------------------------------------------------
    def make_copy(self, new_copy) -> "Manager":
        """The copy object to give a new snapshot: the current one if nothing was pushed
        into it yet, else `new_copy()` (a fresh Manager) inserted above the old one.
        Every writer is demoted so that its next write pushes.
        Conditions: kernel lock held (released while writers answer)."""
        old = self.copy
        if old is not None and not old.store:
            return old
        c = new_copy()
        c.below, c.below_offset = self, 0
        self.dependents += 1
        if old is not None:                               # the old copy is frozen
            old.below = c
            c.dependents += 1
            self.dependents -= 1
        self.copy = c
        offsets = set(self.obj.pages) | {o for o, s in self.pages.items() if s.writer() is not None}
        for off in sorted(offsets):
            st = self.acquire(off)
            try:
                w = st.writer()
                if w is not None:
                    self._lock(st, w, off, READ)
            finally:
                self.release_page(st)
        self.stats["copies"] += 1
        return c

    # -- kernels joining and leaving -----------------------------------------------------------
    def returned(self, offset: int, data: bytes) -> None:
        """This node paged out a page it wrote.  Conditions: kernel lock held; page not busy."""
        st = self.state(offset)
        assert not st.busy
        st.holders.pop(self.node, None)
        self.store[offset] = bytes(data)

    def release(self, node: int, gen: int, pages: dict, final: bool) -> None:
        """`node` gives back `pages` {offset: (seq, data)} it wrote and no longer maps;
        `final`: its object of attach generation `gen` is gone.  Data counts only for the
        grant it was written under, and only holdings of that generation or older end,
        so a late release never undoes what a newer generation got since.
        Conditions: kernel lock held (released while waiting for busy pages)."""
        for off, (seq, data) in pages.items():
            st = self.acquire(off)
            try:
                held = st.holders.get(node)
                if held is not None and held[0] & WRITE and held[1] == seq:
                    self.store[off] = data
                    del st.holders[node]
            finally:
                self.release_page(st)
        if not final:
            return
        for st in self.pages.values():
            held = st.holders.get(node)
            if held is not None and not held[0] & WRITE and held[2] <= gen:
                del st.holders[node]                   # its read copies went with it
        if self.clients.get(node) == gen:
            del self.clients[node]

    def node_down(self, node: int) -> None:
        """`node` died: what it wrote is lost (X4.11 forbids guessing).  Conditions: lock held."""
        self.clients.pop(node, None)
        for off, st in self.pages.items():
            acc = st.holders.pop(node, [0])[0]
            if acc & WRITE:
                self.lost.add(off)

    def retirable(self) -> bool:
        """Nothing but this node's own object uses the manager any more."""
        return (not self.clients and self.dependents == 0 and self.copy is None
                and self.obj.ref_count == 1 and not any(s.busy for s in self.pages.values()))

    def elsewhere(self, node: int, offset: int, size: int) -> int:
        """Pages of [offset, offset+size) that `node` does not hold but another node or
        this manager's store does.  Conditions: kernel lock held."""
        n, end = 0, offset + size
        known = set(self.pages) | set(self.store) | set(self.obj.pages)   # bounded by what
        for off in (o for o in known if offset <= o < end):                # exists, not by size
            st = self.pages.get(off)
            if st is None:
                n += off in self.store or (off in self.obj.pages and node != self.node)
            elif node not in st.holders:
                n += bool(st.holders) or off in self.store
        return n

    def lost_in(self, offset: int, size: int) -> int:
        """Pages of [offset, offset+size) whose only copy died with a node."""
        return sum(1 for off in self.lost if offset <= off < offset + size)

    def __repr__(self) -> str:
        return (f"<Manager {self.xid[0]}:{self.xid[1]} size={self.size:#x} pages={len(self.pages)} "
                f"store={len(self.store)} clients={sorted(self.clients)} lost={len(self.lost)}>")
