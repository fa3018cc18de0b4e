"""Mach calls from musl programs: a Linux program built by `compile_linux` / `normach cc
--linux` gets normach's <mach.h> (after musl's own headers) and the Mach runtime as an
archive, so one program uses musl's printf("%f"), libm, files and pthreads beside
mach_task_self, vm_allocate, ports, mach_msg between pthreads, task_info and
thread_info (docs/guest-abi.md, "Mach calls from musl programs")."""

import subprocess
import sys

from tests.unix.conftest import PROGRAMS, run_guest

EXPECTED = (b"sqrt(2)=1.414214 pi=3.14159 exp(1)=2.71828\n"
            b"file: 0.333333\n"
            b"file*3=1.0000\n"
            b"task_self: ok\n"
            b"vm_allocate: aligned, last=7\n"
            b"vm_deallocate: ok\n"
            b"sender: thread_info suspend_count=0\n"
            b"main: request id=4242 value=20 text=2.50\n"
            b"task_info: threads=2\n"
            b"sender: reply id=4342 value=40 text=6.3\n"
            b"join: 41\n"
            b"done\n")


def test_U1_1_a_musl_program_uses_stdio_files_pthreads_and_mach_calls(cluster, linux_exe, tmp_path):
    exe = linux_exe("mach_musl", "-pthread")
    status, out = run_guest(cluster, exe, root=tmp_path, timeout=300)
    assert (status, out) == (0, EXPECTED)
    assert (tmp_path / "mach_musl.txt").read_text() == "0.333333\n"


def test_U1_1_mach_calls_work_on_both_sides_of_fork(cluster, linux_exe, tmp_path):
    status, out = run_guest(cluster, linux_exe("mach_musl_fork"), root=tmp_path, timeout=300)
    assert status == 0, out
    assert out == (b"child: task_self current=1\n"
                   b"child: vm ok=1 threads=1\n"
                   b"parent: child exit=0\n"
                   b"parent: task_self unchanged=1\n"
                   b"parent: vm ok=1 threads=1\n")


def test_U1_1_a_program_without_mach_h_links_none_of_the_mach_runtime(linux_exe):
    with open(linux_exe("procs_hello"), "rb") as f:
        plain = f.read()
    with open(linux_exe("mach_musl", "-pthread"), "rb") as f:
        mach = f.read()
    assert b"mach_task_self_" not in plain and b"mach_msg_trap" not in plain
    assert b"mach_task_self_" in mach and b"mach_msg_trap" in mach


def normach(*args, cwd):
    p = subprocess.run([sys.executable, "-m", "normach", *map(str, args)], cwd=cwd,
                       capture_output=True, timeout=600)
    assert p.returncode == 0, f"normach {' '.join(map(str, args))}: {p.stderr.decode()}"
    return p


def test_U1_1_normach_cc_linux_builds_a_mach_musl_program_that_normach_run_runs(tmp_path):
    normach("cc", "--linux", "-pthread", "-o", "mach_musl", f"{PROGRAMS}/mach_musl.c", cwd=tmp_path)
    run = normach("run", "./mach_musl", cwd=tmp_path)
    assert run.stdout == EXPECTED
    assert (tmp_path / "mach_musl.txt").read_text() == "0.333333\n"
