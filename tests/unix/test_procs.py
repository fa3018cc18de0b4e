"""Processes under the Unix server: fork (a Mach task made by task_create with the
parent's memory copy-on-write), wait4/waitid, execve in the same task; each program's
output and status as natively."""

import os
import shutil
import time

from tests.unix.conftest import run_guest, run_native


def test_U1_5_fork_pipe_waitpid_and_copy_on_write_as_natively(cluster, linux_exe):
    exe = linux_exe("procs_fork")
    native = run_native(exe)
    assert native[0] == 3
    assert b"child: value=7 heap=child heap" in native[1]
    assert b"parent: value=42 heap=parent heap" in native[1]
    assert run_guest(cluster, exe) == native


def test_U1_5_execve_replaces_the_program_in_the_same_task(cluster, linux_exe, tmp_path):
    exe, hello = linux_exe("procs_exec"), linux_exe("procs_hello")
    shutil.copy(hello, tmp_path / "procs_hello")
    os.chmod(tmp_path / "procs_hello", 0o755)
    native = run_native(exe, cwd=tmp_path)
    assert native[0] == 22
    assert b"[from-child] [two] GREETING=hello" in native[1]
    assert run_guest(cluster, exe, root=tmp_path) == native
    # execve ended a thread that waited in nanosleep: the kernel destroys its exception
    # reply port when that wait next looks (every 50 ms), after the program may have ended
    deadline = time.monotonic() + 5
    while cluster.audit() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_U1_5_waitid_clone_vfork_and_a_child_killed_by_a_fault(cluster, linux_exe):
    exe = linux_exe("procs_wait")
    native = run_native(exe)
    assert native[0] == 0
    assert b"faulted child: exited=0 signaled=1" in native[1]
    assert b"clone: ptid-ok=1 status=12 parent ctid=0" in native[1]
    assert run_guest(cluster, exe) == native


def test_U1_5_children_of_an_ended_parent_are_forgotten(cluster, linux_exe):
    from normach.servers.unix import server_for
    exe = linux_exe("procs_orphan")
    assert run_guest(cluster, exe) == run_native(exe) == (0, b"parent done\n")
    server = server_for(cluster.kernel(0))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(server.pids) > 1:
        time.sleep(0.05)
    assert [p.name for p in server.pids.values()] == ["procs_orphan"]     # the parent alone


def test_U1_5_a_child_task_killed_without_exit_ends_its_parents_wait(cluster, linux_exe):
    from normach import mach
    from normach.servers.unix import server_for
    exe = linux_exe("procs_killed")
    p = cluster.spawn(exe, [])
    server = server_for(cluster.kernel(0))
    deadline = time.monotonic() + 30
    while b"child started" not in p.out.data and time.monotonic() < deadline:
        time.sleep(0.02)
    child = next(c for c in list(server.pids.values()) if c.parent is not None)
    mach.task_terminate(child.task)
    assert cluster.wait(p, timeout=30) == 0
    assert p.out.data == b"child started\nkilled: same=1 signaled=1 sig=9\n"
