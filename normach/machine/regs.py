"""Moving a thread's register file between its Mach state and a unicorn CPU.

Every flavor of kern/thread.py goes through the CPU's registers: the integer
registers, the FXSAVE area (x87 unit, mxcsr, xmm0-15) and dr0-dr7.  unicorn
names the x87 registers by physical number (FP0-FP7, each (mantissa, exponent)),
Mach by stack position (st0 is the register TOP designates), and unicorn's tag
register is the full x87 tag word where FXSAVE keeps the abridged one (a bit per
register, set when it holds a value): both are converted here.  unicorn keeps the
debug registers but does not enforce the breakpoints they describe.

The registers move in one C call each way (uc_reg_read_batch / uc_reg_write_batch)
through buffers each OS thread makes once: unicorn's Python wrapper builds a ctypes
object per register on every batch (a save of this register file: ~220 µs that way,
~25 µs this way).
"""

from __future__ import annotations

import ctypes
import threading

from unicorn import UcError
from unicorn import x86_const as X
from unicorn.unicorn_py3 import unicorn as _binding

from ..kern.thread import X86DebugState64, X86FloatState64, X86ThreadState64
from ..mach_types import ThreadStateFlavor
from . import usermode

GPR = {
    "rax": X.UC_X86_REG_RAX, "rbx": X.UC_X86_REG_RBX, "rcx": X.UC_X86_REG_RCX,
    "rdx": X.UC_X86_REG_RDX, "rdi": X.UC_X86_REG_RDI, "rsi": X.UC_X86_REG_RSI,
    "rbp": X.UC_X86_REG_RBP, "rsp": X.UC_X86_REG_RSP, "r8": X.UC_X86_REG_R8,
    "r9": X.UC_X86_REG_R9, "r10": X.UC_X86_REG_R10, "r11": X.UC_X86_REG_R11,
    "r12": X.UC_X86_REG_R12, "r13": X.UC_X86_REG_R13, "r14": X.UC_X86_REG_R14,
    "r15": X.UC_X86_REG_R15, "rip": X.UC_X86_REG_RIP, "rflags": X.UC_X86_REG_RFLAGS,
    "fs_base": X.UC_X86_REG_FS_BASE, "gs_base": X.UC_X86_REG_GS_BASE,
}
XMM = [getattr(X, f"UC_X86_REG_XMM{i}") for i in range(16)]
FPU = [X.UC_X86_REG_MXCSR, X.UC_X86_REG_FPCW, X.UC_X86_REG_FPSW, X.UC_X86_REG_FPTAG,
       X.UC_X86_REG_FOP, X.UC_X86_REG_FIP, X.UC_X86_REG_FDP]
FP = [getattr(X, f"UC_X86_REG_FP{i}") for i in range(8)]       # by physical number
DR = [getattr(X, f"UC_X86_REG_DR{i}") for i in range(8)]
TS, FS = ThreadStateFlavor.x86_THREAD_STATE64, ThreadStateFlavor.x86_FLOAT_STATE64
DS = ThreadStateFlavor.x86_DEBUG_STATE64


_NAMES, _IDS = list(GPR), list(GPR.values())
_RFLAGS = _NAMES.index("rflags")
_ALL = _IDS + XMM + FPU + FP + DR
_N, _X, _F, _P = len(_IDS), len(_IDS) + 16, len(_IDS) + 16 + len(FPU), len(_IDS) + 16 + len(FPU) + 8
_U64 = (1 << 64) - 1


def _top(fsw: int) -> int:
    return fsw >> 11 & 7


def _full_tag(ftw: int) -> int:
    """The x87 tag word unicorn takes: 11b (empty) for each register the abridged tag
    leaves clear (unicorn works out the class of the others itself)."""
    return sum(3 << 2 * i for i in range(8) if not ftw >> i & 1)


def _abridged_tag(tag: int) -> int:
    return sum(1 << i for i in range(8) if tag >> 2 * i & 3 != 3)


