"""task_copy_vm: a new task's address space on another node (spec §2.4).

The parent's node walks the parent's map once and describes each entry in one
element of a vector:

    [start, end, manager node, object id, offset, object size,
     protection, max protection, inheritance, needs_copy, shared]

No page moves: a shared entry names the object itself (exported, so it gets a
manager here if it had none); a copied entry names a copy object made by the
object's manager (X4.20), mapped needs_copy so the child shadows it before its
first write; an untouched private entry names no object (manager node -1) and
stays zero-fill.  The vector goes to the child's node in one message, where
each object is imported and the entries entered at the same addresses, all or
nothing (V2.15).  So the time the parent is stopped does not depend on how
much memory it has: its pages follow on demand, through the managers.

Which entries are shared (the table of §2.4): norma_task_create honours
inheritance (SHARE shared, COPY copied, NONE omitted); clone and teleport share
every entry (§0.7, V2.11, V2.12) and keep the parent's inheritance values (V2.10).
"""

from __future__ import annotations

from .. import param
from ..errors import KernError, KernReturn
from ..mach_types import VMInherit, VMProt

K = KernReturn
FIELDS = 11


def build_vector(xmm, vmap, share_all: bool) -> tuple:
    """(vector describing `vmap` for a child, xids held in transit): every object the
    vector names or was copied from is held (`Xmm.transfer`) until the caller releases
    `held` with `xmm.transfer(held, -1)`.  Conditions: kernel lock held (released while
    the managers of imported objects make copies).
    Raises: KERN_NODE_DOWN, KERN_FAILURE (memory that cannot be shared)."""
    from ..vm.map import entry_share_object
    out, held = [], []
    try:
        for e in list(vmap.entries):
            share = share_all or e.inheritance == VMInherit.SHARE
            if not share and (e.inheritance != VMInherit.COPY
                              or not e.max_protection & VMProt.READ):
                continue
            if not share and e.object is None:
                xid, size, offset = (-1, -1), 0, 0               # untouched: zero-fill
            else:
                obj = entry_share_object(vmap, e)
                xid, size, offset = xmm.export(obj), obj.size, e.offset
                xmm.transfer([xid], +1)
                held.append(xid)
                if not share:
                    xid = xmm.copy_object(obj)
                    xmm.transfer([xid], +1)
                    held.append(xid)
            out.append([e.start, e.end, xid[0], xid[1], offset, size, e.protection,
                        e.max_protection, e.inheritance, int(not share), int(share)])
    except BaseException:
        xmm.transfer(held, -1)
        raise
    return out, held


def exported_xids(vector) -> list:
    return sorted({(el[2], el[3]) for el in vector if el[2] >= 0})


def _validate(vmap, entries) -> None:
    """V2.15: sorted, page-aligned, inside the map, free, with valid bits; else raise."""
    last = vmap.min_address
    for el in entries:
        if not (isinstance(el, list) and len(el) == FIELDS and all(isinstance(x, int) for x in el)):
            raise KernError(K.KERN_INVALID_ARGUMENT, "malformed vector element")
        start, end, _node, _lid, offset, size, prot, maxprot, inh, _nc, _sh = el
        if start % param.PAGE_SIZE or end % param.PAGE_SIZE or offset % param.PAGE_SIZE:
            raise KernError(K.KERN_INVALID_ADDRESS, f"unaligned entry {start:#x}")
        if start < last or end <= start or offset < 0:
            raise KernError(K.KERN_INVALID_ADDRESS, f"misordered entry {start:#x}")
        if end > vmap.max_address:
            raise KernError(K.KERN_INVALID_ADDRESS, f"entry {start:#x} outside the map")
        if _node >= vmap.kernel.nnodes or (_node >= 0 and _lid < 0):
            raise KernError(K.KERN_INVALID_ARGUMENT, f"entry {start:#x}: no such object")
        if _node >= 0 and (size < 0 or offset + (end - start) > size):
            raise KernError(K.KERN_INVALID_ADDRESS, f"entry {start:#x} beyond its object")
        if prot & ~7 or maxprot & ~7 or prot & ~maxprot or not 0 <= inh <= 2:
            raise KernError(K.KERN_INVALID_ARGUMENT, f"entry {start:#x}: bad protection")
        if vmap.entries_in(start, end):
            raise KernError(K.KERN_NO_SPACE, f"entry {start:#x}: address in use")
        last = end


def apply_vector(xmm, sender: int, task_uid, entries) -> int:
    """Serve xmm_vm_map: fill the (new) task named by `task_uid` from `entries`, all or
    nothing; on failure the task is terminated.  Returns the number of entries.
    Conditions: kernel lock held (released while the managers register this node).
    Raises: KERN_INVALID_ARGUMENT (no such task), the errors of V2.15, KERN_NODE_DOWN."""
    from ..kern.task import task_terminate
    task = _task(xmm, task_uid)
    if not isinstance(entries, list):
        raise KernError(K.KERN_INVALID_ARGUMENT, "vector")
    objs = []
    try:
        _validate(task.map, entries)
        for el in entries:
            objs.append(xmm.import_object((el[2], el[3]), el[5]) if el[2] >= 0 else None)
        xmm.attach_pending([o for o in objs if o is not None])
        if not task.active:
            raise KernError(K.KERN_INVALID_ARGUMENT, "the new task was terminated")
        _validate(task.map, entries)
        for i, (el, obj) in enumerate(zip(entries, objs)):
            start, end, *_r, offset, _size, prot, maxprot, inh, needs_copy, shared = el
            task.map.enter(start, end - start, obj, offset if obj is not None else 0,
                           needs_copy=bool(needs_copy) and obj is not None, protection=prot,
                           max_protection=maxprot, inheritance=inh, is_shared=bool(shared))
            objs[i] = None                       # the map entry holds its reference now
    except BaseException:
        for obj in objs:
            if obj is not None:
                obj.deallocate()
        if task.active:
            task_terminate(task)
        raise
    return len(entries)


def _task(xmm, uid):
    dipc = xmm.kernel.remote
    from ..dipc.wire import uid_ok
    port = dipc.principals.get(tuple(uid)) if uid_ok(uid) else None
    if port is None or port.kotype != "task" or not port.kobject.active:
        raise KernError(K.KERN_INVALID_ARGUMENT, f"no task {uid}")
    return port.kobject
