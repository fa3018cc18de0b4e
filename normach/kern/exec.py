"""Loading a program: a static x86-64 ELF executable into a fresh task.

The load runs in named steps (docs/guest-abi.md, "Programs"):
1. parse      – an ELF64, x86-64, ET_EXEC image (pyelftools) whose segments lie inside
                the file and the user address range; else KERN_INVALID_ARGUMENT.  It
                needs no kernel state, so the caller does it before taking the lock
                (`parse_image`): a crafted image costs its sender, not the node;
2. map        – the page ranges of the PT_LOAD segments, each with the union of the
                protections of the segments that share it; bss is zero fill.  Work
                is per segment, never per page: a segment of 1 TiB is one map entry
                (and the task's VM limit, or the node's memory, refuses it);
3. copy       – the file bytes of each segment into place (through the fault path):
                bounded by the size of the file;
4. protect    – each range set to its segments' protection;
5. stack      – a 1 MiB stack with argc, argv, envp and an empty auxv at its top;
6. thread     – the first thread, its registers set, created suspended.
"""

from __future__ import annotations

import dataclasses
import io
import struct

from .. import param
from ..mach_types import ThreadStateFlavor, VMInherit, VMProt
from ..errors import KernError, KernReturn

STACK_TOP = 0x7FFF_FFFF_0000
STACK_SIZE = 1 << 20
PF_X, PF_W, PF_R = 1, 2, 4
PAGE = param.PAGE_SIZE


def _prot(flags: int) -> int:
    return ((VMProt.READ if flags & PF_R else 0) | (VMProt.WRITE if flags & PF_W else 0)
            | (VMProt.EXECUTE if flags & PF_X else 0))


@dataclasses.dataclass(frozen=True)
class Image:
    """A parsed program: its loadable segments [(vaddr, memsz, file bytes, prot)] and
    its entry point."""

    segments: tuple
    entry: int


def _bad(why: str) -> KernError:
    return KernError(KernReturn.KERN_INVALID_ARGUMENT,
                     f"not a static x86-64 ELF executable: {why}")


def parse_image(image: bytes) -> Image:
    """Step 1 (no lock needed).  Raises: KERN_INVALID_ARGUMENT."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    try:
        elf = ELFFile(io.BytesIO(image))
        if elf.elfclass != 64 or elf["e_machine"] != "EM_X86_64" or elf["e_type"] != "ET_EXEC":
            raise _bad("not ELF64 x86-64 ET_EXEC")
        loads = [seg for seg in elf.iter_segments() if seg["p_type"] == "PT_LOAD"]
        if len(loads) > param.ELF_MAX_SEGMENTS:
            raise _bad(f"{len(loads)} loadable segments")
        segs = []
        for seg in loads:
            vaddr, memsz = seg["p_vaddr"], seg["p_memsz"]
            offset, filesz = seg["p_offset"], seg["p_filesz"]
            if offset + filesz > len(image):
                raise _bad(f"segment at {vaddr:#x}: its bytes lie past the end of the file")
            if filesz > memsz or vaddr < param.VM_MIN_ADDRESS or memsz > param.VM_MAX_ADDRESS \
                    or vaddr + memsz > param.VM_MAX_ADDRESS:
                raise _bad(f"segment at {vaddr:#x} of {memsz:#x} bytes")
            segs.append((vaddr, memsz, bytes(image[offset:offset + filesz]), _prot(seg["p_flags"])))
        entry = elf["e_entry"]
    except (ELFError, ValueError, struct.error, KeyError, AttributeError):
        raise _bad("malformed") from None
    if not segs:
        raise _bad("no loadable segment")
    return Image(tuple(segs), entry)


def _ranges(segs) -> list:
    """[(start, end, prot)]: the page ranges the segments cover, split where the set of
    segments covering them changes; prot is the union of theirs.  O(segments)."""
    points = sorted({b for v, size, _d, _p in segs
                     for b in (v & ~(PAGE - 1), (v + size + PAGE - 1) & ~(PAGE - 1))})
    out: list = []
    for start, end in zip(points, points[1:]):
        prot = 0
        covered = False
        for v, size, _d, p in segs:
            if v & ~(PAGE - 1) < end and start < v + size:
                prot |= p
                covered = True
        if not covered:
            continue
        if out and out[-1][1] == start and out[-1][2] == prot:
            out[-1][1] = end
        else:
            out.append([start, end, prot])
    return [tuple(r) for r in out]


def step_map(vmap, image: Image) -> list:
    """Map every page range a segment touches; returns the ranges (for step_protect)."""
    from ..vm.user import vm_map
    ranges = _ranges(image.segments)
    for start, end, _prot in ranges:
        vm_map(vmap, start, end - start, 0, False, None, 0, False, VMProt.DEFAULT, VMProt.ALL,
               VMInherit.COPY)
    return ranges


def step_copy(vmap, image: Image) -> None:
    from ..vm.user import vm_write
    for vaddr, _memsz, data, _prot in image.segments:
        if data:
            vm_write(vmap, vaddr, data)


def step_protect(vmap, ranges: list) -> None:
    from ..vm.user import vm_protect
    for start, end, prot in ranges:
        if prot != VMProt.DEFAULT:
            vm_protect(vmap, start, end - start, False, prot)


def step_stack(vmap, argv: list[str], envp: list[str]) -> int:
    """Build the stack; returns the initial rsp (pointing at argc)."""
    from ..vm.user import vm_map, vm_write
    vm_map(vmap, STACK_TOP - STACK_SIZE, STACK_SIZE, 0, False, None, 0, False,
           VMProt.DEFAULT, VMProt.ALL, VMInherit.COPY)
    strings = b""
    offsets = []
    for s in argv + envp:
        offsets.append(len(strings))
        strings += s.encode() + b"\0"
    str_base = (STACK_TOP - len(strings) - 64) & ~15
    ptrs = [str_base + o for o in offsets]
    vector = ([len(argv)] + ptrs[:len(argv)] + [0] + ptrs[len(argv):] + [0] + [0, 0])
    block = struct.pack(f"<{len(vector)}Q", *vector)
    rsp = (str_base - len(block)) & ~15
    if STACK_TOP - rsp > STACK_SIZE // 2:
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, "arguments too large")
    vm_write(vmap, str_base, strings)
    vm_write(vmap, rsp, block)
    return rsp


def exec_image(task, image: Image, argv: list[str], envp: list[str] | None = None):
    """Load a parsed `image` (parse_image) into the (empty) task and create its first
    thread, suspended.

    Returns: the Thread.  Conditions: kernel lock held.
    Raises: KERN_INVALID_ARGUMENT (the arguments do not fit), KERN_NO_SPACE (the task's
    VM limit), KERN_RESOURCE_SHORTAGE (the node's memory).
    """
    from .thread import thread_create
    assert isinstance(image, Image)
    ranges = step_map(task.map, image)
    step_copy(task.map, image)
    step_protect(task.map, ranges)
    rsp = step_stack(task.map, list(argv), list(envp or []))
    thread = thread_create(task)
    ts = thread.state[ThreadStateFlavor.x86_THREAD_STATE64]
    ts.rip, ts.rsp, ts.rflags = image.entry, rsp, 0x202
    thread.has_state = True
    return thread
