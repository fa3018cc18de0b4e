"""Moving a thread's register file between its Mach state and a unicorn CPU."""

from __future__ import annotations

from unicorn import x86_const as X

from ..kern.thread import X86FloatState64, X86ThreadState64
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
TS, FS = ThreadStateFlavor.x86_THREAD_STATE64, ThreadStateFlavor.x86_FLOAT_STATE64


_NAMES, _IDS = list(GPR), list(GPR.values())
_RFLAGS = _NAMES.index("rflags")
_ALL = _IDS + XMM + [X.UC_X86_REG_MXCSR]


def load(uc, state: dict) -> None:
    """Write a thread's saved state {flavor: state} into `uc` (one batched call)."""
    ts: X86ThreadState64 = state[TS]
    fs: X86FloatState64 = state[FS]
    values = [getattr(ts, n) for n in _NAMES] + list(fs.xmm) + [fs.mxcsr]
    values[_RFLAGS] = usermode.user_rflags(values[_RFLAGS])
    uc.reg_write_batch(list(zip(_ALL, values)))


def save(uc, state: dict) -> None:
    """Read `uc`'s registers into the thread's saved state (selectors kept)."""
    values = uc.reg_read_batch(_ALL)
    ts: X86ThreadState64 = state[TS]
    for name, value in zip(_NAMES, values):
        setattr(ts, name, value)
    fs: X86FloatState64 = state[FS]
    n = len(_NAMES)
    fs.xmm = list(values[n:n + 16])
    fs.mxcsr = values[n + 16]


def syscall_args(uc) -> list[int]:
    """rdi, rsi, rdx, r10, r8, r9."""
    return [uc.reg_read(r) for r in (X.UC_X86_REG_RDI, X.UC_X86_REG_RSI, X.UC_X86_REG_RDX,
                                     X.UC_X86_REG_R10, X.UC_X86_REG_R8, X.UC_X86_REG_R9)]
