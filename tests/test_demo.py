"""The main job: `normach demo` runs to the end and every invariant holds; so does the tour."""

import io

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
