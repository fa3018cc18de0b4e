"""The main job: `normach demo` runs to the end and every invariant holds."""

import io

from rich.console import Console

from normach.cli.demo import run


def test_demo_runs_and_its_invariants_hold():
    out = io.StringIO()
    assert run(Console(file=out, width=100)) == 0
    text = out.getvalue()
    assert "all kernel invariants hold" in text
    assert "request 0" in text and "guest: summed" in text
