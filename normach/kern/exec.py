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
5. stack      – a 1 MiB stack with argc, argv, envp and the auxiliary vector at its
                top (empty for a Mach-native program; for a Linux one what a Linux
                kernel gives a static program: AT_PHDR, AT_ENTRY, AT_RANDOM, ...);
6. thread     – the first thread, its registers set, created suspended.

The personality: a program built by `normach cc` carries the note `.note.normach`
(crt0.S) and is Mach-native; any other static x86-64 executable is a Linux program,
whose system calls go to the Unix server (servers/unix, kern/exception.py).
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
    personality: str = "mach"    # "mach" (built by normach cc) or "linux"
    phdr: int = 0                # where the program headers lie in memory (AT_PHDR), or 0
    phnum: int = 0
    brk: int = 0                 # the page after the highest segment (a Linux heap's start)


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
        personality = "mach" if elf.get_section_by_name(".note.normach") else "linux"
        phdr = _phdr_address(elf, loads)
        phnum = elf["e_phnum"]
    except (ELFError, ValueError, struct.error, KeyError, AttributeError):
        raise _bad("malformed") from None
    if not segs:
        raise _bad("no loadable segment")
    top = max(v + size for v, size, _d, _p in segs)
    return Image(tuple(segs), entry, personality, phdr, phnum, (top + PAGE - 1) & ~(PAGE - 1))


def _phdr_address(elf, loads) -> int:
    """The program headers' address in memory: PT_PHDR's, else inside the load segment
    whose file bytes hold them; 0 if none does."""
    for seg in elf.iter_segments():
        if seg["p_type"] == "PT_PHDR":
            return seg["p_vaddr"]
    phoff = elf["e_phoff"]
    for seg in loads:
        if seg["p_offset"] <= phoff < seg["p_offset"] + seg["p_filesz"]:
            return seg["p_vaddr"] + phoff - seg["p_offset"]
    return 0


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


# The auxiliary vector's keys (<elf.h>) that a Linux program gets.
AT_NULL, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE, AT_FLAGS, AT_ENTRY = 0, 3, 4, 5, 6, 7, 8, 9
AT_UID, AT_EUID, AT_GID, AT_EGID, AT_PLATFORM, AT_HWCAP, AT_CLKTCK = 11, 12, 13, 14, 15, 16, 17
AT_SECURE, AT_RANDOM, AT_EXECFN = 23, 25, 31
HWCAP = 0x078BFBFF            # cpuid(1).edx of a plain x86-64: fpu ... sse2 (no AVX claimed)


def _auxv(image: Image, platform: int, random: int, execfn: int) -> list:
    if image.personality != "linux":
        return [AT_NULL, 0]
    pairs = [(AT_PHDR, image.phdr), (AT_PHENT, 56), (AT_PHNUM, image.phnum), (AT_PAGESZ, PAGE),
             (AT_BASE, 0), (AT_FLAGS, 0), (AT_ENTRY, image.entry), (AT_UID, 0), (AT_EUID, 0),
             (AT_GID, 0), (AT_EGID, 0), (AT_PLATFORM, platform), (AT_HWCAP, HWCAP),
             (AT_CLKTCK, 100), (AT_SECURE, 0), (AT_RANDOM, random), (AT_EXECFN, execfn),
             (AT_NULL, 0)]
    return [w for pair in pairs for w in pair]


def stack_layout(argv: list, envp: list, image: Image | None = None, top: int = STACK_TOP,
                 random: bytes | None = None) -> tuple:
    """The argument block of a new stack whose top is `top` (pure: no task touched):
    argc, argv, envp and, for a Linux program, the auxiliary vector, with the strings
    they point at above them.  `argv`/`envp` hold str or bytes.  Returns (the initial
    rsp, pointing at argc; [(address, bytes)] to write).
    Raises: KERN_INVALID_ARGUMENT (more than half the stack)."""
    import os
    strings = (random if random is not None else os.urandom(16)) + b"x86_64\0"  # AT_RANDOM, AT_PLATFORM
    offsets = []
    for s in list(argv) + list(envp):
        offsets.append(len(strings))
        strings += (s.encode() if isinstance(s, str) else bytes(s)) + b"\0"
    str_base = (top - len(strings) - 64) & ~15
    ptrs = [str_base + o for o in offsets]
    execfn = ptrs[0] if argv else 0
    auxv = _auxv(image, str_base + 16, str_base, execfn) if image is not None else [AT_NULL, 0]
    vector = ([len(argv)] + ptrs[:len(argv)] + [0] + ptrs[len(argv):] + [0] + auxv)
    block = struct.pack(f"<{len(vector)}Q", *vector)
    rsp = (str_base - len(block)) & ~15
    if top - rsp > STACK_SIZE // 2:
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, "arguments too large")
    return rsp, [(str_base, strings), (rsp, block)]


def step_stack(vmap, argv: list[str], envp: list[str], image: Image | None = None) -> int:
    """Build the stack; returns the initial rsp (pointing at argc)."""
    from ..vm.user import vm_map, vm_write
    rsp, pieces = stack_layout(argv, envp, image)
    vm_map(vmap, STACK_TOP - STACK_SIZE, STACK_SIZE, 0, False, None, 0, False,
           VMProt.DEFAULT, VMProt.ALL, VMInherit.COPY)
    for addr, data in pieces:
        vm_write(vmap, addr, data)
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
    rsp = step_stack(task.map, list(argv), list(envp or []), image)
    thread = thread_create(task)
    ts = thread.state[ThreadStateFlavor.x86_THREAD_STATE64]
    ts.rip, ts.rsp, ts.rflags = image.entry, rsp, 0x202
    thread.has_state = True
    return thread
