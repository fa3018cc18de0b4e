"""`normach mig`: the .defs language, message ids, the layout, and its mistakes.

The generated C is exercised by tests/mig/test_mig_guests.py; here: what the
compiler accepts, what it refuses (file:line and exit 126), and the CLI.
"""

import subprocess
import sys

import pytest

from normach.mig.cgen import max_size, request_max
from normach.guest.build import compile_interface
from normach.mig.model import DefsError
from normach.mig.parser import parse

STD = open(__import__("normach.kern.mig_interface", fromlist=["DEFS_DIR"]).DEFS_DIR
           / "std_types.defs").read()


def _sub(text):
    return parse(STD + text, "t.defs")


def test_routines_are_numbered_from_the_base_and_skip_takes_a_number():
    sub = _sub("""subsystem demo 500;
        routine a(s : mach_port_t);
        skip; skip;
        simpleroutine b(s : mach_port_t; x : int);
        routine c(s : mach_port_t; out y : int);""")
    assert [(r.name, r.number, r.simple) for r in sub.defined()] == \
        [("a", 500, False), ("b", 503, True), ("c", 504, False)]
    assert sub.defined()[2].reply_number == 604


def test_prefixes_waittime_and_msgoption_apply_to_the_routines_after_them():
    sub = _sub("""subsystem demo 100; userprefix u_; serverprefix s_;
        routine a(s : mach_port_t);
        waittime 250; msgoption MACH_SEND_TIMEOUT;
        routine b(s : mach_port_t);
        nowaittime;
        routine c(s : mach_port_t);""")
    a, b, c = sub.defined()
    assert (sub.user_prefix, sub.server_prefix) == ("u_", "s_")
    assert (a.waittime, b.waittime, c.waittime) == (None, "250", None)
    assert (a.msgoption, b.msgoption, c.msgoption) == (None, "MACH_SEND_TIMEOUT", "MACH_SEND_TIMEOUT")


def test_types_travel_inline_or_in_descriptors_as_declared():
    sub = _sub("""subsystem demo 1;
        type fixed_t = array[4] of int;
        type var_t = array[*:8] of int64;
        type ool_t = array[] of char;
        type big_t = ^array[64] of int;
        routine r(s : mach_port_t; a : int; b : fixed_t; c : var_t; d : ool_t; e : big_t;
                  p : mach_port_move_send_t; q : mach_port_poly_t; n : mach_port_name_t;
                  ps : mach_port_array_t; out o : var_t);""")
    r = sub.defined()[0]
    desc = {a.name: a.type.descriptor for a in r.args[1:]}
    assert desc == {"a": None, "b": None, "c": None, "d": "ool", "e": "ool", "p": "port",
                    "q": "port", "n": None, "ps": "ool_ports", "o": None}
    assert [a.name for a in r.request_descriptors()] == ["d", "e", "p", "q", "ps"]
    assert [(a.name, w) for a, w in r.request_inline()] == [
        ("a", "value"), ("b", "value"), ("c", "value"), ("d", "count"), ("e", "count"),
        ("n", "value"), ("ps", "count"), ("o", "capacity")]
    # header, count + 5 descriptors, then a, b[4], c (count + 8 int64), 3 counts, a name, capacity
    assert request_max(r) == 24 + 4 + 5 * 16 + 4 + 16 + 4 + 64 + 3 * 4 + 4 + 4
    assert max_size(sub) >= request_max(r) + 16


@pytest.mark.parametrize("text, message", [
    ("routine a(s : mach_port_t);", "before the subsystem statement"),
    ("subsystem x 1; routine a(s : int);", "the request port s is not a port"),
    ("subsystem x 1; routine a(s : mach_port_t; v : nosuch_t);", "unknown type 'nosuch_t'"),
    ("subsystem x 1; simpleroutine a(s : mach_port_t; out v : int);", "would need a reply"),
    ("subsystem x 1; routine a(s : mach_port_t; v : int, dealloc);", "not out-of-line"),
    ("subsystem x 1; routine a(s : mach_port_t; v : array[*:N] of int);", "a C constant"),
    ("subsystem x 1; routine a(s : mach_port_t; v : int; v : int);", "argument v twice"),
    ("subsystem x 1; type t = int intran: foo bar(int);", "not supported"),
    ("subsystem x 1; routine a(s : mach_port_t; mig_cur : int);", "the stubs' own"),
    ("subsystem x 1; routine a(s : mach_port_t; inout v : array[*:4] of int);", "inout variable"),
    ("subsystem x 1; subsystem y 2;", "a second subsystem"),
    ("subsystem x 1; routine a(s : mach_port_t", "expected ')'"),
    ("subsystem x 1; frobnicate;", "unknown statement"),
    ("subsystem x 1; routine a(s : mach_port_t; v : array[*:0] of int);", "out of range"),
    ("subsystem x 1 @;", "unexpected character"),
])
def test_a_mistake_is_one_line_with_its_place(text, message):
    with pytest.raises(DefsError) as e:
        parse(STD + "\n" + text, "t.defs")
    assert message in str(e.value)
    assert str(e.value).startswith("t.defs:")
    assert "\n" not in str(e.value)


def test_cpp_runs_first_and_errors_point_at_the_defs_line(tmp_path):
    d = tmp_path / "calc.defs"
    d.write_text("subsystem calc 4000;\n#include <mach/std_types.defs>\n#define N 4\n"
                 "routine add(s : mach_port_t; v : array[*:N] of int);\n"
                 "routine bad(s : mach_port_t; v : nosuch_t);\n")
    with pytest.raises(DefsError) as e:
        compile_interface(d, tmp_path / "out")
    assert str(e.value).startswith(f"{d}:5: ")


def _normach(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "normach", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def test_cli_mig_writes_the_three_files(tmp_path):
    (tmp_path / "echo.defs").write_text(
        "subsystem echo 700;\n#include <mach/std_types.defs>\n"
        "routine echo(s : mach_port_t; in v : int; out w : int);\n")
    p = _normach("mig", "echo.defs", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert sorted(f.name for f in tmp_path.iterdir()) == \
        ["echo.defs", "echo.h", "echoServer.c", "echoUser.c"]
    assert "kern_return_t echo(" in (tmp_path / "echo.h").read_text()
    assert "boolean_t echo_server(" in (tmp_path / "echo.h").read_text()


def test_cli_mig_kernel_defs_publishes_the_routine_table(tmp_path):
    p = _normach("mig", "--kernel-defs", str(tmp_path))
    assert p.returncode == 0, p.stderr
    names = sorted(f.name for f in tmp_path.iterdir())
    assert names == ["clock.defs", "mach.defs", "mach_host.defs", "mach_port.defs",
                     "norma.defs", "normach.defs"]
    text = (tmp_path / "mach.defs").read_text()
    assert "subsystem mach 2000;" in text and "routine vm_allocate(" in text


@pytest.mark.parametrize("args, code, message", [
    (["mig", "nosuch.defs"], 127, "no such file"),
    (["mig"], 125, "a FILE.defs is needed"),
    (["mig", "bad.defs"], 126, "bad.defs:1: "),
])
def test_cli_mig_mistakes_are_one_line_and_a_documented_code(tmp_path, args, code, message):
    (tmp_path / "bad.defs").write_text("subsystem bad 1; routine r(s : int);\n")
    p = _normach(*args, cwd=tmp_path)
    assert p.returncode == code
    assert message in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
