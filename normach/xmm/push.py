"""No residual dependency: after a teleport, the old node lets go of the memory.

When a task is teleported, its pages stay where they were and follow the child
on demand.  If the parent's node kept serving them for ever, the child would
depend on the old node (MOSIX's "home node" problem).  So once the parent is
gone, each object that nothing but the child's node uses any more is
*evacuated*: the manager pushes every page it or its node still holds to the
child's node, in batches, as write grants, and finally hands over the object
itself (`xmm_adopt`): the child's node turns its copy into an ordinary local
object, the manager retires, and the old node holds nothing for it.  Pages the
child faulted on meanwhile are simply skipped; an object another node still
maps keeps its manager (it is shared, V2.12).
"""

from __future__ import annotations

from .. import param
from ..errors import KernError
from . import messages as m
from .client import RW, WRITE

BATCH = param.XMM_PUSH_BATCH


def evacuate_one(xmm, xid, node: int) -> bool:
    """Push `xid`'s pages to `node` and hand the object over; True when done.
    Runs on the background thread (no lock held on entry)."""
    with xmm.kernel.lock:
        mgr = xmm.managers.get(xid)
        if mgr is None:
            return False
        try:
            if not only_user(mgr, node):
                return False
            return _evacuate(xmm, mgr, xid, node)
        finally:
            xmm._maybe_retire(mgr, hand_over=False)    # its last user may have left meanwhile


def _evacuate(xmm, mgr, xid, node: int) -> bool:
    offsets = sorted(set(mgr.obj.pages) | set(mgr.store) | set(mgr.pages) | _below(mgr))
    for i in range(0, len(offsets), BATCH):
        if not _push_batch(xmm, mgr, node, offsets[i:i + BATCH]):
            return False
    while any(st.busy for st in mgr.pages.values()):
        mgr.idle.wait()                   # a request under way may yet take a page back here
    if xmm.managers.get(xid) is not mgr:
        return False
    if not only_user(mgr, node) or mgr.lost or mgr.store or mgr.obj.pages:
        return False
    if mgr.below is not None:
        return False                      # a copy object reads through another one here
    mgr.adopting = True                   # requests and new users wait (Manager.acquire):
                                          # they would change what moves away
    try:
        ok = xmm.call(node, m.xmm_adopt(xid=list(xid))).ok
    except KernError:
        ok = False
    finally:
        mgr.adopting = False
        mgr.idle.notify_all()
    if not ok:
        xmm._maybe_hand_over(mgr)         # refused for now (a fault under way there): later
        return False
    if xmm.managers.get(xid) is not mgr:
        return False
    assert only_user(mgr, node), "a user joined during the hand-over"
    mgr.clients.pop(node, None)
    for st in mgr.pages.values():
        st.holders.clear()
    xmm.stats["evacuated"] = xmm.stats.get("evacuated", 0) + 1
    return True


def _below(mgr) -> set:
    """Offsets (in the object) of the pages resident in the objects below it here."""
    out, obj, shift = set(), mgr.obj.shadow, mgr.obj.shadow_offset
    while obj is not None:
        out.update(o - shift for o in obj.pages if 0 <= o - shift < mgr.size)
        shift += obj.shadow_offset
        obj = obj.shadow
    return out


def only_user(mgr, node: int) -> bool:
    """Nothing but `node` uses or holds any page of the object (a node that left may still
    owe pages it wrote: they come back in a release first).  A copy this node holds
    with no user here (ref_count 1: the manager's own reference) does not count: it
    is the manager's, and the push takes it back before it moves the page."""
    return (set(mgr.clients) == {node} and mgr.obj.ref_count == 1 and mgr.copy is None
            and mgr.dependents == 0
            and all(set(st.holders) - {mgr.node} <= {node} for st in mgr.pages.values()))


def _push_batch(xmm, mgr, node: int, offsets) -> bool:
    """Grant `node` write access with the data of each page it does not write yet (a read
    copy it may hold is replaced by the same data: whatever it holds, it then holds all).
    Conditions: kernel lock held (released while `node` answers)."""
    taken, seqs, data = [], [], []
    states = [mgr.acquire(off) for off in offsets]
    try:
        for off, st in zip(offsets, states):
            if off in mgr.lost:
                continue
            if mgr.node in st.holders:
                mgr._lock(st, mgr.node, off, 0)        # this node's copy (returned to the store)
            if st.holders.get(node, [0])[0] & WRITE:
                mgr.store.pop(off, None)              # its copy is the page's content
                continue
            if set(st.holders) - {node}:
                continue                              # someone else holds it: not ours to move
            page = mgr._content(off)
            if page is None:
                continue                              # zeros: the child zero-fills it itself
            taken.append(off)
            seqs.append(mgr._grant(st, node, RW))
            data.append(page)
        if not taken:
            return True
        try:
            xmm.call(node, m.xmm_push(xid=list(mgr.xid), offsets=taken, seqs=seqs,
                                       data=b"".join(data)))
        except KernError:
            for off, seq in zip(taken, seqs):            # it never got them: the store has them
                st = mgr.pages[off]
                if st.holders.get(node, [0, 0])[1] == seq:
                    del st.holders[node]
            return False
        for off in taken:
            mgr.store.pop(off, None)
        xmm.stats["pushed_out"] += len(taken)
        return True
    finally:
        for st in states:
            mgr.release_page(st)
