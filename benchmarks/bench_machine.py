"""Machine benchmarks: guest code under normach vs bare unicorn, in the same run.

* compute loop: the same ELF run by normach and by a bare unicorn in
  UC_TLB_VIRTUAL mode whose fill hook is a minimal dict lookup (the fair
  baseline, ../shared/notes/unicorn.md);
* zero-fill fault: first touch of fresh pages, per page, vs the bare CPU
  filling a new page in its hook;
* null trap: `syscall` with an unknown trap number, vs a bare syscall hook.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import subprocess
import tempfile
import time

from normach import Cluster

from .harness import Result, guest_per_call

US = 1e6
FLAGS = ["-O2", "-ffreestanding", "-nostdlib", "-static", "-fno-pie", "-no-pie",
         "-fno-stack-protector", "-Wl,--build-id=none"]

PRELUDE = r"""
static long sys(long n, long a, long b) { long r; __asm__ volatile("syscall" : "=a"(r)
    : "a"(n), "D"(a), "S"(b) : "rcx", "r11", "memory"); return r; }
#define EXIT(s) do { sys(-100, (s), 0); for (;;); } while (0)
/* Mach-native: the personality note normach cc's crt0 carries (kern/exec.py) */
__asm__(".pushsection .note.normach,\"a\",@note\n.p2align 2\n.long 8, 4, 1\n"
        ".asciz \"normach\"\n.long 1\n.popsection");
"""

COMPUTE = PRELUDE + r"""
static unsigned buf[1 << 20];                       /* 4 MiB */
void _start(void) {
    unsigned long s = 0;
    for (int pass = 0; pass < 20; pass++)
        for (int i = 0; i < (1 << 20); i += 16) { buf[i] += i + pass; s += buf[i]; }
    EXIT(s & 0x7f);
}
"""

TOUCH = PRELUDE + r"""
#define PAGES 4096
static volatile char area[PAGES * 4096];                     /* bss: zero fill on first touch */
void _start(void) {
    for (int i = 0; i < PAGES; i++) area[i * 4096] = 1;
    EXIT(0);
}
"""

TRAPS = PRELUDE + r"""
void _start(void) {
    for (int i = 0; i < 200000; i++) sys(12345, 0, 0);
    EXIT(0);
}
"""


def build(src: str, name: str) -> str:
    d = tempfile.mkdtemp(prefix="normach-bench-")
    c, out = os.path.join(d, name + ".c"), os.path.join(d, name)
    with open(c, "w") as f:
        f.write(src)
    subprocess.run(["cc", *FLAGS, "-o", out, c], check=True)
    return out


def run_normach(path: str) -> float:
    with Cluster(nodes=1, phys_bytes=256 << 20) as c:
        t0 = time.perf_counter()
        p = c.spawn(path)
        status = c.wait(p, timeout=300)
        dt = time.perf_counter() - t0
        assert p.reason == "", p.reason
        del status
    return dt


def run_bare(path: str) -> float:
    """The same ELF on a bare unicorn: TLB_VIRTUAL, a dict-lookup fill hook, pages on demand."""
    from elftools.elf.elffile import ELFFile
    from unicorn import (UC_ARCH_X86, UC_HOOK_INSN, UC_HOOK_TLB_FILL, UC_MODE_64, UC_PROT_ALL,
                         UC_TLB_VIRTUAL, Uc)
    from unicorn.x86_const import UC_X86_INS_SYSCALL, UC_X86_REG_RAX, UC_X86_REG_RSP
    pool = 256 << 20
    mem = mmap.mmap(-1, pool)
    base = ctypes.addressof(ctypes.c_char.from_buffer(mem))
    pmap, free = {}, list(range(pool // 4096 - 1, 0, -1))
    with open(path, "rb") as f:
        elf = ELFFile(f)
        for seg in elf.iter_segments():
            if seg["p_type"] != "PT_LOAD":
                continue
            va, data = seg["p_vaddr"], seg.data()
            for i in range(0, len(data)):
                vpn = (va + i) >> 12
                if vpn not in pmap:
                    pmap[vpn] = (free.pop(), 7)
                mem[pmap[vpn][0] * 4096 + ((va + i) & 4095)] = data[i]
        entry = elf["e_entry"]
    uc = Uc(UC_ARCH_X86, UC_MODE_64)
    uc.ctl_set_tlb_mode(UC_TLB_VIRTUAL)
    uc.ctl_set_tcg_buffer_size(32 << 20)
    uc.mem_map_ptr(0, pool, UC_PROT_ALL, base)

    def fill(uc, vaddr, access, e, _):
        vpn = vaddr >> 12
        hit = pmap.get(vpn)
        if hit is None:
            hit = pmap[vpn] = (free.pop(), 7)
        e.paddr, e.perms = hit[0] << 12, hit[1]
        return True

    def syscall(uc, _):
        if uc.reg_read(UC_X86_REG_RAX) == (-100 & (2 ** 64 - 1)):
            uc.emu_stop()
        uc.reg_write(UC_X86_REG_RAX, 4)

    uc.hook_add(UC_HOOK_TLB_FILL, fill)
    uc.hook_add(UC_HOOK_INSN, syscall, None, 1, 0, UC_X86_INS_SYSCALL)
    uc.reg_write(UC_X86_REG_RSP, 0x7FFF_FFFF_0000 - 4096)
    t0 = time.perf_counter()
    uc.emu_start(entry, 0xFFFF_FFFF_FFFF_F000)
    return time.perf_counter() - t0


def _best(fn, path, runs=3) -> float:
    return min(fn(path) for _ in range(runs))


def bench_guest_rpc() -> Result:
    """Guest-to-guest null RPC (two guest threads) vs Python-to-Python mach_msg RPC."""
    from normach.guest.build import compile_program
    from .bench_core import python_rpc_us
    d = tempfile.mkdtemp(prefix="normach-bench-")
    exe = os.path.join(d, "msg_rtt")
    compile_program(exe, [os.path.join(os.path.dirname(__file__), "guest", "msg_rtt.c")])
    per = guest_per_call(exe, lambda n: [str(n)])
    return Result("null mach_msg RPC, guest thread to guest thread", "µs", per * US,
                  "same RPC between Python threads", python_rpc_us())


def run_all() -> list[Result]:
    compute, touch, traps = build(COMPUTE, "compute"), build(TOUCH, "touch"), build(TRAPS, "traps")
    out = []
    n, b = _best(run_normach, compute), _best(run_bare, compute)
    out.append(Result("guest compute loop (20 passes, 4 MiB)", "ms", n * 1e3,
                      "bare unicorn TLB_VIRTUAL + dict hook", b * 1e3, "aim: ratio <= 1.15"))
    n, b = _best(run_normach, touch), _best(run_bare, touch)
    out.append(Result("zero-fill fault (4096 pages)", "µs/page", n / 4096 * US,
                      "bare unicorn, page made in the hook", b / 4096 * US))
    n, b = _best(run_normach, traps), _best(run_bare, traps)
    out.append(Result("null trap (200k syscalls)", "µs/trap", n / 200000 * US,
                      "bare unicorn syscall hook", b / 200000 * US))
    out.append(bench_guest_rpc())
    return out
