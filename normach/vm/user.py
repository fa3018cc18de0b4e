"""The user-exported VM routines (spec §2.2, §3.4): validate, then act on the map.

Each routine takes the target task's map (the caller converts the task port)
and raises KernError with the spec's code for any bad argument.  Ranges are
page-rounded outward as in Mach.  Conditions for every routine: kernel lock held.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import param
from ..errors import KernError, KernReturn
from ..mach_types import VMInherit, VMProt
from .fault import READ, WRITE, vm_fault_range
from .map import VMMap, round_page, trunc_page
from .pmap import pmap_protect

_ALL = int(VMProt.ALL)
_ADDR_MAX = 1 << 64


def _int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"{what} must be an integer")
    return int(value)


def _range(vmap: VMMap, address, size, clamp: bool = False) -> tuple[int, int]:
    """Validated, page-rounded [start, end).  Raises KERN_INVALID_ARGUMENT / INVALID_ADDRESS.

    With `clamp` a range running past the top of the map is cut at the top
    (for the routines that skip holes: vm_deallocate, vm_inherit).
    """
    address, size = _int(address, "address"), _int(size, "size")
    if address < 0 or size < 0 or address >= _ADDR_MAX or size >= _ADDR_MAX:
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, "address and size must be unsigned 64-bit")
    start, end = trunc_page(address), round_page(address + size)
    if end > vmap.max_address and size and clamp:
        end = vmap.max_address
        start = min(start, end)
    elif end > vmap.max_address and size:
        raise KernError(KernReturn.KERN_INVALID_ADDRESS, f"range ends beyond {vmap.max_address:#x}")
    return start, end


def _prot(prot, what="protection") -> int:
    prot = _int(prot, what)
    if prot < 0 or prot & ~_ALL:
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"{what} {prot:#x} has bits outside VM_PROT_ALL")
    return int(prot)


def _inherit(inh) -> int:
    inh = _int(inh, "inheritance")
    if not 0 <= inh <= VMInherit.LAST_VALID:
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"inheritance {inh} is not valid")
    return int(inh)


def vm_allocate(vmap: VMMap, address, size, anywhere) -> int:
    """Zero-filled memory at `address` (or anywhere).  Returns the address.

    Returns: 0 for size 0.  Raises: KERN_INVALID_ARGUMENT (bad values),
    KERN_INVALID_ADDRESS (fixed range outside the map), KERN_NO_SPACE (in use /
    no hole), KERN_RESOURCE_SHORTAGE (ledger).
    """
    return vm_map(vmap, address, size, 0, anywhere, None, 0, False,
                  VMProt.DEFAULT, VMProt.ALL, VMInherit.DEFAULT)


def vm_map(vmap: VMMap, address, size, mask, anywhere, memory_object, offset, copy,
           cur_protection, max_protection, inheritance) -> int:
    """Map anonymous memory (memory_object None) with the given attributes.

    Raises: as vm_allocate; KERN_INVALID_ARGUMENT for a memory object (no external
    pagers on this node yet), bad protections or inheritance.
    """
    if memory_object is not None:        # no external pagers: the right is consumed, refused
        from ..ipc.port import ipc_port_release_send
        ipc_port_release_send(memory_object)
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, "only anonymous memory can be mapped")
    cur, mx = _prot(cur_protection), _prot(max_protection, "max protection")
    inh = _inherit(inheritance)
    mask, offset = _int(mask, "mask"), _int(offset, "offset")
    address = _int(address, "address")
    if address < 0 or address >= _ADDR_MAX:
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, "address must be unsigned 64-bit")
    if cur & ~mx:
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, "protection exceeds max protection")
    if not (0 <= mask < _ADDR_MAX and 0 <= offset < _ADDR_MAX):
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, "negative mask or offset")
    size = _int(size, "size")
    if size < 0 or size >= _ADDR_MAX:
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"size {size:#x} is not unsigned 64-bit")
    if size == 0:
        return 0
    if anywhere:
        length = round_page(size)
        if length > vmap.max_address - vmap.min_address:
            raise KernError(KernReturn.KERN_NO_SPACE, f"size {size:#x} larger than the address space")
        start = vmap.find_space(length, mask | (param.PAGE_SIZE - 1))
    else:
        start, end = _range(vmap, address, size)
        length = end - start
        vmap.check_range(start, end)
        if vmap.entries_in(start, end):
            raise KernError(KernReturn.KERN_NO_SPACE, f"[{start:#x}, {end:#x}) in use")
    vmap.enter(start, length, protection=cur, max_protection=mx, inheritance=inh)
    return start


def vm_deallocate(vmap: VMMap, address, size) -> None:
    """Unmap the range; holes are ignored; size 0 does nothing."""
    start, end = _range(vmap, address, size, clamp=True)
    if start < end:
        vmap.remove(start, end)


def vm_protect(vmap: VMMap, address, size, set_maximum, new_protection) -> None:
    """Set the current (or maximum) protection of a fully mapped range.

    Raises: KERN_INVALID_ARGUMENT (bits outside ALL), KERN_INVALID_ADDRESS (a hole),
    KERN_PROTECTION_FAILURE (current protection above the maximum).
    """
    prot = _prot(new_protection)
    start, end = _range(vmap, address, size)
    if start == end:
        return
    if not vmap.is_mapped(start, end):
        raise KernError(KernReturn.KERN_INVALID_ADDRESS, "range not fully mapped")
    for e in vmap.entries_in(start, end):
        if prot & ~e.max_protection:
            raise KernError(KernReturn.KERN_PROTECTION_FAILURE,
                            f"protection {prot} exceeds max {e.max_protection}")
    for e in vmap.clip(start, end):
        if set_maximum:
            e.max_protection = prot
            e.protection &= prot
        else:
            e.protection = prot
        pmap_protect(vmap.pmap, e.start, e.end, e.protection)


def vm_inherit(vmap: VMMap, address, size, new_inheritance) -> None:
    """Set the inheritance of the mapped parts of the range (V2.1-V2.2)."""
    inh = _inherit(new_inheritance)
    if inh == VMInherit.DONATE_COPY:
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, "VM_INHERIT_DONATE_COPY")
    start, end = _range(vmap, address, size, clamp=True)
    if start < end:
        for e in vmap.clip(start, end):
            e.inheritance = inh


def vm_check_access(vmap: VMMap, address: int, size: int, access: int) -> None:
    """Raises KERN_INVALID_ADDRESS (a hole) or KERN_PROTECTION_FAILURE unless all of
    [address, address+size) allows `access`."""
    start, end = trunc_page(address), round_page(address + size)
    if end > vmap.max_address or not vmap.is_mapped(start, end):
        raise KernError(KernReturn.KERN_INVALID_ADDRESS, f"[{address:#x}, +{size:#x}) not mapped")
    for e in vmap.entries_in(start, end):
        if access & ~e.protection:
            raise KernError(KernReturn.KERN_PROTECTION_FAILURE,
                            f"{'write' if access & WRITE else 'read'} denied at {e.start:#x}")


def vm_read(vmap: VMMap, address, size) -> bytes:
    """The bytes of [address, address+size).

    Raises: KERN_INVALID_ADDRESS (unmapped), KERN_PROTECTION_FAILURE (unreadable),
    KERN_RESOURCE_SHORTAGE (more than KERNEL_COPY_MAX at once: the copy is made in
    the kernel's own memory, which a caller must not be able to blow up).
    """
    _range(vmap, address, size)
    if size == 0:
        return b""
    if size > param.KERNEL_COPY_MAX:
        raise KernError(KernReturn.KERN_RESOURCE_SHORTAGE,
                        f"{size} bytes at once (at most {param.KERNEL_COPY_MAX})")
    vm_check_access(vmap, address, size, READ)
    phys = vmap.kernel.phys
    out = bytearray()
    for page, off, n in vm_fault_range(vmap, address, size, READ):
        out += phys.frame_view(page.frame)[off:off + n]
    return bytes(out)


def vm_write(vmap: VMMap, address, data) -> None:
    """Write `data` at `address`.

    Raises: KERN_INVALID_ADDRESS (unmapped), KERN_PROTECTION_FAILURE (not writable).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, "data must be bytes")
    data = bytes(data)
    _range(vmap, address, len(data))
    if not data:
        return
    vm_check_access(vmap, address, len(data), WRITE)
    _write(vmap, address, data)


