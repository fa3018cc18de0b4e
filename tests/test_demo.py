"""The main job: `normach demo` runs to the end and every invariant holds; so does the tour."""

import io
import os
import subprocess
import sys

from rich.console import Console

from normach.cli import demo, tour


def test_demo_migrates_a_serving_program_0_1_2_and_every_invariant_holds():
    out = io.StringIO()
    assert demo.run(Console(file=out, width=120)) == 0, out.getvalue()
    text = out.getvalue()
    assert "moved from node 0 to node 1" in text and "moved from node 1 to node 2" in text
    assert "round 10 on node 2" in text
    assert ", 0 lost, 0 wrong" in text
    assert "all kernel invariants hold" in text


def test_tour_runs_and_its_invariants_hold():
    out = io.StringIO()
    assert tour.run(Console(file=out, width=100)) == 0
    text = out.getvalue()
    assert "all kernel invariants hold" in text
    assert "request 0" in text and "guest: summed" in text


def test_demo_linux_moves_a_musl_program_with_its_file_pipes_and_child_0_1_2():
    """`normach demo --linux`, as a user runs it: the program's file, its child's
    answers through the pipes and its status are checked after two moves."""
    out = subprocess.run([sys.executable, "-m", "normach.cli.main", "demo", "--linux"],
                         capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
                         env={**os.environ, "COLUMNS": "200"})
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert "moved from node 0 to node 1" in text and "moved from node 1 to node 2" in text
    assert "round 30: sent 30, child answered 465" in text
    assert "ended on node 2; its child stayed on node 0" in text
    assert "the child's answers: 30 of 30 received, 0 wrong" in text
    assert "demo.log: 30 lines, as expected" in text
    assert "the program exited with status 0; its child with status 0" in text
    assert "all kernel invariants hold" in text
