"""A Linux program migrates 0 -> 1 -> 2 while it writes a file, feeds its child
through a pipe and runs two threads: its system calls follow it to the same Unix
server (its exception port moves with the task), and it ends with the result it
has unmigrated."""

import shutil

from tests.unix.conftest import run_guest, run_native
from tests.waiting import wait_until


def test_U1_8_a_threaded_linux_program_with_a_file_and_a_child_migrates_and_finishes_as_unmoved(
        c3, linux_exe, tmp_path):
    exe = linux_exe("migrate_worker")
    native_dir, guest_dir = tmp_path / "native", tmp_path / "guest"
    native_dir.mkdir()
    guest_dir.mkdir()
    native = run_native(exe, cwd=native_dir)
    assert native[0] == 0 and b"lines 40 child 0" in native[1]
    p = c3.spawn(exe, [], node=0, root=str(guest_dir))
    wait_until(lambda: b"started" in bytes(p.out.data), what="the program to start")
    for node in (1, 2):
        m = c3.migrate(p, node)
        assert m is not None
    status = c3.wait(p, timeout=300)
    assert (status, bytes(p.out.data)) == native
    assert p.node == 2 and len(p.migrations) == 2     # it did move, twice, while it ran
    assert (guest_dir / "migrate.out").read_text() == (native_dir / "migrate.out").read_text()
    shutil.rmtree(native_dir)


def test_U1_8_an_unmigrated_run_gives_the_native_result(cluster, linux_exe, tmp_path):
    exe = linux_exe("migrate_worker")
    native = run_native(exe, cwd=tmp_path)
    assert run_guest(cluster, exe, root=str(tmp_path))[0] == native[0]
