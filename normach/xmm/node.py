"""XMM on one node: the managers it runs, the shared objects it maps, and the
messages between them.

An object becomes shared across nodes when a task's memory is given to a task
on another node (norma_task_*, xmm/copy_vm.py): `export` makes its node the
object's manager node, names it by an xid `(node, object id)` and gives its
VMObject an XmmPager, so from then on this node too holds its pages only by
the manager's grant.  Another node `import_object`s the xid: a local VMObject
with an XmmPager, registered with the manager (`attach`) before any task maps
it.  When that local object dies its node sends a *release* carrying what it
wrote.  When nothing but the manager uses an object any more it is *retired*:
the VMObject goes back to the default pager, with the manager's store copies.

Work that must not run under the kernel lock of a dying object's node (releases,
retirement checks, the background push after a teleport) is queued for one
background thread per node.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading

from .. import param
from ..errors import KernError, KernReturn
from . import messages as m
from .client import DATA, ERROR, READ, XmmPager
from .manager import Manager

log = logging.getLogger(__name__)
K = KernReturn


class Xmm:
    """XMM state of one node.

    Fields (kernel lock): managers {xid: Manager} (objects managed here), pagers
    {xid: XmmPager} (every shared object this node maps or still owes data for),
    stats.
    """

    def __init__(self, kernel, net):
        self.kernel = kernel
        self.net = net
        self.node = kernel.node
        self.managers: dict[tuple, Manager] = {}
        self.pagers: dict[tuple, XmmPager] = {}
        self.exporting = collections.Counter()   # xid -> vectors naming it still in transit
        self.stats = {"exported": 0, "imported": 0, "released": 0, "retired": 0,
                      "pages_in": 0,          # pages granted here (faults, read-ahead, pushes)
                      "pushed_out": 0, "pushed_in": 0, "adopted": 0}
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._delayed: list = []                 # Timers that will queue evacuations
        self._thread = threading.Thread(target=self._background, daemon=True,
                                        name=f"xmm-{self.node}")
        self._thread.start()
        kernel.xmm = self

    def close(self) -> None:
        for timer in self._delayed:
            timer.cancel()
        self._jobs.put(None)
        self._thread.join(5.0)

    # -- where things are ------------------------------------------------------------------
    @staticmethod
    def manager_node(xid) -> int:
        return xid[0]

    def is_manager_node(self, xid) -> bool:
        return xid[0] == self.node

    def busy(self, xid, offset: int) -> bool:
        mgr = self.managers.get(tuple(xid))
        return mgr is not None and mgr.busy(offset)

    # -- sharing an object of this node (X4.1) -----------------------------------------------
    def export(self, obj) -> tuple:
        """Make `obj` shared across nodes (its manager on this node); returns its xid.
        An object already shared keeps its xid.  Conditions: kernel lock held.
        Raises: KERN_FAILURE for a local copy object (a snapshot of a shared object
        taken before sharing is not supported across nodes)."""
        assert self.kernel.lock.held()
        if obj.pager.distributed:
            return obj.pager.xid
        if obj.copy_of is not None:
            raise KernError(K.KERN_FAILURE, "a local copy object cannot be shared across nodes")
        from ..vm.object import DELAY
        from ..vm.pmap import pmap_page_protect
        below = obj.shadow
        while below is not None:      # translations of pages below now go through the manager
            for page in below.pages.values():
                pmap_page_protect(self.kernel.phys, page.frame, 0)
            below = below.shadow
        xid = (self.node, obj.id)
        pager = XmmPager(self, xid, obj.size, initial=True)
        pager.obj = obj
        mgr = Manager(self, xid, obj.reference(), obj.size)
        mgr.store = self.kernel.default_pager.take_store(obj)   # its paged-out pages
        obj.pager = pager
        obj.strategy = DELAY
        self.managers[xid] = mgr
        self.pagers[xid] = pager
        self.stats["exported"] += 1
        return xid

    def _new_copy_manager(self, size: int) -> Manager:
        from ..vm.object import DELAY, VMObject
        obj = VMObject(self.kernel, size)
        xid = (self.node, obj.id)
        pager = XmmPager(self, xid, size)
        pager.obj = obj
        obj.pager, obj.strategy = pager, DELAY
        mgr = Manager(self, xid, obj, size)          # takes the creation reference
        self.managers[xid] = mgr
        self.pagers[xid] = pager
        return mgr

    def copy_object(self, obj) -> tuple:
        """A copy-on-write snapshot of shared `obj` (X4.20): the copy object's xid.
        Conditions: kernel lock held (released while other nodes answer).
        Raises: KERN_NODE_DOWN, KERN_MEMORY_ERROR."""
        xid = obj.pager.xid
        if self.is_manager_node(xid):
            mgr = self.managers[xid]
            return mgr.make_copy(lambda: self._new_copy_manager(mgr.size)).xid
        reply = self.call(xid[0], m.xmm_copy(xid=list(xid)))
        return tuple(reply.xid)

    # -- mapping an object of another node -------------------------------------------------------
    def import_object(self, xid, size: int):
        """A new reference to this node's VMObject for shared object `xid`, made if needed
        (its attach is then pending: `attach_pending`).  Conditions: kernel lock held.
        Raises: KERN_INVALID_ARGUMENT (an xid of this node that is not managed here)."""
        from ..vm.object import DELAY, VMObject
        xid = tuple(xid)
        mgr = self.managers.get(xid)
        if mgr is not None and not mgr.settled():
            mgr = None
        p = self.pagers.get(xid)
        if p is not None and p.obj is not None:
            return p.obj.reference()
        if self.is_manager_node(xid):
            raise KernError(K.KERN_INVALID_ARGUMENT, f"no shared object {xid}")
        if p is None:
            p = self.pagers[xid] = XmmPager(self, xid, size)
        obj = VMObject(self.kernel, size, pager=p)
        obj.strategy = DELAY
        p.obj = obj
        p.gen += 1
        p.attached = False
        self.stats["imported"] += 1
        return obj

    def attach_pending(self, objs) -> None:
        """Register this node with the managers of newly imported `objs` (one message
        per manager node).  Conditions: kernel lock held (released meanwhile).
        Raises: KERN_NODE_DOWN."""
        by_node: dict[int, list] = {}
        for obj in objs:
            p = obj.pager
            if p.distributed and not self.is_manager_node(p.xid) and not p.attached:
                by_node.setdefault(p.xid[0], []).append(p)
        for node, ps in by_node.items():
            self.call(node, m.xmm_attach(xids=[list(p.xid) for p in ps], gens=[p.gen for p in ps]))
            for p in ps:
                p.attached = True

    def detached(self, pager: XmmPager) -> None:
        """The local object of `pager` died: its release goes out in the background.
        Conditions: kernel lock held."""
        assert not self.is_manager_node(pager.xid), "a manager's own object died"
        self._jobs.put(("release", pager.xid, pager.gen, True))

    def paged_out(self, pager: XmmPager) -> None:
        """Pageout took pages `pager`'s node wrote: they go back in the background."""
        self._jobs.put(("release", pager.xid, pager.gen, False))

    # -- requests and locks (the two directions of the coherence protocol) -----------------------
    def request(self, xid, offset: int, desired: int, has: int, ahead: int = 0):
        """This node's kernel asks `xid`'s manager for a page, and for up to `ahead` pages
        after it if they are free: ((kind, access, seq, data), [(offset, kind, access, seq,
        data)...]).  Conditions: kernel lock held (released while the manager's node
        answers).  Raises: KERN_NODE_DOWN."""
        xid = tuple(xid)
        if self.is_manager_node(xid):
            mgr = self.managers.get(xid)
            if mgr is None:
                return (ERROR, 0, 0, b""), []
            grant = mgr.serve(self.node, offset, desired, has)
            return grant, mgr.serve_ahead(self.node, _ahead(offset, ahead), desired)
        r = self.call(xid[0], m.xmm_request(xid=list(xid), offset=offset, desired=desired,
                                             has=has, ahead=ahead))
        size, more = param.PAGE_SIZE, []
        pos = size if r.kind == DATA else 0
        for off, kind, access, seq in r.more:
            data = r.data[pos:pos + size] if kind == DATA else b""
            pos += size if kind == DATA else 0
            more.append((off, kind, access, seq, data))
        return (r.kind, r.access, r.seq, r.data[:size] if r.kind == DATA else b""), more

    def lock_client(self, node: int, xid, offset: int, keep: int, seq: int):
        """A manager here takes access to a page away from `node`: (dirty, data).
        Conditions: kernel lock held (released while `node` answers).
        Raises: KERN_NODE_DOWN."""
        if node == self.node:
            p = self.pagers.get(tuple(xid))
            return p.lock(offset, keep, seq) if p is not None else (False, b"")
        r = self.call(node, m.xmm_lock(xid=list(xid), offset=offset, keep=keep, seq=seq))
        return r.dirty, r.data

    def returned(self, xid, offset: int, data: bytes) -> None:
        self.managers[tuple(xid)].returned(offset, data)

    def call(self, node: int, msg):
        """An RPC to `node` with the kernel lock released.  Raises: KERN_NODE_DOWN."""
        assert self.kernel.lock.held()
        self.kernel.lock.release()
        try:
            return self.net.endpoint.request(node, msg, param.DIPC_REQUEST_TIMEOUT)
        finally:
            self.kernel.lock.acquire()

    # -- serving other nodes (a transport worker thread, no lock held) ----------------------------
    def handle(self, sender: int, msg):
        xid = tuple(msg.xid) if hasattr(msg, "xid") else None
        if xid is not None and not _xid_ok(xid):
            raise KernError(K.MIG_BAD_ARGUMENTS, f"{msg.name}: bad xid")
        if msg.name in _FROM_MANAGER and (sender != self.manager_node(xid)
                                          or self.is_manager_node(xid)):
            raise KernError(K.KERN_INVALID_ARGUMENT,           # only the manager speaks for
                            f"{msg.name} for {xid} from node {sender}")   # its object
        with self.kernel.lock:
            if msg.name == "xmm_request":
                return self._serve_request(sender, xid, msg)
            if msg.name == "xmm_lock":
                if (not _offset_ok(msg.offset, 1 << 62) or type(msg.seq) is not int
                        or msg.seq < 0 or msg.keep not in (0, READ)):
                    raise KernError(K.MIG_BAD_ARGUMENTS, "xmm_lock")
                p = self.pagers.get(xid)
                dirty, data = p.lock(msg.offset, msg.keep, msg.seq) if p else (False, b"")
                return m.xmm_locked(dirty=dirty, data=data)
            if msg.name == "xmm_attach":
                return self._serve_attach(sender, msg)
            if msg.name == "xmm_release":
                return self._serve_release(sender, xid, msg)
            if msg.name == "xmm_copy":
                mgr = self._manager(xid)
                if not mgr.settled():
                    raise KernError(K.KERN_INVALID_ARGUMENT, "object handed over meanwhile")
                c = mgr.make_copy(lambda: self._new_copy_manager(mgr.size))
                return m.xmm_copied(xid=list(c.xid), size=c.size)
            if msg.name == "xmm_vm_map":
                from .copy_vm import apply_vector
                return m.xmm_vm_mapped(count=apply_vector(self, sender, msg.task, msg.entries))
            if msg.name == "xmm_push":
                return m.xmm_pushed(count=self._serve_push(xid, msg))
            if msg.name == "xmm_where":
                mgr = self._manager(xid)
                ranges = [r for r in msg.ranges if isinstance(r, list) and len(r) == 2
                          and all(isinstance(x, int) and 0 <= x <= mgr.size for x in r)]
                return m.xmm_there(counts=[mgr.elsewhere(sender, o, n) for o, n in ranges],
                                   lost=[mgr.lost_in(o, n) for o, n in ranges])
            if msg.name == "xmm_adopt":
                return m.xmm_adopted(ok=self._serve_adopt(xid))
        raise KernError(K.MIG_BAD_ID, f"unexpected {msg.name}")

    def pages_absent(self, xid, ranges) -> list:
        """For each (offset, size) of shared object `xid`: (pages held by other nodes and
        not here, pages lost with a node).  Conditions: kernel lock held (released while
        the manager's node answers).  Raises: KERN_NODE_DOWN."""
        xid = tuple(xid)
        if self.is_manager_node(xid):
            mgr = self.managers.get(xid)
            return [(mgr.elsewhere(self.node, o, n), mgr.lost_in(o, n)) if mgr else (0, 0)
                    for o, n in ranges]
        r = self.call(xid[0], m.xmm_where(xid=list(xid), ranges=[list(x) for x in ranges]))
        if len(r.counts) != len(ranges) or len(r.lost) != len(ranges):
            raise KernError(K.KERN_FAILURE, f"malformed xmm_there for {xid}")
        return list(zip(r.counts, r.lost))

    def _manager(self, xid) -> Manager:
        mgr = self.managers.get(xid)
        if mgr is None:
            raise KernError(K.KERN_INVALID_ARGUMENT, f"no shared object {xid} here")
        return mgr

    def _serve_request(self, sender: int, xid, msg):
        mgr = self.managers.get(xid)
        if (mgr is None or msg.desired not in (1, 3) or msg.has not in (0, 1, 3)
                or not 0 <= msg.offset < mgr.size or msg.offset % param.PAGE_SIZE):
            return m.xmm_grant(kind=ERROR, access=0, seq=0, more=[], data=b"")
        kind, access, seq, data = mgr.serve(sender, msg.offset, msg.desired, msg.has)
        ahead = min(max(msg.ahead, 0), param.XMM_READAHEAD_MAX) if kind != ERROR else 0
        more = mgr.serve_ahead(sender, _ahead(msg.offset, ahead), msg.desired)
        return m.xmm_grant(kind=kind, access=access, seq=seq,
                           more=[[o, k, a, s] for o, k, a, s, _d in more],
                           data=b"".join([data] + [d for *_r, d in more]))

    def _serve_attach(self, sender: int, msg):
        if (len(msg.xids) != len(msg.gens) or not all(_xid_ok(x) for x in msg.xids)
                or not all(isinstance(g, int) for g in msg.gens)):
            raise KernError(K.MIG_BAD_ARGUMENTS, "xmm_attach")
        mgrs = [self._manager(tuple(x)) for x in msg.xids]
        if not all(mgr.settled() for mgr in mgrs):
            raise KernError(K.KERN_INVALID_ARGUMENT, "object handed over meanwhile")
        for mgr, gen in zip(mgrs, msg.gens):
            mgr.clients[sender] = int(gen)
        return m.xmm_attached(count=len(mgrs))

    def _serve_release(self, sender: int, xid, msg):
        mgr = self.managers.get(xid)
        data, size = msg.data, param.PAGE_SIZE
        limit = mgr.size if mgr is not None else 1 << 62
        if (len(data) != size * len(msg.offsets) or len(msg.seqs) != len(msg.offsets)
                or not all(_offset_ok(o, limit) for o in msg.offsets)
                or len(set(msg.offsets)) != len(msg.offsets)
                or not all(isinstance(q, int) for q in msg.seqs)):
            raise KernError(K.MIG_BAD_ARGUMENTS, "xmm_release")
        if mgr is not None:
            pages = {o: (q, bytes(data[i * size:(i + 1) * size]))
                     for i, (o, q) in enumerate(zip(msg.offsets, msg.seqs))}
            mgr.release(sender, msg.gen, pages, msg.final)
            self.stats["released"] += 1
            self._maybe_retire(mgr)
        return m.xmm_released(ok=mgr is not None)

    # -- retirement (X4.26: the object is destroyed with its last user) ---------------------------
    def unreferenced(self, xid) -> None:
        """The manager's own reference is the last one here.  Conditions: kernel lock held."""
        self._jobs.put(("retire", tuple(xid)))

    def retire_unused(self, xids) -> None:
        """Check each of `xids` managed here for retirement (after a failed transfer)."""
        for xid in xids:
            if self.is_manager_node(xid):
                self._jobs.put(("retire", tuple(xid)))

    def _maybe_retire(self, mgr: Manager, hand_over: bool = True) -> None:
        """Give `mgr`'s object back to the default pager if nothing else uses it.
        Conditions: kernel lock held."""
        if self.managers.get(mgr.xid) is not mgr:
            return
        if not mgr.retirable():
            if hand_over:
                self._maybe_hand_over(mgr)
            return
        obj = mgr.obj
        del self.managers[mgr.xid]
        self.pagers.pop(mgr.xid, None)
        for off in list(mgr.store):
            if off in obj.pages:
                del mgr.store[off]                 # this node wrote it since: its page is current
        obj.pager = self.kernel.default_pager
        if mgr.store:
            self.kernel.default_pager.store[obj.id] = mgr.store
        for page in obj.pages.values():
            page.dirty = True
        if mgr.below is not None:
            below = mgr.below
            below.dependents -= 1
            if below.copy is mgr:
                below.copy = None
            self._maybe_retire(below)
        self.stats["retired"] += 1
        obj.deallocate()

    # -- residual dependencies: hand an object to the one node that uses it -----------------------
    def _maybe_hand_over(self, mgr: Manager) -> None:
        """An object only one other node uses, and nothing here, moves there (after a
        chain of teleports, say).  A few attempts at most: the conditions are checked again
        when the push runs.  Conditions: kernel lock held."""
        from .push import only_user
        if (len(mgr.clients) == 1 and only_user(mgr, next(iter(mgr.clients)))
                and mgr.below is None and not mgr.lost
                and mgr.hand_overs < param.XMM_HAND_OVER_TRIES):
            mgr.hand_overs += 1
            self.evacuate([mgr.xid], next(iter(mgr.clients)))

    def evacuate(self, xids, node: int) -> None:
        """After a teleport: push the pages of each object used only by `node` there, then
        hand it the object (no residual dependency).  Runs in the background, after
        XMM_PUSH_DELAY_S: whoever made the teleport (a migration) sets the new task up
        first, without the push's traffic in its way."""
        jobs = [("evacuate", tuple(xid), node) for xid in xids]
        if not jobs:
            return
        if param.XMM_PUSH_DELAY_S <= 0:
            for job in jobs:
                self._jobs.put(job)
            return
        timer = threading.Timer(param.XMM_PUSH_DELAY_S, lambda: [self._jobs.put(j) for j in jobs])
        timer.daemon = True
        timer.start()                            # before flush_background can see it
        self._delayed = [t for t in self._delayed if t.is_alive()] + [timer]

    def _serve_push(self, xid, msg) -> int:
        from .client import DATA, RW
        p = self.pagers.get(xid)
        size = param.PAGE_SIZE
        if (p is None or len(msg.offsets) != len(msg.seqs)
                or len(msg.data) != size * len(msg.offsets)
                or not all(_offset_ok(o, p.size) for o in msg.offsets)
                or not all(isinstance(q, int) and q > 0 for q in msg.seqs)):
            raise KernError(K.MIG_BAD_ARGUMENTS, "xmm_push")
        for i, (off, seq) in enumerate(zip(msg.offsets, msg.seqs)):
            p.install(off, DATA, RW, seq, msg.data[i * size:(i + 1) * size])
        self.stats["pushed_in"] += len(msg.offsets)
        return len(msg.offsets)

    def transfer(self, xids, delta: int) -> None:
        """Vectors naming `xids` start (+1) or finish (-1) their way to another node:
        meanwhile this node does not adopt them (the new node registers with their
        manager as it maps them).  Conditions: kernel lock held."""
        for xid in xids:
            if not self.is_manager_node(xid):
                self.exporting[tuple(xid)] += delta
                if self.exporting[tuple(xid)] <= 0:
                    del self.exporting[tuple(xid)]

    def _serve_adopt(self, xid) -> bool:
        p = self.pagers.get(xid)
        if p is None or p.obj is None or p.orphans or self.exporting[xid] or p.requesting:
            return False          # (a grant still on its way would be dropped: its page lost)
        obj = p.obj
        obj.pager = self.kernel.default_pager      # it owns every page it holds now
        for page in obj.pages.values():
            page.dirty = True
        p.obj = None
        p.changed.notify_all()
        del self.pagers[xid]
        self.stats["adopted"] += 1
        return True

    # -- node failures -----------------------------------------------------------------------------
    def node_down(self, node: int) -> None:
        """`node` died: its writes are lost at our managers; objects it managed fail here."""
        held = self.kernel.lock.held()
        if not held:
            self.kernel.lock.acquire()
        try:
            for mgr in self.managers.values():
                mgr.node_down(node)
            for p in list(self.pagers.values()):
                if p.xid[0] != node:
                    continue
                p.lost = True
                obj = p.obj
                if obj is not None:
                    for page in list(obj.pages.values()):
                        p.drop(obj, page)        # never stale data
                p.orphans.clear()
                p.changed.notify_all()
        finally:
            if not held:
                self.kernel.lock.release()

    # -- the background thread -------------------------------------------------------------------
    def _background(self) -> None:
        from .push import evacuate_one
        while (job := self._jobs.get()) is not None:
            try:
                if job[0] == "release":
                    self._release(*job[1:])
                elif job[0] == "retire":
                    with self.kernel.lock:
                        mgr = self.managers.get(job[1])
                        if mgr is not None:
                            self._maybe_retire(mgr)
                elif job[0] == "evacuate":
                    evacuate_one(self, *job[1:])
                elif job[0] == "call":
                    job[1].set()
            except Exception:                       # a bug: keep the node serving
                log.exception("xmm: background job %r failed", job[0])
                self.stats.setdefault("errors", 0)
                self.stats["errors"] += 1

    def _release(self, xid, gen: int, final: bool) -> None:
        """Give `xid`'s manager the pages this node wrote and no longer maps; `final`: its
        object of generation `gen` is gone.  Forget them once it acknowledged."""
        with self.kernel.lock:
            p = self.pagers.get(xid)
            if p is None or p.lost or (not final and not p.orphans):
                return
            items = list(p.orphans.items())
            step = param.XMM_RELEASE_BATCH          # one message stays under the frame limit
            for i in range(0, max(len(items), 1), step):
                part = dict(items[i:i + step])
                msg = m.xmm_release(xid=list(xid), gen=gen, offsets=list(part),
                                    seqs=[q for q, _d in part.values()],
                                    final=final and i + step >= len(items),
                                    data=b"".join(d for _q, d in part.values()))
                try:
                    self.call(xid[0], msg)
                except KernError:                   # its node is down: node_down cleans up
                    _forget(p, dict(items[i:]))
                    break
                _forget(p, part)
            if p.obj is None and not p.orphans and self.pagers.get(xid) is p:
                del self.pagers[xid]

    def held_object_refs(self):
        """Counter {VMObject: n} of references the managers hold (for audits)."""
        import collections
        return collections.Counter(mgr.obj for mgr in self.managers.values())

    def flush_background(self, timeout: float = 10.0) -> bool:
        """Wait until the background thread did everything queued so far (tests, benchmarks)."""
        for timer in list(self._delayed):          # delayed pushes count as queued
            timer.join(timeout)
        done = threading.Event()
        self._jobs.put(("call", done))
        return done.wait(timeout)

    def __repr__(self) -> str:
        return (f"<Xmm node={self.node} managers={len(self.managers)} "
                f"pagers={len(self.pagers)} {self.stats}>")


_FROM_MANAGER = frozenset({"xmm_lock", "xmm_push", "xmm_adopt"})   # sent only by xid's manager


def _ahead(offset: int, n: int) -> list:
    return [offset + i * param.PAGE_SIZE for i in range(1, n + 1)]


def _offset_ok(offset, size: int) -> bool:
    return isinstance(offset, int) and 0 <= offset < size and offset % param.PAGE_SIZE == 0


def _xid_ok(xid) -> bool:
    return (isinstance(xid, (list, tuple)) and len(xid) == 2
            and all(isinstance(x, int) and 0 <= x < 1 << 62 for x in xid))


def _forget(pager, given: dict) -> None:
    """Drop the orphans handed over (unless a newer one replaced it meanwhile)."""
    for off, orphan in given.items():
        if pager.orphans.get(off) is orphan:
            del pager.orphans[off]
