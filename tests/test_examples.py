"""The examples of examples/README.md run and do what they say."""

import pathlib
import subprocess
import sys

from normach import Cluster

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def _run(name: str) -> tuple[int, str]:
    with Cluster(nodes=3) as c:
        p = c.spawn(str(EXAMPLES / name), node=0)
        status = c.wait(p, timeout=120)
        assert c.audit() == []
        return status, c.output(p)


def test_migrating_counter_visits_every_node_and_counts_right():
    status, out = _run("migrating_counter.c")
    assert status == 0, out
    assert [f"on node {n}" in out for n in (0, 1, 2)] == [True] * 3
    assert "done: 6000000" in out


def test_parallel_sum_is_summed_on_three_nodes():
    status, out = _run("parallel_sum.c")
    assert status == 0, out
    assert all(f"summed on node {n}" in out for n in (0, 1, 2)) and ": ok" in out


def test_migrating_server_answers_through_three_moves():
    r = subprocess.run([sys.executable, str(EXAMPLES / "migrating_server.py")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "moved to node 2" in r.stdout and "all right" in r.stdout
