"""The path a user takes with MIG, each step a separate `normach` command: publish the
kernel's interfaces, compile one with prefixes, build a guest server and client of it
with `normach cc`, run it with `normach run`."""

import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).parent / "programs"
GUEST_TESTS = HERE.parent.parent.parent / "guest" / "tests"


def normach(*args, cwd):
    p = subprocess.run([sys.executable, "-m", "normach", *map(str, args)], cwd=cwd,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, f"normach {' '.join(map(str, args))}: {p.stderr}"
    return p


def test_a_guest_server_of_a_kernel_interface_from_the_shell(tmp_path):
    normach("mig", "--kernel-defs", "defs", cwd=tmp_path)
    normach("mig", "-DUSERPREFIX=mig_", "-DSERVERPREFIX=srv_", "-o", "gen", "defs/clock.defs",
            cwd=tmp_path)
    assert sorted(f.name for f in (tmp_path / "gen").iterdir()) == \
        ["clock.h", "clockServer.c", "clockUser.c"]
    normach("cc", "-o", "clock_server", "-I", "gen", "-I", GUEST_TESTS,
            HERE / "mig_clock_server.c", "gen/clockUser.c", "gen/clockServer.c", cwd=tmp_path)
    run = normach("run", "./clock_server", cwd=tmp_path)
    assert "PASS" in run.stdout
