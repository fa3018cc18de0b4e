"""The fault path: make the page at an address resident and mapped.

`vm_fault(map, address, access)` is the only way a translation enters a pmap.
It runs in named steps:

1. lookup      – the map entry holding the address (else KERN_INVALID_ADDRESS);
2. check       – the entry's protection allows the access (else
                 KERN_PROTECTION_FAILURE);
3. resolve     – a write through a `needs_copy` entry first gives the entry a
                 private shadow object;
4. find        – walk the shadow chain from the top object down: a resident
                 page, or one the object's pager still has, ends the walk;
                 nothing anywhere means a zero-filled page in the top object;
5. copy-up     – a write to a page found below the top copies it into the top
                 object (copy-on-write); a read maps the lower page read-only;
6. push        – before the top object's page may be written, its old contents
                 go to the object's copy object if that has no version yet;
                 until then reads map it read-only;
7. enter       – install the translation with the protection earned above;
                 at an address vm_wire holds, the hold follows the page entered.

Distributed memory.  An object whose pager is distributed (xmm/) holds a page
only with the access its manager granted this node (X4.4).  The walk stops at
such an object: the manager always answers for it, with data, zeros or an
error.  If the page is absent, or held read-only when a write is needed, the
pager's `request` asks the manager, releasing the kernel lock while other
nodes answer; since anything may have changed meanwhile, the fault then starts
over from step 1 (Mach's VM_FAULT_RETRY).  The translation entered is limited
to the access granted.

The CPU calls it on a TLB miss or a denied access, vm_read/vm_write call it for
each page, and the distributed memory manager plugs in underneath through the
pager interface, so local and remote memory take the same path.
"""

from __future__ import annotations

from .. import param
from ..errors import KernError, KernReturn
from ..mach_types import VMProt
from .map import VMMap, trunc_page
from .pmap import pmap_enter

READ, WRITE, EXECUTE = int(VMProt.READ), int(VMProt.WRITE), int(VMProt.EXECUTE)


class _Restart(Exception):
    """The kernel lock was released to wait for another node: start the fault over."""


def vm_fault(vmap: VMMap, address: int, access: int):
    """Make the page holding `address` resident and mapped for `access`; returns its VMPage.

    Conditions: kernel lock held on entry and exit (released while a distributed
    pager waits for other nodes).
    Raises: KERN_INVALID_ADDRESS, KERN_PROTECTION_FAILURE, KERN_RESOURCE_SHORTAGE,
    KERN_MEMORY_ERROR (distributed memory whose only copy was lost).
    """
    kernel = vmap.kernel
    assert kernel.lock.held()
    kernel.stats.faults += 1
    while True:
        try:
            return _fault(vmap, address, access)
        except _Restart:
            kernel.stats.fault_restarts += 1


def _fault(vmap: VMMap, address: int, access: int):
    kernel = vmap.kernel
    entry = _lookup(vmap, address)
    _check(entry, access)
    if access & WRITE and entry.needs_copy:
        entry.resolve_needs_copy()
    top = entry.ensure_object(kernel)
    offset = entry.offset + (trunc_page(address) - entry.start)
    page, owner = _find(top, offset, access & WRITE)
    prot = entry.protection
    if owner.pager.distributed:
        prot &= _granted_prot(owner, offset)
    page.wired += 1                       # keep it resident across the allocations below
    try:
        if owner is not top:
            if access & WRITE:
                page.wired -= 1
                page = _copy_up(top, offset, page)
                page.wired += 1
                owner = top
            else:
                prot &= ~WRITE
        if entry.needs_copy:
            prot &= ~WRITE
        if owner is top and top.copy is not None and not top.copy.has_page(offset):
            if access & WRITE:
                top.push_page(offset, page)
            else:
                prot &= ~WRITE
    finally:
        page.wired -= 1
    pmap_enter(vmap.pmap, address, page.frame, prot)
    if prot & WRITE:
        page.dirty = True
    if vmap.wired:
        _rewire(vmap, address, page)
    return page


