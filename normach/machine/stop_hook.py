"""Stopping a running CPU at a block boundary, never inside an instruction.

unicorn 2.1 looks for a stop request after every guest memory access and, when
it finds one, rolls the CPU back to the start of the current instruction.  If
`uc_emu_stop` is called from another thread while the CPU is between the store
of a read-modify-write instruction and the check that follows it, the
instruction has already written memory and runs again on resume: a spinlock's
`xchg` then finds its own 1 and spins forever, a `lock add` counts twice.
(Measured with raw unicorn: 3,000,000 `add [mem], 1` with an `emu_stop` from
another thread every 50 us came out 2,798 too high.)

So a CPU is stopped from outside by raising the `request` word of its stop cell.
A native block hook (stop_hook.c, compiled once with the system C compiler and
cached like the guest runtime) reads the word at the start of every translated
block and calls `uc_emu_stop` from the CPU's own thread, before the block's
first instruction; the rollback is then to the block's start, which has not
run.  A stop requested before `emu_start` is not lost: the word stays raised
until the run loop, having left emulation, lowers it.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
from functools import lru_cache
from pathlib import Path

from unicorn import UC_HOOK_BLOCK, Uc
from unicorn.unicorn_py3 import unicorn as _binding

SOURCE = Path(__file__).resolve().with_name("stop_hook.c")
FLAGS = ("-O2", "-shared", "-fPIC")


class StopCell(ctypes.Structure):
    """The C `struct normach_stop_cell`: request (raised by other threads), taken, stop."""

    _fields_ = [("request", ctypes.c_int32), ("taken", ctypes.c_int32),
                ("stop", ctypes.c_void_p)]


class StopHookError(RuntimeError):
    """The stop hook could not be built (no C compiler, or it failed)."""


def _compiler() -> str:
    from ..guest.build import GuestBuildError, find_compiler
    try:
        return find_compiler()
    except GuestBuildError as e:
        raise StopHookError(str(e)) from None


@lru_cache(maxsize=None)
def _library() -> ctypes.CDLL:
    """Compile stop_hook.c once per (source, compiler), kept in the build cache (a
    folder of this user's alone: guest/build.py cache_root)."""
    from ..guest.build import GuestBuildError, cache_root
    compiler = _compiler()
    source = SOURCE.read_bytes()
    key = hashlib.sha256(source + compiler.encode() + repr(FLAGS).encode()).hexdigest()[:16]
    try:
        root = cache_root()
    except GuestBuildError as e:
        raise StopHookError(str(e)) from None
    lib = root / f"stop_hook-{key}.so"
    if not lib.exists():
        tmp = lib.with_name(f"{lib.name}.{os.getpid()}.tmp")
        proc = subprocess.run([compiler, *FLAGS, "-o", str(tmp), str(SOURCE)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise StopHookError(f"building {SOURCE.name} failed:\n{proc.stderr}")
        os.replace(tmp, lib)
    return ctypes.CDLL(str(lib))


def install(uc: Uc) -> StopCell:
    """Add the block hook to `uc` (before it runs any code); returns its stop cell.

    The caller keeps the cell alive as long as `uc`: the hook holds its address.
    """
    lib = _library()
    uclib = _binding.uclib
    cell = StopCell()
    cell.stop = ctypes.cast(uclib.uc_emu_stop, ctypes.c_void_p).value
    handle = _binding.uc_hook_h()
    err = uclib.uc_hook_add(uc._uch, ctypes.byref(handle), UC_HOOK_BLOCK,
                            ctypes.cast(lib.normach_block_hook, ctypes.c_void_p),
                            ctypes.cast(ctypes.pointer(cell), ctypes.c_void_p),
                            ctypes.c_uint64(1), ctypes.c_uint64(0))
    if err:
        raise StopHookError(f"uc_hook_add(UC_HOOK_BLOCK) failed: unicorn error {err}")
    return cell
