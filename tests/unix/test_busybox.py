"""Debian's busybox-static, an unmodified glibc static binary, under the Unix server:
a shell pipeline, gzip and gunzip, ls of the file space — each giving the output the
same binary gives natively.

The test set-up fetches the package with `apt-get download` (no root needed) into the
build cache; the tests skip only where this machine cannot have it (no apt)."""

import glob
import gzip
import hashlib
import os
import shutil
import subprocess
import tempfile

import pytest

from normach.kern.exec import parse_image
from tests.unix.conftest import run_guest, run_native


def _static(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return parse_image(f.read()).personality == "linux"
    except Exception:                           # noqa: BLE001 - not a static executable
        return False


def _fetch(into: str) -> str | None:
    """busybox from Debian's busybox-static package, extracted under `into`."""
    exe = os.path.join(into, "bin", "busybox")
    if os.path.exists(exe):
        return exe
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        return None
    work = tempfile.mkdtemp(prefix="busybox-deb-")
    try:
        subprocess.run(["apt-get", "download", "busybox-static"], cwd=work, check=True,
                       capture_output=True, timeout=300)
        deb = glob.glob(os.path.join(work, "busybox-static*.deb"))[0]
        subprocess.run(["dpkg-deb", "-x", deb, into], check=True, capture_output=True)
    except (subprocess.SubprocessError, IndexError, OSError):
        return None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return exe if os.path.exists(exe) else None


@pytest.fixture(scope="session")
def busybox():
    from normach.guest.build import cache_root
    for cand in (shutil.which("busybox"), "/bin/busybox"):
        if cand and _static(cand):
            return cand
    exe = _fetch(str(cache_root() / "busybox-static"))
    if exe is None or not _static(exe):
        pytest.skip("busybox-static cannot be installed here (no apt-get, or no package)")
    return exe


def _tree(root):
    """The same small file space for the native and the guest run."""
    os.makedirs(root)
    with open(os.path.join(root, "data.txt"), "w") as f:
        f.write("".join(f"line {i} {'x' * (i % 13)}\n" for i in range(300)))
    os.mkdir(os.path.join(root, "sub"))
    with open(os.path.join(root, "sub", "b"), "w") as f:
        f.write("b\n")
    return root


def test_U1_2_busybox_sh_pipeline_gives_the_native_output(cluster, busybox, tmp_path):
    args = ["sh", "-c", "echo a | sort | md5sum"]
    native = run_native(busybox, args, cwd=_tree(tmp_path / "n"))
    assert native[0] == 0 and native[1].startswith(hashlib.md5(b"a\n").hexdigest().encode())
    assert run_guest(cluster, busybox, args, root=_tree(tmp_path / "g")) == native


def test_U1_2_busybox_gzip_and_gunzip_round_trip_a_file(cluster, busybox, tmp_path):
    root = _tree(tmp_path / "g")
    original = (tmp_path / "g" / "data.txt").read_bytes()
    assert run_guest(cluster, busybox, ["gzip", "data.txt"], root=root)[0] == 0
    assert not (tmp_path / "g" / "data.txt").exists()
    packed = (tmp_path / "g" / "data.txt.gz").read_bytes()
    assert gzip.decompress(packed) == original          # a gzip file the host reads
    assert run_guest(cluster, busybox, ["gunzip", "data.txt.gz"], root=root)[0] == 0
    assert (tmp_path / "g" / "data.txt").read_bytes() == original


def test_U1_2_busybox_ls_lists_the_file_space(cluster, busybox, tmp_path):
    args = ["ls", "-1", "/", "/sub"]
    native_root = _tree(tmp_path / "n")
    native = run_native(busybox, ["ls", "-1", ".", "sub"], cwd=native_root)
    status, out = run_guest(cluster, busybox, args, root=_tree(tmp_path / "g"))
    assert status == native[0] == 0
    assert out.replace(b"/:\n", b".:\n").replace(b"/sub:\n", b"sub:\n") == native[1]
