"""Compiling a .defs file: preprocess, parse, write FILE.h, FILEUser.c, FILEServer.c.

The C preprocessor is a C compiler's (`-E`), as MIG has always used cpp: the
caller gives the compiler and the include directories (`-I`), and `-D`
definitions pass through.  This package imports nothing of normach's:
`guest/build.py` (`compile_interface`) gives it the guest compiler, the
runtime's include directory and the kernel's interfaces.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from . import cgen
from .model import DefsError
from .parser import parse


def preprocess(path: Path, cc: str, defines=(), includes=()) -> str:
    """The .defs text after cpp.  Raises: DefsError (cpp's message)."""
    cmd = [cc, "-E", "-x", "c", "-undef", "-nostdinc", "-D__MIG__=1"]
    cmd += [f"-D{d}" for d in defines]
    for inc in includes:
        cmd += ["-I", str(inc)]
    proc = subprocess.run([*cmd, str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if "error" in ln] or proc.stderr.splitlines()
        raise DefsError(lines[0] if lines else f"{path}: the C preprocessor failed")
    return proc.stdout


def compile_defs(path, cc: str, output_dir=".", defines=(), includes=(), header=None, user=None,
                 server=None) -> list[Path]:
    """Compile one .defs file into FILE.h, FILEUser.c, FILEServer.c (or the names
    `header`, `user`, `server`: mach.defs's header must not be called mach.h).
    Returns: the files written.  Raises: DefsError (file:line: what), FileNotFoundError."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(str(path))
    sub = parse(preprocess(path, cc, defines, includes), str(path))
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