def _fpu_values(fs: X86FloatState64) -> list:
    top = _top(fs.fsw)
    phys = [fs.st[(i - top) & 7] for i in range(8)]
    return ([fs.mxcsr, fs.fcw, fs.fsw, _full_tag(fs.ftw), fs.fop, fs.fip, fs.fdp]
            + [(v & (1 << 64) - 1, v >> 64) for v in phys])


class _Batch(threading.local):
    """One OS thread's buffers: two u64 slots per register (xmm: lo, hi; an x87 register:
    mantissa, exponent), and the pointers unicorn's batch calls take."""

    def __init__(self):
        self.buf = (ctypes.c_uint64 * (2 * len(_ALL)))()
        base = ctypes.addressof(self.buf)
        self.ptrs = (ctypes.c_void_p * len(_ALL))(*[base + 16 * i for i in range(len(_ALL))])


_REG_IDS = (ctypes.c_int * len(_ALL))(*_ALL)
_WIDE = set(range(_N, _X))                     # xmm: 128-bit
_FP80 = set(range(_F, _P))                     # x87 registers: (mantissa, exponent)
_batch = _Batch()


def _write(uc, values: list) -> None:
    buf = _batch.buf
    for i, v in enumerate(values):
        if i in _FP80:
            buf[2 * i], buf[2 * i + 1] = v
        else:
            buf[2 * i], buf[2 * i + 1] = v & _U64, v >> 64
    err = _binding.uclib.uc_reg_write_batch(uc._uch, _REG_IDS, _batch.ptrs, len(_ALL))
    if err:
        raise UcError(err)


def _read(uc) -> list:
    buf = _batch.buf
    ctypes.memset(buf, 0, ctypes.sizeof(buf))          # 2- and 4-byte registers
    err = _binding.uclib.uc_reg_read_batch(uc._uch, _REG_IDS, _batch.ptrs, len(_ALL))
    if err:
        raise UcError(err)
    return [(buf[2 * i], buf[2 * i + 1] & 0xFFFF) if i in _FP80
            else buf[2 * i] | buf[2 * i + 1] << 64 if i in _WIDE else buf[2 * i]
            for i in range(len(_ALL))]


def load(uc, state: dict) -> None:
    """Write a thread's saved state {flavor: state} into `uc` (one batched call)."""
    ts: X86ThreadState64 = state[TS]
    fs: X86FloatState64 = state[FS]
    ds: X86DebugState64 = state[DS]
    values = ([getattr(ts, n) for n in _NAMES] + list(fs.xmm) + _fpu_values(fs)
              + ds.to_words())
    values[_RFLAGS] = usermode.user_rflags(values[_RFLAGS])
    _write(uc, values)


def save(uc, state: dict) -> None:
    """Read `uc`'s registers into the thread's saved state (selectors kept)."""
    values = _read(uc)
    ts: X86ThreadState64 = state[TS]
    for name, value in zip(_NAMES, values):
        setattr(ts, name, value)
    fs: X86FloatState64 = state[FS]
    fs.xmm = list(values[_N:_X])
    fs.mxcsr, fs.fcw, fs.fsw, tag, fs.fop, fs.fip, fs.fdp = values[_X:_F]
    fs.ftw = _abridged_tag(tag)
    phys = [mant | exp << 64 for mant, exp in values[_F:_P]]
    fs.st = [phys[(_top(fs.fsw) + i) & 7] for i in range(8)]
    state[DS] = X86DebugState64.from_words(values[_P:])


def syscall_args(uc) -> list[int]:
    """rdi, rsi, rdx, r10, r8, r9."""
    return [uc.reg_read(r) for r in (X.UC_X86_REG_RDI, X.UC_X86_REG_RSI, X.UC_X86_REG_RDX,
                                     X.UC_X86_REG_R10, X.UC_X86_REG_R8, X.UC_X86_REG_R9)]