def _write(vmap: VMMap, address: int, data: bytes) -> None:
    phys, pos = vmap.kernel.phys, 0
    for page, off, n in vm_fault_range(vmap, address, len(data), WRITE):
        phys.frame_view(page.frame)[off:off + n] = data[pos:pos + n]
        pos += n


def vm_copy(vmap: VMMap, source_address, size, dest_address) -> None:
    """Copy [source, source+size) to dest within one map (ranges may overlap).

    Raises: KERN_INVALID_ADDRESS (either range unmapped), KERN_PROTECTION_FAILURE
    (source unreadable or destination not writable).
    """
    _range(vmap, source_address, size)
    _range(vmap, dest_address, size)
    if size == 0:
        return
    vm_check_access(vmap, source_address, size, READ)
    vm_check_access(vmap, dest_address, size, WRITE)
    _write(vmap, dest_address, vm_read(vmap, source_address, size))


@dataclass
class Region:
    """vm_region's answer (VM_REGION_BASIC_INFO plus the range)."""

    address: int
    size: int
    protection: int
    max_protection: int
    inheritance: int
    shared: bool
    offset: int
    reserved: bool = False


def vm_region(vmap: VMMap, address) -> Region:
    """The region containing `address`, or the next one above it.

    Raises: KERN_NO_SPACE if nothing is mapped at or above `address`.
    """
    address = _int(address, "address")
    if address < 0:
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, "negative address")
    e = vmap.lookup(address)
    if e is None:
        above = vmap.entries_in(address, 1 << 64)
        if not above:
            raise KernError(KernReturn.KERN_NO_SPACE, f"nothing mapped at or above {address:#x}")
        e = above[0]
    return Region(e.start, e.size, e.protection, e.max_protection, e.inheritance,
                  e.is_shared, e.offset)


def vm_statistics(vmap: VMMap) -> dict:
    """The node's VM counters (vm_statistics of the task's host)."""
    return vmap.kernel.stats.snapshot(vmap.kernel.phys)
