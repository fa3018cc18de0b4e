"""Building guest programs with the system C compiler and the guest runtime.

`compile_program(output, sources)` produces a static, non-PIE x86-64 ELF
(docs/guest-abi.md, "Programs"): the flags of the ABI, `-nostdinc` with the
compiler's own freestanding headers (stdint.h, stddef.h, stdarg.h) plus the
runtime's `include/` and the headers generated from the Python declarations
(`gen.py`), linked with `crt0` first, the program, the runtime and libgcc.

The generated headers and the runtime objects are cached in a directory keyed
by a hash of everything they depend on (routine table, constants, runtime
sources, compiler and flags), so they are rebuilt exactly when one changes.

`compile_linux(output, sources)` builds a static Linux program against musl instead;
with normach's <mach.h> after musl's headers and the Mach part of the runtime, built
with the musl compiler (`build_linux_runtime`, -DNORMACH_MUSL), linked as an archive,
it may make Mach calls too (docs/guest-abi.md, "Mach calls from musl programs").
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from . import gen

HERE = Path(__file__).resolve().parent
INCLUDE_DIR = HERE / "include"
LIB_DIR = HERE / "lib"

# The ABI's flags (docs/guest-abi.md); -fcf-protection=none keeps CET's endbr64
# out of the image on compilers that enable it by default.
ABI_FLAGS = ("-O2", "-ffreestanding", "-nostdlib", "-static", "-fno-pie", "-no-pie",
             "-fno-stack-protector", "-fcf-protection=none", "-Wl,--build-id=none")
RUNTIME_FLAGS = ("-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter")
RUNTIME_SOURCES = ("crt0.S", "traps.c", "mach_calls.c", "mach_port_calls.c", "norma_calls.c",
                   "mig_support.c", "format.c", "stdio.c", "stdlib.c", "string.c", "malloc.c",
                   "thread.c", "migrate.c")
COMPILERS = ("cc", "gcc", "clang")


class GuestBuildError(Exception):
    """No usable C compiler, or the compiler rejected a source."""


@lru_cache(maxsize=None)
def find_compiler() -> str:
    """The C compiler: $NORMACH_CC, else $CC, else the first of cc, gcc, clang found."""
    for candidate in (os.environ.get("NORMACH_CC"), os.environ.get("CC"), *COMPILERS):
        if candidate:
            path = shutil.which(candidate)
            if path:
                return path
    raise GuestBuildError("no C compiler found: install gcc or clang (tried $NORMACH_CC, $CC, "
                          + ", ".join(COMPILERS) + ")")


def _query(compiler: str, *args: str) -> str:
    try:
        out = subprocess.run([compiler, *args], capture_output=True, text=True, check=False)
    except OSError:
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


@lru_cache(maxsize=None)
def _toolchain(compiler: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(include flags for the compiler's freestanding headers, libgcc to link)."""
    include = None
    for cand in (_query(compiler, "-print-file-name=include"),
                 os.path.join(_query(compiler, "-print-resource-dir"), "include")):
        if cand and os.path.isfile(os.path.join(cand, "stddef.h")):
            include = cand
            break
    inc_flags = ("-nostdinc", "-isystem", include) if include else ()
    libgcc = _query(compiler, "-print-libgcc-file-name")
    libs = (libgcc,) if libgcc and os.path.isfile(libgcc) else ()
    return inc_flags, libs


def _runtime_files() -> list[Path]:
    files = [p for p in sorted(LIB_DIR.iterdir()) if p.suffix in (".c", ".S", ".h")]
    return files + sorted(INCLUDE_DIR.rglob("*.h"))


