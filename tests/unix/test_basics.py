"""A Linux program's first steps under the Unix server: start-up (auxv, TLS, the
heap), stdio to the console, libm, the clock, its exit status."""

from tests.unix.conftest import run_guest, run_native


def test_U1_2_a_posix_program_gives_its_native_output_and_status(cluster, linux_exe):
    exe = linux_exe("stdio_math")
    native = run_native(exe, ["word"])
    assert native[0] == 3
    assert run_guest(cluster, exe, ["word"]) == native


def test_U1_1_a_call_the_server_does_not_emulate_answers_ENOSYS(cluster, linux_exe):
    status, out = run_guest(cluster, linux_exe("enosys"))
    assert status == 0
    lines = out.decode().splitlines()
    assert len(lines) == 5 and all(line.endswith(": -1 ENOSYS") for line in lines), lines


def test_U1_1_a_mach_native_program_gets_ENOSYS_for_a_linux_system_call(cluster, tmp_path):
    """No EXC_SYSCALL handler (a program of normach cc): the call returns -ENOSYS."""
    from normach.guest.build import compile_program
    src = tmp_path / "native.c"
    src.write_text('#include <stdio.h>\n'
                   'static long sys(long n) { long r; __asm__ volatile("syscall" : "=a"(r) : "a"(n)'
                   ' : "rcx", "r11", "memory"); return r; }\n'
                   'int main(void) { printf("%ld %ld\\n", sys(39), sys(500)); return 0; }\n')
    exe = str(tmp_path / "native")
    compile_program(exe, [str(src)])
    p = cluster.spawn(exe)
    assert cluster.wait(p, timeout=60) == 0
    assert cluster.output(p) == "-38 -38\n"
