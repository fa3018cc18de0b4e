"""A Linux program's first steps under the Unix server: start-up (auxv, TLS, the
heap), stdio to the console, libm, the clock, its exit status."""

from tests.unix.conftest import run_guest, run_native


def test_U1_2_a_posix_program_gives_its_native_output_and_status(cluster, linux_exe):
    exe = linux_exe("stdio_math")
    native = run_native(exe, ["word"])
    assert native[0] == 3
    assert run_guest(cluster, exe, ["word"]) == native
