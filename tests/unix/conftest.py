"""Linux programs under the Unix server: built from ordinary POSIX C in programs/ with
musl (normach.guest.build.compile_linux), run on an embedded cluster, each compared
with the same binary run natively on this host where that makes sense."""

import os
import subprocess

import pytest

from normach.guest.build import compile_linux

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "programs")


@pytest.fixture(scope="session")
def linux_exe(tmp_path_factory):
    """build(name) -> the path of programs/NAME.c built as a static Linux executable."""
    out = tmp_path_factory.mktemp("linux-programs")
    built = {}

    def build(name: str, *flags: str) -> str:
        key = (name, flags)
        if key not in built:
            exe = str(out / (name + ("-" + "-".join(f.strip("-") for f in flags) if flags else "")))
            compile_linux(exe, [os.path.join(PROGRAMS, name + ".c")], flags)
            built[key] = exe
        return built[key]
    return build


def run_native(exe: str, args=(), cwd=None, timeout=60) -> tuple[int, bytes]:
    """(exit status as normach reports it, stdout + stderr) of `exe` run on the host."""
    p = subprocess.run([exe, *args], cwd=cwd, capture_output=True, timeout=timeout)
    status = p.returncode if p.returncode >= 0 else 128 - p.returncode
    return status, p.stdout + p.stderr


def run_guest(cluster, exe: str, args=(), root=None, node=0, timeout=120) -> tuple[int, bytes]:
    """(exit status, console output) of `exe` run by the Unix server on `cluster`."""
    p = cluster.spawn(exe, [str(a) for a in args], node=node, root=root)
    status = cluster.wait(p, timeout=timeout)
    return status, p.out.data if hasattr(p, "out") else b""
