"""`normach mig FILE.defs`: preprocess, parse, write FILE.h, FILEUser.c, FILEServer.c.

The C preprocessor is the guest compiler's (`-E`), as MIG has always used cpp:
`#include <mach/std_types.defs>` finds the runtime's include directory, `-D`
and `-I` pass through.  The kernel's own interfaces are written on request
(`write_kernel_defs`) from kern/routines.py, and are on the include path as
`<mach/mach.defs>`, `<mach/mach_port.defs>` ... for a .defs that includes one.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from . import cgen
from .model import DefsError
from .parser import parse


def kernel_defs_dir() -> Path:
    """The kernel interfaces, written into the guest build cache (rewritten each time:
    they follow kern/routines.py)."""
    from ..guest.build import cache_root
    from ..kern.mig_interface import write_defs
    d = cache_root() / "defs" / "mach"
    write_defs(d)
    return d.parent


def preprocess(path: Path, defines=(), includes=()) -> str:
    """The .defs text after cpp.  Raises: DefsError (cpp's message)."""
    from ..guest.build import INCLUDE_DIR, GuestBuildError, find_compiler
    try:
        cc = find_compiler()
    except GuestBuildError as e:
        raise DefsError(f"{path}: {e}") from None
    cmd = [cc, "-E", "-x", "c", "-undef", "-nostdinc", "-D__MIG__=1"]
    cmd += [f"-D{d}" for d in defines]
    for inc in (*includes, str(INCLUDE_DIR), str(kernel_defs_dir())):
        cmd += ["-I", str(inc)]
    proc = subprocess.run([*cmd, str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if "error" in ln] or proc.stderr.splitlines()
        raise DefsError(lines[0] if lines else f"{path}: the C preprocessor failed")
    return proc.stdout


def compile_defs(path, output_dir=".", defines=(), includes=(), header=None, user=None,
                 server=None) -> list[Path]:
    """Compile one .defs file into FILE.h, FILEUser.c, FILEServer.c (or the names
    `header`, `user`, `server`: mach.defs's header must not be called mach.h).
    Returns: the files written.  Raises: DefsError (file:line: what), FileNotFoundError."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(str(path))
    sub = parse(preprocess(path, defines, includes), str(path))
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = path.name[:-5] if path.name.endswith(".defs") else path.stem
    header_name = header or f"{stem}.h"
    files = {header_name: cgen.header(sub, path.name),
             user or f"{stem}User.c": cgen.user_file(sub, path.name, header_name),
             server or f"{stem}Server.c": cgen.server_file(sub, path.name, header_name)}
    written = []
    for name, text in files.items():
        (out / name).write_text(text)
        written.append(out / name)
    return written


def write_kernel_defs(directory) -> list[Path]:
    """The kernel's interfaces as .defs files in `directory`."""
    from ..kern.mig_interface import write_defs
    return write_defs(directory)
