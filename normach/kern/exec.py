"""Loading a program: a static x86-64 ELF executable into a fresh task.

The load runs in named steps (docs/guest-abi.md, "Programs"):
1. parse      – an ELF64, x86-64, ET_EXEC image (pyelftools); else KERN_INVALID_ARGUMENT;
2. map        – each PT_LOAD segment's pages, with the union of the protections of
                the segments that share a page; bss is zero fill;
3. copy       – the file bytes of each segment into place (through the fault path);
4. protect    – each page set to its segment's protection;
5. stack      – a 1 MiB stack with argc, argv, envp and an empty auxv at its top;
6. thread     – the first thread, its registers set, created suspended.
"""

from __future__ import annotations

import io
import struct

from .. import param
from ..mach_types import ThreadStateFlavor, VMInherit, VMProt
from .errors import KernError, KernReturn

STACK_TOP = 0x7FFF_FFFF_0000
STACK_SIZE = 1 << 20
PF_X, PF_W, PF_R = 1, 2, 4
PAGE = param.PAGE_SIZE


def _prot(flags: int) -> int:
    return ((VMProt.READ if flags & PF_R else 0) | (VMProt.WRITE if flags & PF_W else 0)
            | (VMProt.EXECUTE if flags & PF_X else 0))


def step_parse(image: bytes):
    """The loadable segments [(vaddr, memsz, data, prot)] and the entry point."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    bad = KernError(KernReturn.KERN_INVALID_ARGUMENT, "not a static x86-64 ELF executable")
    try:
        elf = ELFFile(io.BytesIO(image))
        if elf.elfclass != 64 or elf["e_machine"] != "EM_X86_64" or elf["e_type"] != "ET_EXEC":
            raise bad
        segs = [(s["p_vaddr"], s["p_memsz"], s.data(), _prot(s["p_flags"]))
                for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
        entry = elf["e_entry"]
    except (ELFError, ValueError, struct.error, KeyError):
        raise bad from None
    if not segs:
        raise bad
    return segs, entry


def step_map(vmap, segs) -> dict:
    """Map every page any segment touches; returns {page: protection}."""
    from ..vm.user import vm_map
    pages: dict[int, int] = {}
    for vaddr, memsz, data, prot in segs:
        if memsz < len(data) or vaddr + memsz > param.VM_MAX_ADDRESS or vaddr < param.VM_MIN_ADDRESS:
            raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"bad segment at {vaddr:#x}")
        for page in range(vaddr & ~(PAGE - 1), vaddr + memsz, PAGE):
            pages[page] = pages.get(page, 0) | prot
    for start, size, _prot in _runs(pages):          # one region per run of like pages
        vm_map(vmap, start, size, 0, False, None, 0, False, VMProt.DEFAULT, VMProt.ALL,
               VMInherit.COPY)
    return pages


def _runs(pages: dict) -> list:
    """[(start, size, prot)] for runs of contiguous pages with the same protection."""
    runs: list = []
    for page in sorted(pages):
        if runs and runs[-1][0] + runs[-1][1] == page and runs[-1][2] == pages[page]:
            runs[-1][1] += PAGE
        else:
            runs.append([page, PAGE, pages[page]])
    return runs


def step_copy(vmap, segs) -> None:
    from ..vm.user import vm_write
    for vaddr, _memsz, data, _prot in segs:
        if data:
            vm_write(vmap, vaddr, data)


def step_protect(vmap, pages: dict) -> None:
    from ..vm.user import vm_protect
    for start, size, prot in _runs(pages):
        if prot != VMProt.DEFAULT:
            vm_protect(vmap, start, size, False, prot)


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


def exec_image(task, image: bytes, argv: list[str], envp: list[str] | None = None):
    """Load `image` into the (empty) task and create its first thread, suspended.

    Returns: the Thread.  Conditions: kernel lock held.
    Raises: KERN_INVALID_ARGUMENT (not a loadable program), KERN_NO_SPACE, KERN_RESOURCE_SHORTAGE.
    """
    from .thread import thread_create
    segs, entry = step_parse(image)
    pages = step_map(task.map, segs)
    step_copy(task.map, segs)
    step_protect(task.map, pages)
    rsp = step_stack(task.map, list(argv), list(envp or []))
    thread = thread_create(task)
    ts = thread.state[ThreadStateFlavor.x86_THREAD_STATE64]
    ts.rip, ts.rsp, ts.rflags = entry, rsp, 0x202
    thread.has_state = True
    return thread
