"""The guest runtime: what a normach guest program is built against.

`include/` (`<mach.h>` and a small libc's headers), `lib/` (crt0, the Mach
traps and kernel-call stubs, mach_msg, printf to the console, malloc on
vm_allocate), `gen.py` (headers generated from the routine table and the
constants, so C and Python share one definition), `build.py`
(`compile_program`) and `cc.py` (`normach cc`). The contract is
docs/guest-abi.md.
"""

from .build import GuestBuildError, compile_program

__all__ = ["GuestBuildError", "compile_program"]