def _rewire(vmap: VMMap, address: int, page) -> None:
    """A wired address now finds another page (a write copied it up, distributed memory
    brought it back after another node took it): vm_wire's hold moves to that page."""
    va = trunc_page(address)
    old = vmap.wired.get(va)
    if old is not None and old is not page:
        old.wired -= 1
        page.wired += 1
        vmap.wired[va] = page


def _lookup(vmap: VMMap, address: int):
    entry = vmap.lookup(address)
    if entry is None:
        raise KernError(KernReturn.KERN_INVALID_ADDRESS, f"{address:#x} is not mapped")
    return entry


def _check(entry, access: int) -> None:
    if access & ~entry.protection & (READ | WRITE | EXECUTE):
        raise KernError(KernReturn.KERN_PROTECTION_FAILURE,
                        f"access {access} denied by protection {entry.protection}")


def _find(top, offset: int, write: int = 0):
    """(page, owning object) for `offset` of `top`'s chain; zero-fills in `top` if absent.

    Raises _Restart after asking a distributed pager for the page.
    """
    obj, off = top, offset
    while obj is not None:
        if obj.pager.distributed:
            return _granted_page(obj, off, READ | WRITE if write and obj is top else READ), obj
        page = obj.page_get(off)
        if page is not None:
            return page, obj
        off += obj.shadow_offset
        obj = obj.shadow
    top.kernel.stats.zero_fill_count += 1
    return top.page_insert(offset), top


def _granted_page(obj, offset: int, need: int):
    """The resident page of distributed `obj` if this node holds `need` on it;
    else ask the manager and restart."""
    page = obj.pages.get(offset)
    if page is not None and obj.pager.granted(obj, offset) & need == need:
        return page
    obj.pager.request(obj, offset, need)
    raise _Restart


def _granted_prot(obj, offset: int) -> int:
    g = obj.pager.granted(obj, offset)
    return g | EXECUTE if g & READ else g


def object_read_page(obj, offset: int):
    """The data at `offset` of `obj`'s chain, or None for zeros, without changing which
    object holds it (an eager copy of memory in transit, a manager reading below its
    object).

    Conditions: kernel lock held on entry and exit (released while a distributed
    pager waits).  Raises: KERN_MEMORY_ERROR.
    """
    phys = obj.kernel.phys
    while True:
        try:
            o, off = obj, offset
            while o is not None:
                if o.pager.distributed:
                    return bytes(phys.frame_view(_granted_page(o, off, READ).frame))
                page = o.page_get(off)
                if page is not None:
                    return bytes(phys.frame_view(page.frame))
                off += o.shadow_offset
                o = o.shadow
            return None
        except _Restart:
            obj.kernel.stats.fault_restarts += 1


def _copy_up(top, offset: int, src):
    """Copy `src` (found below `top`) into `top` before a write.

    If other maps reach `top` (it is shared, or a copy object looks through
    it), their read-only translations of `src` would now show stale data:
    they are removed, and those maps fault again onto the new page.
    """
    from .pmap import pmap_page_protect
    src.wired += 1
    try:
        page = top.page_copy_in(offset, src)
    finally:
        src.wired -= 1
    if top.ref_count > 1:
        pmap_page_protect(top.kernel.phys, src.frame, 0)
    top.kernel.stats.cow_faults += 1
    return page


def vm_fault_range(vmap: VMMap, start: int, size: int, access: int):
    """Yield (page, offset-in-page, length) covering [start, start+size) after faulting each page.

    Conditions: kernel lock held.
    """
    addr, end = start, start + size
    while addr < end:
        page = vm_fault(vmap, addr, access)
        off = addr & (param.PAGE_SIZE - 1)
        n = min(param.PAGE_SIZE - off, end - addr)
        yield page, off, n
        addr += n