def _cache_key(compiler: str) -> str:
    h = hashlib.sha256()
    h.update(gen.fingerprint().encode())
    h.update(compiler.encode())
    h.update(_query(compiler, "--version").encode())
    h.update(repr((ABI_FLAGS, RUNTIME_FLAGS)).encode())
    for path in _runtime_files():
        h.update(str(path.relative_to(HERE)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def cache_root() -> Path:
    """The build cache: the user's cache folder (platformdirs; NORMACH_GUEST_CACHE
    overrides), created 0700.  What is there is linked into every guest or loaded into
    normach itself (the stop hook), so a folder another user owns, or that others may
    write to, is refused.  Raises: GuestBuildError."""
    import platformdirs
    root = Path(os.environ.get("NORMACH_GUEST_CACHE")
                or Path(platformdirs.user_cache_dir("normach")) / "guest")
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = root.stat()
    if st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise GuestBuildError(f"{root}: the build cache is owned or writable by another "
                              "user: refused (remove it, or set NORMACH_GUEST_CACHE)")
    return root


def cache_dir(compiler: str | None = None) -> Path:
    """Where the generated headers and runtime objects of this build live."""
    return cache_root() / _cache_key(compiler or find_compiler())


def _run(cmd: list[str]) -> None:
    """Runs the compiler; its warnings go to stderr, its errors into GuestBuildError."""
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise GuestBuildError(f"{' '.join(cmd)}\n{proc.stdout}{proc.stderr}".rstrip())
    if proc.stderr:
        sys.stderr.write(proc.stderr)


def _include_flags(compiler: str, gen_dir: Path) -> list[str]:
    inc_flags, _ = _toolchain(compiler)
    return [*inc_flags, "-I", str(gen_dir), "-I", str(INCLUDE_DIR)]


def build_runtime(compiler: str | None = None) -> tuple[Path, list[Path]]:
    """Generate the headers and compile the runtime (once per cache key).

    Returns: (generated header directory, runtime objects with crt0 first).
    """
    compiler = compiler or find_compiler()
    root = cache_dir(compiler)
    gen_dir = root / "include"
    gen.generate(str(gen_dir))
    objs = []
    for name in RUNTIME_SOURCES:
        obj = root / (Path(name).stem + ".o")
        if not obj.exists():
            tmp = obj.with_name(f"{obj.name}.{os.getpid()}.tmp.o")
            _run([compiler, *ABI_FLAGS, *RUNTIME_FLAGS, *_include_flags(compiler, gen_dir),
                  "-c", str(LIB_DIR / name), "-o", str(tmp)])
            os.replace(tmp, obj)
        objs.append(obj)
    return gen_dir, objs


def compile_program(output: str, sources: list[str], extra_flags=()) -> None:
    """Build the guest executable `output` from C (or assembly) `sources`.

    Raises: GuestBuildError (no compiler, or a compile or link error, with the
    compiler's messages).
    """
    if not sources:
        raise GuestBuildError("no source files given")
    compiler = find_compiler()
    gen_dir, objs = build_runtime(compiler)
    _, libs = _toolchain(compiler)
    crt0, runtime = objs[0], objs[1:]
    out_dir = os.path.dirname(os.path.abspath(output))
    os.makedirs(out_dir, exist_ok=True)
    _run([compiler, *ABI_FLAGS, *_include_flags(compiler, gen_dir), *extra_flags,
          "-o", output, str(crt0), *map(str, sources), *map(str, runtime), *libs])


# -- Linux programs (musl) ----------------------------------------------------------------------

LINUX_FLAGS = ("-static", "-O2")


@lru_cache(maxsize=None)
def find_linux_compiler() -> tuple[str, ...]:
    """The command that builds static x86-64 Linux programs against musl: $NORMACH_LINUX_CC
    (split on spaces), else a system `musl-gcc`, else the clang + musl that the `ziglang`
    package ships (`python -m ziglang cc -target x86_64-linux-musl`).
    Raises: GuestBuildError."""
    env = os.environ.get("NORMACH_LINUX_CC")
    if env:
        return tuple(env.split())
    musl = shutil.which("musl-gcc")
    if musl:
        return (musl,)
    try:
        import ziglang  # noqa: F401
    except ImportError:
        raise GuestBuildError("no musl C compiler: pip install ziglang, or install musl-gcc, "
                              "or set NORMACH_LINUX_CC") from None
    return (sys.executable, "-m", "ziglang", "cc", "-target", "x86_64-linux-musl")


# The Mach part of the runtime, built with the musl compiler for Linux programs that also
# make Mach calls: no crt0, no small libc (musl is the libc), no thread.c (pthreads are
# musl's: a bare Mach thread would have no thread pointer for musl to use).
MUSL_RUNTIME_SOURCES = ("traps.c", "mach_calls.c", "mach_port_calls.c", "norma_calls.c",
                        "mig_support.c", "migrate.c")
MUSL_RUNTIME_FLAGS = ("-O2", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter",
                      "-DNORMACH_MUSL")
MUSL_ARCHIVE = "libnormach_mach.a"


@lru_cache(maxsize=None)
def _linux_version(cmd: tuple[str, ...]) -> str:
    return _query(*cmd, "--version")


def _linux_cache_key(cmd: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    h.update(b"musl\0" + gen.fingerprint().encode())
    h.update("\0".join(cmd).encode())
    h.update(_linux_version(cmd).encode())
    h.update(repr((MUSL_RUNTIME_SOURCES, MUSL_RUNTIME_FLAGS)).encode())
    for path in _runtime_files():
        h.update(str(path.relative_to(HERE)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def _linux_ar(cmd: tuple[str, ...]) -> tuple[str, ...] | None:
    """The archiver that goes with the musl compiler `cmd`: zig's own (`... ziglang ar`,
    `zig ar`), else the host's ar or llvm-ar; None if there is none."""
    if "cc" in cmd:
        i = cmd.index("cc")
        head = cmd[:i]
        if head and (head[-1] == "ziglang" or os.path.basename(head[-1]) == "zig"):
            return (*head, "ar")
    for name in ("ar", "llvm-ar"):
        path = shutil.which(name)
        if path:
            return (path,)
    return None


def linux_include_flags(gen_dir: Path) -> list[str]:
    """The Mach headers for a musl build: searched after the compiler's own, so musl's
    <stdio.h>, <string.h>, <stdlib.h>, <assert.h> win over the small libc's beside
    <mach.h> in include/, and <mach.h>, <mach/...> and the generated headers are found."""
    return ["-idirafter", str(gen_dir), "-idirafter", str(INCLUDE_DIR)]


def build_linux_runtime(cmd: tuple[str, ...] | None = None) -> tuple[Path, list[Path]]:
    """Generate the headers and compile the Mach runtime with the musl compiler (once per
    cache key, beside the native build's in the build cache).

    Returns: (generated header directory, [the static archive]) -- or the objects
    themselves when no archiver is found.
    Raises: GuestBuildError."""
    cmd = tuple(cmd or find_linux_compiler())
    root = cache_root() / ("musl-" + _linux_cache_key(cmd))
    gen_dir = root / "include"
    gen.generate(str(gen_dir))
    archive = root / MUSL_ARCHIVE
    objs = [root / (Path(name).stem + ".o") for name in MUSL_RUNTIME_SOURCES]
    for name, obj in zip(MUSL_RUNTIME_SOURCES, objs):
        if not obj.exists():
            tmp = obj.with_name(f"{obj.name}.{os.getpid()}.tmp.o")
            _run([*cmd, *MUSL_RUNTIME_FLAGS, *linux_include_flags(gen_dir),
                  "-c", str(LIB_DIR / name), "-o", str(tmp)])
            os.replace(tmp, obj)
    if archive.exists():
        return gen_dir, [archive]
    ar = _linux_ar(cmd)
    if ar is None:
        return gen_dir, objs
    tmp = archive.with_name(f"{archive.name}.{os.getpid()}.tmp.a")
    _run([*ar, "rcs", str(tmp), *map(str, objs)])
    os.replace(tmp, archive)
    return gen_dir, [archive]


def compile_linux(output: str, sources: list[str], extra_flags=(), mach: bool = True) -> None:
    """Build the static Linux executable `output` from C `sources` with musl (an ordinary
    POSIX program: it runs under the Unix server, servers/unix).  With `mach` (the
    default) normach's <mach.h> is on the include path, after musl's headers, and the Mach
    runtime (build_linux_runtime) is linked as an archive: a program that includes
    <mach.h> may make Mach calls beside musl's stdio, files and pthreads; one that does
    not pulls nothing of it in.
    Raises: GuestBuildError."""
    if not sources:
        raise GuestBuildError("no source files given")
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    cmd = find_linux_compiler()
    inc: list[str] = []
    libs: list[Path] = []
    if mach:
        gen_dir, libs = build_linux_runtime(cmd)
        inc = linux_include_flags(gen_dir)
    _run([*cmd, *LINUX_FLAGS, *inc, *extra_flags, "-o", output, *map(str, sources),
          *map(str, libs)])


# -- MIG (normach/mig) with the guest toolchain ------------------------------------------------

def kernel_defs_dir() -> Path:
    """A directory holding `mach/` with the kernel's interfaces as .defs, generated from
    kern/routines.py into the build cache (rewritten each time: they follow the table)."""
    from ..kern.mig_interface import write_defs
    d = cache_root() / "defs"
    write_defs(d / "mach")
    return d


def compile_interface(path, output_dir=".", defines=(), includes=(), header=None, user=None,
                      server=None) -> list[Path]:
    """`normach mig`: compile a .defs with the guest compiler's preprocessor, the
    runtime's types (`<mach/std_types.defs>`) and the kernel's interfaces
    (`<mach/mach_port.defs>` ...) on the include path.
    Raises: DefsError, FileNotFoundError."""
    from ..mig.compile import compile_defs
    from ..mig.model import DefsError
    try:
        cc = find_compiler()
    except GuestBuildError as e:
        raise DefsError(f"{path}: {e}") from None
    return compile_defs(path, cc, output_dir, defines,
                        [*includes, INCLUDE_DIR, kernel_defs_dir()], header, user, server)
