"""User mode: guest code runs at privilege level 3, as on a real machine.

A new unicorn CPU starts in ring 0, where every privileged instruction (`mov
cr0`, `wrmsr`, `cli`, `lgdt`, `invlpg`, `swapgs`, `hlt`, ...) simply runs: a
guest could execute them and go on, which no user program can do on a real
x86.  Nothing a register write does changes that: unicorn takes the current
privilege level from the stack segment's cached descriptor, which only a real
segment load sets (writing CS = 0x33 changes the selector, not the level).  So
each CPU is taken to ring 3 once, when it is made, the way a kernel does it:
one `sysretq` (it needs no descriptor table), run from the reserved frame 0
that every CPU maps at the top of the address space.  From then on the CPU
stays in ring 3 across every stop, resume and register write, and a
privileged instruction raises #GP (interrupt 13), which the CPU turns into
EXC_BAD_INSTRUCTION.  Measured: no cost on guest code (docs/machine.md).

Three things ring 3 does not settle, each handled here or in cpu.py:
  - unicorn 2.1.4 never delivers an exception, so it never clears its record
    of the last one: the second #DE or #GP of a CPU is reported as a double
    fault (8), the third as a triple fault, with no hook call at all and the
    CPU stuck at the instruction.  `forget_exception` clears the record after
    each exception the CPU reported (its byte offset in a saved CPU context is
    found once per process, by comparing a context before and after a #GP);
  - `in`/`out` are allowed at every level (unicorn disables the I/O permission
    check): cpu.py hooks them and raises EXC_BAD_INSTRUCTION itself;
  - `sysenter` is a no-op that jumps into garbage: hooked the same way.
  - the saved IOPL, NT and VM bits of a thread state are never loaded (IOPL 3
    would let ring 3 run `cli`).
"""

from __future__ import annotations

import ctypes
import struct
from functools import lru_cache

from unicorn import UC_ARCH_X86, UC_HOOK_INTR, UC_MODE_64, UC_PROT_ALL, Uc
from unicorn.x86_const import (UC_X86_REG_CS, UC_X86_REG_MSR, UC_X86_REG_R11,
                               UC_X86_REG_RCX)

EFER, STAR = 0xC0000080, 0xC0000081
EFER_SCE = 1                          # syscall/sysret enabled
USER_CS = 0x2B                        # the selectors sysretq loads: STAR[63:48] + 16 (| RPL 3)
STAR_VALUE = (0x1B << 48) | (0x08 << 32)
SYSRETQ = b"\x48\x0f\x07"
TRAMPOLINE = 0x800                    # offset in reserved frame 0 of the sysretq
RFLAGS_PRIVILEGED = 0x3000 | (1 << 14) | (1 << 17)    # IOPL, NT, VM: never loaded


def prepare_frame(frame0: memoryview) -> None:
    """Put the trampoline into the reserved frame (once per physical pool)."""
    frame0[TRAMPOLINE:TRAMPOLINE + len(SYSRETQ)] = SYSRETQ


def enter(uc: Uc, reserved_address: int, until: int) -> None:
    """Take a fresh CPU to ring 3: sysretq from `reserved_address` + TRAMPOLINE (a page
    mapped to frame 0) "returns" to `until`, the stop address.  Registers other than
    rcx and r11 are untouched; the thread's own state is loaded afterwards."""
    efer = uc.reg_read(UC_X86_REG_MSR, EFER)
    uc.reg_write(UC_X86_REG_MSR, (EFER, efer | EFER_SCE))
    uc.reg_write(UC_X86_REG_MSR, (STAR, STAR_VALUE))
    uc.reg_write(UC_X86_REG_RCX, until)
    uc.reg_write(UC_X86_REG_R11, 0x202)
    uc.emu_start(reserved_address + TRAMPOLINE, until)
    uc.reg_write(UC_X86_REG_MSR, (EFER, efer))        # a guest sysretq: #UD, as before
    assert uc.reg_read(UC_X86_REG_CS) == USER_CS, "the CPU did not reach ring 3"


def user_rflags(value: int) -> int:
    """rflags as loaded into a CPU: without the bits only the kernel may set."""
    return value & ~RFLAGS_PRIVILEGED


@lru_cache(maxsize=None)
def _exception_record_offset() -> int | None:
    """Where unicorn keeps the last exception in a saved context: the one 4-byte word
    that reads -1 before a #GP and 13 after it.  None if no single word does (then
    exceptions are not forgotten: a CPU's third one stops it, as before)."""
    uc = Uc(UC_ARCH_X86, UC_MODE_64)
    uc.mem_map(0x1000, 0x1000, UC_PROT_ALL)
    uc.mem_write(0x1000, SYSRETQ + b"\x90" * 13 + b"\x0f\x20\xc0")   # sysretq; mov rax, cr0
    uc.reg_write(UC_X86_REG_MSR, (EFER, uc.reg_read(UC_X86_REG_MSR, EFER) | EFER_SCE))
    uc.reg_write(UC_X86_REG_MSR, (STAR, STAR_VALUE))
    uc.reg_write(UC_X86_REG_RCX, 0x1010)
    uc.reg_write(UC_X86_REG_R11, 0x202)
    seen = []
    uc.hook_add(UC_HOOK_INTR, lambda u, intno, _d: (seen.append(intno), u.emu_stop()))
    before = bytes(uc.context_save())
    uc.emu_start(0x1000, 0x1FF0)
    after = bytes(uc.context_save())
    minus_one, gp = struct.pack("<i", -1), struct.pack("<i", 13)
    found = [o for o in range(0, min(len(before), len(after)) - 3, 4)
             if before[o:o + 4] == minus_one and after[o:o + 4] == gp]
    return found[0] if seen == [13] and len(found) == 1 else None


def forget_exception(uc: Uc) -> None:
    """Clear unicorn's record of the exception just reported (call after emu_start
    returned from one), so the next one is reported as itself."""
    offset = _exception_record_offset()
    if offset is None:
        return
    ctx = uc.context_save()
    address = ctypes.cast(ctx.context, ctypes.c_void_p).value
    ctypes.memmove(address + offset, b"\xff\xff\xff\xff", 4)
    uc.context_restore(ctx)
