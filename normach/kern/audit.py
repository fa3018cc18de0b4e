"""The invariant audit of one node kernel.

Run after every test: it recomputes from scratch what the kernel keeps
incrementally and reports every disagreement.
  frames   every frame is free xor held by exactly one resident page;
  objects  each live object's ref_count equals the references that exist (map
           entries, shadow links, memory in transit in queued messages);
  pmaps    every translation lies in a map entry, grants no more than the
           entry's protection, and maps the page the fault path would find;
           a writable translation maps the entry's own top object, never a
           needs-copy entry, never a page whose copy object still wants it;
  ipc      rights, urefs and counts (ipc/audit.py);
  memory   the budget charges exactly what is held: tasks, threads, stored pages;
  wired    vm_wire holds exactly the pages of wired entries, each resident (unless
           distributed memory took it) and held, and the node's count agrees.
"""

from __future__ import annotations

import collections

from .. import param
from ..mach_types import VMProt
from .memory import NAMES, QUEUED, STORED, TASKS, THREADS, stored_bytes


def kernel_held_send_rights(kernel) -> collections.Counter:
    """Send rights held by kernel state and Python handles: Counter {Port: n}."""
    from ..mach_types import MsgType
    c = collections.Counter()
    for t in kernel.tasks:
        c.update(t.held_send_rights())
        for th in t.threads:
            c.update(th.held_send_rights())
    for (port, right), n in kernel.handle_rights.items():
        if right == MsgType.PORT_SEND:
            c[port] += n
    if kernel.remote is not None:
        c.update(kernel.remote.held_send_rights())
    return c


def handle_held_rights(kernel, right) -> collections.Counter:
    """Rights of received type `right` held by Python handles: Counter {Port: n}."""
    c = collections.Counter()
    for (port, r), n in kernel.handle_rights.items():
        if r == right:
            c[port] += n
    return c


def _transit_copies(kernel):
    from ..ipc.ipc_kernel import ipc_state
    from ..ipc.kmsg import OOLItem
    for port in list(ipc_state(kernel).ports):
        for kmsg in port.messages:
            for item in kmsg.body:
                if isinstance(item, OOLItem) and item.copy is not None:
                    yield item.copy


def audit_objects(kernel) -> list[str]:
    refs = collections.Counter()
    for t in kernel.tasks:
        for e in t.map.entries:
            if e.object is not None:
                refs[e.object] += 1
    for copy in _transit_copies(kernel):
        for ce in copy.entries:
            if ce.object is not None:
                refs[ce.object] += 1
    for obj in kernel.vm_objects.values():
        if obj.shadow is not None:
            refs[obj.shadow] += 1
    if kernel.xmm is not None:
        refs.update(kernel.xmm.held_object_refs())
    errs = []
    for obj in list(kernel.vm_objects.values()):
        if obj.ref_count != refs[obj]:
            errs.append(f"{obj}: ref_count {obj.ref_count} but {refs[obj]} references")
    for obj in refs:
        if not obj.alive:
            errs.append(f"dead object {obj.id} still referenced")
    return errs


def _expected_page(entry, vpn: int):
    off = entry.offset + (vpn << param.PAGE_SHIFT) - entry.start
    obj = entry.object
    while obj is not None:
        page = obj.pages.get(off)
        if page is not None:
            return page, off
        if obj.pager.has(obj, off):
            return None, off
        off += obj.shadow_offset
        obj = obj.shadow
    return None, off


def audit_pmaps(kernel) -> list[str]:
    errs = []
    for t in kernel.tasks:
        vmap = t.map
        for vpn, (frame, prot) in vmap.pmap.entries.items():
            va = vpn << param.PAGE_SHIFT
            e = vmap.lookup(va)
            where = f"task {t.name} va {va:#x}"
            if e is None:
                errs.append(f"{where}: translation outside any entry")
                continue
            if prot & ~e.protection:
                errs.append(f"{where}: pmap prot {prot} exceeds entry prot {e.protection}")
            page, off = _expected_page(e, vpn)
            if page is not None and page.object.pager.distributed:
                granted = page.object.pager.granted(page.object, page.offset)
                if prot & VMProt.WRITE and not granted & VMProt.WRITE or not granted:
                    errs.append(f"{where}: prot {prot} beyond the access granted ({granted})")
            if page is None or page.frame != frame:
                errs.append(f"{where}: maps frame {frame}, fault path finds {page}")
                continue
            if prot & VMProt.WRITE:
                top = e.object
                if e.needs_copy or page.object is not top:
                    errs.append(f"{where}: writable translation of a copy-on-write page")
                elif top.copy is not None and not top.copy.has_page(off):
                    errs.append(f"{where}: writable page not yet pushed to its copy object")
        for vpn in vmap.pmap.entries:
            if (vmap.pmap, vpn) not in kernel.phys.pv[vmap.pmap.entries[vpn][0]]:
                errs.append(f"task {t.name}: pv list lacks vpn {vpn:#x}")
    return errs


def audit_memory(kernel) -> list[str]:
    """The memory budget (kern/memory.py) against what the node holds."""
    used = kernel.memory.used
    threads = sum(1 for t in kernel.tasks for th in t.threads if th.active)
    stores = list(kernel.default_pager.store.values())
    if kernel.xmm is not None:
        stores += [m.store for m in kernel.xmm.managers.values()]
        stores += [p.orphans for p in kernel.xmm.pagers.values()]
    stored = sum(stored_bytes(v) for s in stores for v in s.values())
    from ..ipc.ipc_kernel import ipc_state
    queued = sum(k.charged for p in list(ipc_state(kernel).ports) for k in p.messages)
    want = {TASKS: len(kernel.tasks) * param.TASK_MEMORY_COST,
            THREADS: threads * param.THREAD_MEMORY_COST, STORED: stored, QUEUED: queued,
            NAMES: sum(len(t.itk_space.table) for t in kernel.tasks) * param.NAME_MEMORY_COST}
    return [f"memory budget: {kind} charged {used.get(kind, 0)}, held {n}"
            for kind, n in want.items() if used.get(kind, 0) != n]


def audit_wired(kernel) -> list[str]:
    errs, held = [], 0
    for t in kernel.tasks:
        vmap = t.map
        want = {va for e in vmap.entries if e.wired_count
                for va in range(e.start, e.end, param.PAGE_SIZE)}
        if set(vmap.wired) != want:
            errs.append(f"task {t.name}: wired pages {sorted(set(vmap.wired) ^ want)[:4]} "
                        "disagree with its wired entries")
        for va, page in vmap.wired.items():
            resident = kernel.phys.pages.get(page.frame) is page
            if page.wired <= 0 or not (resident or page.object.pager.distributed):
                errs.append(f"task {t.name} va {va:#x}: wired {page} not held resident")
        held += len(vmap.wired)
    if held != kernel.phys.user_wired:
        errs.append(f"user_wired {kernel.phys.user_wired} but {held} pages wired")
    return errs


def audit_kernel(kernel) -> list[str]:
    """Every invariant of one node; returns the violations."""
    from ..ipc.audit import audit_ipc
    with kernel.lock:
        remote = kernel.remote.audit() if kernel.remote is not None else []
        return (kernel.phys.audit() + audit_objects(kernel) + audit_pmaps(kernel)
                + audit_ipc(kernel) + audit_memory(kernel) + audit_wired(kernel) + remote)
