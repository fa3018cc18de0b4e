"""Freestanding guest snippets built with the system C compiler (no guest runtime).

Shared by the CPU tests and the XMM scenarios (their conftests import the fixture).

Each snippet gets `sys(n, a, b)` (a raw trap) and `EXIT(status)`.
"""

import shutil
import subprocess

import pytest

FLAGS = ["-O2", "-ffreestanding", "-nostdlib", "-static", "-fno-pie", "-no-pie",
         "-fno-stack-protector", "-Wl,--build-id=none"]
PRELUDE = r"""
typedef unsigned long u64;
static long sys(long n, long a, long b) { long r; __asm__ volatile("syscall" : "=a"(r)
    : "a"(n), "D"(a), "S"(b) : "rcx", "r11", "memory"); return r; }
static long sys3(long n, long a, long b, long c) { long r; __asm__ volatile("syscall" : "=a"(r)
    : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory"); return r; }
#define EXIT(s) do { sys(-100, (s), 0); for (;;); } while (0)
/* Mach-native: the personality note normach cc's crt0 carries (kern/exec.py) */
__asm__(".pushsection .note.normach,\"a\",@note\n.p2align 2\n.long 8, 4, 1\n"
        ".asciz \"normach\"\n.long 1\n.popsection");
"""


@pytest.fixture(scope="session")
def build_snippet(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler")
    d = tmp_path_factory.mktemp("snippets")

    def build(name: str, body: str) -> str:
        src, out = d / f"{name}.c", d / name
        src.write_text(PRELUDE + body)
        subprocess.run([cc, *FLAGS, "-o", str(out), str(src)], check=True)
        return str(out)
    return build


def symbol(path: str, name: str) -> int:
    """The address of a symbol of an ELF file."""
    from elftools.elf.elffile import ELFFile
    with open(path, "rb") as f:
        sym = ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name(name)
        return sym[0]["st_value"]

