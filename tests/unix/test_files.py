"""The file space of the Unix server: a process's "/" is a host directory, files and
directories in it are made, read, listed, renamed and removed as on Linux (each
program's output compared with the same binary run natively on an identical fresh
directory), and no path, `..` or symbolic link reaches anything outside it."""

import errno
import os

import pytest

from normach.servers.unix.fs import host_of, resolve
from tests.unix.conftest import run_guest, run_native


def _both(cluster, exe, tmp_path, args=()):
    guest_root, native_dir = tmp_path / "guest", tmp_path / "native"
    guest_root.mkdir()
    native_dir.mkdir()
    native = run_native(exe, args, cwd=native_dir)
    guest = run_guest(cluster, exe, args, root=guest_root)
    return guest, native, guest_root, native_dir


def _tree(d):
    return sorted((os.path.relpath(os.path.join(p, n), d), os.path.getsize(os.path.join(p, n)))
                  for p, _ds, fs in os.walk(d) for n in fs)


def test_U1_3_stdio_and_fd_io_on_files_match_native(cluster, linux_exe, tmp_path):
    guest, native, groot, ndir = _both(cluster, linux_exe("files_io"), tmp_path)
    assert native[0] == 0
    assert b"read back: line 4: 4 squared is 16" in native[1]
    assert guest == native
    assert _tree(groot) == _tree(ndir)
    assert (groot / "data.bin").read_bytes() == b"HELLO+tail"


def test_U1_3_directories_listing_rename_unlink_rmdir_match_native(cluster, linux_exe, tmp_path):
    guest, native, groot, ndir = _both(cluster, linux_exe("files_dirs"), tmp_path)
    assert native[0] == 0
    assert b"top: ..:d .:d a.txt:f b.txt:f many-00" in native[1]
    assert guest == native
    assert os.listdir(groot) == os.listdir(ndir) == []


def test_U1_3_paths_outside_the_root_are_not_reached(cluster, linux_exe, tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (tmp_path / "outside").write_text("SECRET outside the root\n")
    (root / "inside.txt").write_text("inside\n")
    os.symlink("/etc/passwd", root / "abs-link")
    os.symlink("../../outside", root / "sub" / "rel-link")
    os.symlink("/inside.txt", root / "sub" / "abs-inside")
    os.symlink("loop-b", root / "loop-a")
    os.symlink("loop-a", root / "loop-b")
    args = ["../outside", "/etc/passwd", "abs-link", "sub/rel-link", "/../outside",
            "sub/../../outside", "sub/abs-inside", "loop-a", "inside.txt/x"]
    status, out = run_guest(cluster, linux_exe("files_escape"), args, root=root)
    assert status == 0
    lines = out.decode().splitlines()
    enoent = f"errno {errno.ENOENT}"
    assert lines[0] == f"../outside: {enoent}"
    assert lines[1] == f"/etc/passwd: {enoent}"
    assert lines[2] == f"abs-link: {enoent}"
    assert lines[3] == f"sub/rel-link: {enoent}"
    assert lines[4] == f"/../outside: {enoent}"
    assert lines[5] == f"sub/../../outside: {enoent}"
    assert lines[6] == "sub/abs-inside: ok 7 inside"
    assert lines[7] == f"loop-a: errno {errno.ELOOP}"
    assert lines[8] == f"inside.txt/x: errno {errno.ENOTDIR}"
    assert lines[9] == "/../../.. stat 0 getcwd-after-fchdir 0 /"
    assert b"SECRET" not in out and b"root:" not in out


def test_U1_3_a_root_with_etc_passwd_gives_its_own(cluster, linux_exe, tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("guest:x:1:1::/:/bin/sh\n")
    os.symlink("/etc/passwd", tmp_path / "pw")
    status, out = run_guest(cluster, linux_exe("files_escape"), ["/etc/passwd", "pw", "../etc/passwd"],
                            root=tmp_path)
    assert status == 0
    assert out.decode().splitlines()[:3] == ["/etc/passwd: ok 23 guest:x:1:1::/:/bin/sh",
                                             "pw: ok 23 guest:x:1:1::/:/bin/sh",
                                             "../etc/passwd: ok 23 guest:x:1:1::/:/bin/sh"]


def test_U1_3_resolve_keeps_every_path_inside_the_root(tmp_path):
    root = str(tmp_path)
    os.makedirs(tmp_path / "a" / "b")
    (tmp_path / "f").write_text("x")
    os.symlink("/a/b", tmp_path / "abs")
    os.symlink("../../../../..", tmp_path / "a" / "up")
    os.symlink("b/", tmp_path / "a" / "tob")
    os.symlink("self", tmp_path / "self")
    assert resolve(root, "/", "../../..") == "/"
    assert resolve(root, "/a/b", "../../../f") == "/f"
    assert resolve(root, "/", "/abs/../..") == "/"
    assert resolve(root, "/", "abs") == "/a/b"
    assert resolve(root, "/", "abs", follow=False) == "/abs"
    assert resolve(root, "/", "a/up/a/tob/new") == "/a/b/new"
    assert resolve(root, "/a", "up") == "/"
    assert resolve(root, "/", "a//b/./") == "/a/b"
    assert host_of(root, resolve(root, "/", "a/up/a/b/zz")) == os.path.join(root, "a", "b", "zz")
    for path, code in (("self", errno.ELOOP), ("f/x", errno.ENOTDIR), ("f/", errno.ENOTDIR),
                       ("missing/x", errno.ENOENT), ("", errno.ENOENT)):
        with pytest.raises(OSError) as e:
            resolve(root, "/", path)
        assert e.value.errno == code, path
    assert resolve(root, "/", "self", follow=False) == "/self"


def test_U1_3_times_statx_links_and_dirfd_calls_match_native(cluster, linux_exe, tmp_path):
    guest, native, groot, ndir = _both(cluster, linux_exe("files_meta"), tmp_path)
    assert native[0] == 0
    assert b"statx 0 basic 1 size 10" in native[1]
    assert guest == native
    assert _tree(groot) == _tree(ndir)


def test_U1_3_stat_gives_host_times_to_the_nanosecond(tmp_path):
    from normach.servers.unix.fs import HostStat
    f = tmp_path / "t"
    f.write_text("x")
    os.utime(f, ns=(1_700_000_000_123_456_789, 1_700_000_001_987_654_321))
    packed = HostStat(os.stat(f)).pack()
    import struct
    assert struct.unpack_from("<qqqq", packed, 72) == (1_700_000_000, 123_456_789, 1_700_000_001, 987_654_321)


def test_U1_3_host_path_of_a_process_follows_links_inside_its_root(tmp_path):
    from normach.servers.unix.fs import host_path
    from normach.servers.unix.process import Process
    (tmp_path / "bin").mkdir()
    (tmp_path / "etc").mkdir()
    (tmp_path / "bin" / "prog").write_text("")
    os.symlink("/bin/prog", tmp_path / "bin" / "alias")
    os.symlink("/etc/passwd", tmp_path / "pw")
    proc = Process(pid=1, ppid=0, root=str(tmp_path), cwd="/bin")
    assert host_path(proc, "alias") == str(tmp_path / "bin" / "prog")
    assert host_path(proc, "../pw") == str(tmp_path / "etc" / "passwd")
    assert host_path(proc, "../pw", follow=False) == str(tmp_path / "pw")
