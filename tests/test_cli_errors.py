"""Every CLI mistake is one line on stderr, never a traceback, with the documented exit
code (normach/cli/errors.py: 125 normach's own failure, 126 not runnable, 127 not
found); mistakes about a running cluster are in tests/processes/test_cluster_cli.py."""

import os
import subprocess
import sys

import pytest

NOT_ELF = "/etc/hostname"


def cli(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "normach.cli.main", *args], capture_output=True,
                          text=True, timeout=120, env=env, cwd=cwd, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    (d / "broken.c").write_text("int main(void) { return syntax error; }\n")
    (d / "ok.c").write_text("#include <mach.h>\nint main(void) { return 3; }\n")
    (d / "spin.c").write_text("#include <mach.h>\nint main(void) { for (;;) swtch_pri(0); }\n")
    elf = bytearray(open(sys.executable, "rb").read(64))     # an ELF header ...
    elf[18:20] = (0xB7).to_bytes(2, "little")               # ... for another machine (AArch64)
    (d / "arm.elf").write_bytes(bytes(elf))
    return d


MISTAKES = [
    # (arguments, exit code, what the line says)
    (["up", "--nodes", "0"], 125, "--nodes"),
    (["up", "--local", "5", "--nodes", "3"], 125, "--local 5"),
    (["up", "--listen", "not an address!"], 125, "--listen"),
    (["ps", "--cluster", "tcp://127.0.0.1:5555#"], 125, "ADDRESS#SECRET"),
    (["ps", "--join", "garbage"], 125, "ADDRESS#SECRET"),
    (["ps", "--cluster", "127.0.0.1:5555#nothex"], 125, "not hex"),
    (["ps"], 125, "no cluster"),
    (["status"], 125, "no cluster"),
    (["logs", "0-1"], 125, "no cluster"),
    (["top", "--interval", "-1"], 125, "--interval"),
    (["top", "--count", "0"], 125, "--count"),
    (["node", "--join", "garbage"], 125, "--index"),
    (["node", "--index", "1", "--join", "tcp://127.0.0.1:5555#abcd"], 125, "NORMACH_SECRET"),
    (["node", "--index", "1", "--join", "garbage"], 125, "no secret"),
    (["node", "--from-launcher", "--index", "2"], 125, "--from-launcher"),
    (["node", "--index", "0", "--nodes", "3"], 125, "no secret"),
    (["run", "no-such-program"], 127, "no such file"),
    (["run", NOT_ELF], 126, "cannot run here"),
    (["run", "/"], 126, "folder"),
    (["run", "{arm.elf}"], 126, "x86-64"),
    (["run", sys.executable], 126, "static x86-64"),
    (["run", "{broken.c}"], 126, "does not build"),
    (["run", "--node", "5", "{ok.c}"], 125, "--node 5"),
    (["run", "--nodes", "0", "{ok.c}"], 125, "--nodes"),
    (["run", "--timeout", "-2", "{ok.c}"], 125, "--timeout"),
    (["run", "--detach", "{ok.c}"], 125, "--detach"),
    (["migrate", "0:1"], 125, "--to"),
    (["frobnicate"], 125, "frobnicate"),
    (["cc", "x.c"], 125, "-o"),
]


@pytest.mark.parametrize("args,code,says", MISTAKES, ids=[" ".join(m[0]) for m in MISTAKES])
def test_a_mistake_is_one_line_and_its_exit_code(files, tmp_path, args, code, says):
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path), "NORMACH_CLUSTER_FILE": "",
           "NORMACH_SECRET": ""}
    env.pop("NORMACH_CLUSTER", None)
    out = cli(*[str(files / a[1:-1]) if a.startswith("{") else a for a in args], env=env)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == code, out.stderr
    assert "Traceback" not in out.stderr
    if says != "does not build":                   # the compiler's diagnostics follow that line
        assert len(lines) == 1, out.stderr
    assert lines[0].startswith("normach") and says in lines[0], lines[0]


def test_the_program_status_and_the_timeout(files, tmp_path):
    assert cli("run", str(files / "ok.c")).returncode == 3
    out = cli("run", "--timeout", "0.5", str(files / "spin.c"))
    assert out.returncode == 124 and "killed" in out.stderr


def test_options_after_the_program_are_the_programs(tmp_path):
    src = tmp_path / "args.c"
    src.write_text('#include <mach.h>\n#include <stdio.h>\n'
                   'int main(int argc, char **argv) { for (int i = 1; i < argc; i++) '
                   'printf("[%s]", argv[i]); return argc; }\n')
    out = cli("run", "--nodes", "2", "--node", "1", str(src), "--node", "7", "--timeout")
    assert out.returncode == 4, out.stderr
    assert out.stdout == "[--node][7][--timeout]"


def test_version_and_help():
    import normach
    v = cli("--version")
    assert v.returncode == 0 and v.stdout.strip() == f"normach {normach.__version__}"
    assert normach.__version__[0].isdigit()
    h = cli("-h")
    assert h.returncode == 0 and "Exit codes" in h.stdout
    assert cli("run", "-h").returncode == 0


def test_run_and_demo_leave_no_temporary_folder(files, tmp_path):
    """`run x.c` and `demo` build in a temporary folder and remove it."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    assert cli("run", str(files / "ok.c"), env=env).returncode == 3
    assert cli("demo", env=env).returncode == 0
    assert list(tmp.iterdir()) == []


def test_cc_passes_compiler_flags_as_they_are(tmp_path):
    """Issue 14, item 11: `-DV=foo` was split by click (a letter "o" in it took the next
    characters as -o: the program went to ./o) and `-fno-strict-aliasing` failed."""
    src = tmp_path / "v.c"
    src.write_text('#include <mach.h>\n#include <stdio.h>\n#define S(x) #x\n#define STR(x) S(x)\n'
                   'int main(void) { printf("%s\\n", STR(V)); return 0; }\n')
    out = cli("cc", "-o", str(tmp_path / "v"), "-DV=foo", "-fno-strict-aliasing", "-O2", str(src),
              cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert not (tmp_path / "o").exists()
    run = cli("run", str(tmp_path / "v"))
    assert run.returncode == 0 and run.stdout == "foo\n"


def test_ctrl_c_stops_an_embedded_run_with_130(tmp_path):
    """Ctrl-C in `normach run` on an embedded cluster: exit 130 and one line; the
    signal is taken between waits, never inside the kernel's lock."""
    import signal
    src = tmp_path / "ready.c"
    src.write_text('#include <mach.h>\n#include <stdio.h>\n'
                   'int main(void) { printf("ready\\n"); for (;;) swtch_pri(0); }\n')
    p = subprocess.Popen([sys.executable, "-m", "normach.cli.main", "run", str(src)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "ready\n"
        p.send_signal(signal.SIGINT)
        assert p.wait(60) == 130
        assert p.stderr.read().strip().endswith("interrupted")
    finally:
        p.kill()
