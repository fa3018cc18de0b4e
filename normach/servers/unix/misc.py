"""Identity, limits and the rest: what a C library asks at start-up and now and
then (uname, getrandom, the ids, rlimits, affinity, sysinfo), and the thread set-up
calls that only record a value (arch_prctl, set_tid_address, set_robust_list).
"""

from __future__ import annotations

import errno
import os
import struct

from .table import syscall

ARCH_SET_GS, ARCH_SET_FS, ARCH_GET_FS, ARCH_GET_GS = 0x1001, 0x1002, 0x1003, 0x1004
RLIM_INFINITY = (1 << 64) - 1
RLIMIT_STACK, RLIMIT_NOFILE = 3, 7
RLIMITS = {RLIMIT_STACK: (8 << 20, RLIM_INFINITY), RLIMIT_NOFILE: (1024, 1024)}
UNAME = (b"Linux", b"normach", b"6.1.0-normach", b"#1 SMP normach (a Unix server on Mach)",
         b"x86_64", b"(none)")


@syscall(39, "getpid")
def sys_getpid(call):
    return call.proc.pid


@syscall(110, "getppid")
def sys_getppid(call):
    return call.proc.ppid


@syscall(186, "gettid")
def sys_gettid(call):
    return call.thread.tid


for _nr, _name in ((102, "getuid"), (107, "geteuid"), (104, "getgid"), (108, "getegid")):
    syscall(_nr, _name)(lambda call: 0)


@syscall(111, "getpgrp")
def sys_getpgrp(call):
    return call.proc.pid


@syscall(121, "getpgid")
def sys_getpgid(call):
    return call.proc.pid


@syscall(124, "getsid")
def sys_getsid(call):
    return call.proc.pid


@syscall(109, "setpgid")
def sys_setpgid(call):
    return 0


@syscall(112, "setsid")
def sys_setsid(call):
    return call.proc.pid


@syscall(63, "uname")
def sys_uname(call):
    call.write(call.args[0], b"".join(f.ljust(65, b"\0") for f in UNAME))
    return 0


@syscall(318, "getrandom")
def sys_getrandom(call):
    n = min(call.args[1], 1 << 20)
    call.write(call.args[0], os.urandom(n))
    return n


@syscall(302, "prlimit64")
def sys_prlimit64(call):
    pid, resource, new, old = call.args[:4]
    if pid not in (0, call.proc.pid):
        return -errno.ESRCH
    if old:
        cur, mx = RLIMITS.get(resource, (RLIM_INFINITY, RLIM_INFINITY))
        call.write(old, struct.pack("<QQ", cur, mx))
    return 0


@syscall(97, "getrlimit")
def sys_getrlimit(call):
    cur, mx = RLIMITS.get(call.args[0], (RLIM_INFINITY, RLIM_INFINITY))
    call.write(call.args[1], struct.pack("<QQ", cur, mx))
    return 0


@syscall(160, "setrlimit")
def sys_setrlimit(call):
    return 0


@syscall(24, "sched_yield")
def sys_sched_yield(call):
    return 0


@syscall(204, "sched_getaffinity")
def sys_sched_getaffinity(call):
    size = call.args[1]
    if size < 8 or size % 8:
        return -errno.EINVAL
    call.write(call.args[2], struct.pack("<Q", 1) + bytes(min(size, 128) - 8))
    return min(size, 128)


@syscall(99, "sysinfo")
def sys_sysinfo(call):
    import time
    up = int(time.monotonic())
    call.write(call.args[0], struct.pack("<q3Q6QHH4xQQI", up, 0, 0, 0, 1 << 30, 1 << 29, 0,
                                         0, 0, 0, 1, 0, 0, 0, 1) + bytes(4))
    return 0


@syscall(158, "arch_prctl")
def sys_arch_prctl(call):
    code, addr = call.args[0], call.args[1]
    if code == ARCH_SET_FS:
        call.state.fs_base = addr
        call.thread.fs_base = addr
        return 0
    if code == ARCH_SET_GS:
        call.state.gs_base = addr
        return 0
    if code in (ARCH_GET_FS, ARCH_GET_GS):
        call.put_u64(addr, call.state.fs_base if code == ARCH_GET_FS else call.state.gs_base)
        return 0
    return -errno.EINVAL


@syscall(218, "set_tid_address")
def sys_set_tid_address(call):
    call.thread.clear_child_tid = call.args[0]
    return call.thread.tid


@syscall(273, "set_robust_list")
def sys_set_robust_list(call):
    return 0 if call.args[1] == 24 else -errno.EINVAL


@syscall(95, "umask")
def sys_umask(call):
    old, call.proc.umask = call.proc.umask, call.args[0] & 0o777
    return old
