"""vm_wire: hold a range of a task's memory resident (OSF MK vm_map_wire / unwire).

`vm_wire(host_priv, task, address, size, access)` with an access other than
VM_PROT_NONE faults every page of the range in, with the entry's own protection
as Mach does (so a writable range gets its private copies now), and holds each
page: `VMPage.wired` is raised once per map and address, the page is noted in
`VMMap.wired`, and pageout passes it by.  Each call adds one to the wired count of
the range's map entries (Mach's user_wired_count: wirings nest); VM_PROT_NONE
takes one off, and the pages of an entry whose count reaches 0 are let go.

What holds it:
* a page that moves — a write through a copy-on-write mapping copies it up,
  distributed memory takes it away and brings it back — moves its hold with it
  (vm/fault.py `_rewire`); a copy of a wired entry (task_create, out-of-line
  memory) is made in full at once (V2.7), so the wired pages stay writable where
  they are;
* vm_deallocate and task termination unwire what they unmap (VMMap.remove);
* wiring is not inherited (V2.8), and a task on another node is a new task.

A node's user wiring is limited to param.VM_WIRE_MAX_FRACTION of its frames
(KERN_RESOURCE_SHORTAGE beyond), so that privileged programs cannot take every
frame from pageout.  Conditions for every function: kernel lock held.
"""

from __future__ import annotations

from ..errors import KernError, KernReturn
from ..mach_types import VMProt
from .fault import vm_fault
from .map import PAGE, VMMap

K = KernReturn
MAX_WIRE_COUNT = 65535         # Mach's limit on one entry's wirings (an unsigned short)


def vm_wire(host_priv, task_port, address, size, access) -> None:
    """The routine: `task_port` (a send right, consumed) names the task whose memory
    [address, address+size) is wired for `access`, or unwired (VM_PROT_NONE).

    Raises: KERN_INVALID_TASK (not a live task of this node), KERN_INVALID_ARGUMENT
    (access outside VM_PROT_ALL, a bad address or size), and those of vm_map_wire /
    vm_map_unwire.
    """
    from ..ipc.port import ipc_port_release_send
    from ..kern.routines import port_kobject
    from .user import _int, _range
    try:
        task = port_kobject(task_port, "task")
        if task is None or not task.active:
            raise KernError(K.KERN_INVALID_TASK, "not a live task of this node")
        access = _int(access, "access")
        if not 0 <= access <= VMProt.ALL:
            raise KernError(K.KERN_INVALID_ARGUMENT, f"access {access:#x}")
        start, end = _range(task.map, address, size)
        if start == end:
            return
        if access:
            vm_map_wire(task.map, start, end, access)
        else:
            vm_map_unwire(task.map, start, end)
    finally:
        ipc_port_release_send(task_port)


def vm_map_wire(vmap: VMMap, start: int, end: int, access: int) -> None:
    """Wire the page-aligned [start, end) for `access` (all or nothing).

    Raises: KERN_INVALID_ADDRESS (a hole), KERN_PROTECTION_FAILURE (an entry whose
    protection lacks `access`), KERN_RESOURCE_SHORTAGE (over the node's wiring
    limit, or no frame), KERN_FAILURE (an entry wired MAX_WIRE_COUNT times), the
    errors of vm_fault.
    """
    _check_wirable(vmap, start, end, access)
    _check_limit(vmap, start, end)
    for e in vmap.clip(start, end):
        e.wired_count += 1
    try:
        for va in range(start, end, PAGE):
            _wire_page(vmap, va)
    except BaseException:
        _unwire_entries(vmap, start, end)
        raise


def _check_wirable(vmap: VMMap, start: int, end: int, access: int) -> None:
    """Mach's checks, in address order: a hole is KERN_INVALID_ADDRESS, an entry
    not allowing `access` KERN_PROTECTION_FAILURE."""
    at = start
    for e in vmap.entries_in(start, end):
        if e.start > at:
            break
        if access & ~e.protection:
            raise KernError(K.KERN_PROTECTION_FAILURE,
                            f"access {access} beyond protection {e.protection} at {e.start:#x}")
        if e.wired_count >= MAX_WIRE_COUNT:
            raise KernError(K.KERN_FAILURE, f"{e.start:#x} is wired {e.wired_count} times")
        at = e.end
    if at < end:
        raise KernError(K.KERN_INVALID_ADDRESS, f"{at:#x} is not mapped")


def _check_limit(vmap: VMMap, start: int, end: int) -> None:
    """KERN_RESOURCE_SHORTAGE unless the node may hold the pages of [start, end) not yet
    held (counted only for a range that can fit: a huge one is refused at once)."""
    phys = vmap.kernel.phys
    room = phys.user_wire_limit - phys.user_wired
    if (end - start) // PAGE - len(vmap.wired) > room:
        new = (end - start) // PAGE
    else:
        new = sum(1 for va in range(start, end, PAGE) if va not in vmap.wired)
    if new > room:
        raise KernError(K.KERN_RESOURCE_SHORTAGE,
                        f"{new} more wired pages; the node allows {phys.user_wire_limit}")


def _wire_page(vmap: VMMap, va: int) -> None:
    """Fault `va` in with its entry's protection and hold the page, once per address."""
    e = vmap.lookup(va)
    if e is None:
        raise KernError(K.KERN_INVALID_ADDRESS, f"{va:#x} was unmapped meanwhile")
    page = vm_fault(vmap, va, e.protection)
    e = vmap.lookup(va)                 # (a distributed pager may have let the lock go)
    if e is None or not e.wired_count:
        raise KernError(K.KERN_INVALID_ADDRESS, f"{va:#x} was unmapped meanwhile")
    if va not in vmap.wired:
        page.wired += 1
        vmap.wired[va] = page
        vmap.kernel.phys.user_wired += 1


def vm_map_unwire(vmap: VMMap, start: int, end: int) -> None:
    """Take one wiring off each wired entry of [start, end); holes and entries that are
    not wired are passed over, as Mach does for a user's unwire.

    Raises: KERN_INVALID_ADDRESS if nothing is mapped at `start`.
    """
    if vmap.lookup(start) is None:
        raise KernError(K.KERN_INVALID_ADDRESS, f"{start:#x} is not mapped")
    _unwire_entries(vmap, start, end)


def _unwire_entries(vmap: VMMap, start: int, end: int) -> None:
    for e in [e for e in vmap.entries_in(start, end) if e.wired_count]:
        for piece in vmap.clip(max(start, e.start), min(end, e.end)):
            piece.wired_count -= 1
            if not piece.wired_count:
                vmap.unwire_pages(piece.start, piece.end)
