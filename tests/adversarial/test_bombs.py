"""Resource bombs (finding 10): a guest asking its node for ever more memory, threads,
ports, tasks, queued messages or kernel copies.  Every node has a memory limit
(kern/memory.py); past it the guest gets Mach errors (or, for memory it touches,
EXC_BAD_ACCESS with KERN_RESOURCE_SHORTAGE), the node holds no more than its limit
(one guest touching 512 MiB took its node to 585 MiB), and it serves the next program."""

from __future__ import annotations

import pathlib

import pytest

from normach import Cluster

ROOT = pathlib.Path(__file__).resolve().parents[2]
POOL = 16 << 20                   # the node's frames
LIMIT = 48 << 20                  # its memory limit: 32 MiB beyond the frames


def rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) << 10
    return 0


@pytest.fixture(scope="module")
def hello(tmp_path_factory):
    from normach.guest.build import compile_program
    exe = str(tmp_path_factory.mktemp("hello") / "hello")
    compile_program(exe, [str(ROOT / "guest" / "tests" / "hello.c")])
    return exe


def _after(c: Cluster, hello: str) -> None:
    """The node serves the next program, and every invariant (the budget's too) holds."""
    p = c.spawn(hello, args=["after"])
    assert c.wait(p, timeout=60) == 0
    assert c.audit() == []


def test_touching_more_than_the_node_has_is_a_resource_shortage_not_the_oom_killer(
        adversary, hello):
    before = rss()
    with Cluster(nodes=1, phys_bytes=POOL, memory=LIMIT) as c:
        p = c.spawn(adversary("bombs"), args=["memory", 512])
        c.wait(p, timeout=120)
        assert "EXC_BAD_ACCESS" in p.reason and "RESOURCE_SHORTAGE" in p.reason, p.reason
        assert "touched" not in c.output(p)
        assert c.kernel(0).memory.refused
        grown = rss() - before
        _after(c, hello)
    assert grown < LIMIT + (64 << 20), f"the node grew by {grown >> 20} MiB"


@pytest.mark.parametrize("what", ["threads", "ports", "tasks", "messages", "copies", "portarrays"])
def test_bombs_end_in_a_mach_error_and_the_node_goes_on(adversary, hello, what):
    with Cluster(nodes=1, phys_bytes=POOL, memory=LIMIT) as c:
        p = c.spawn(adversary("bombs"), args=[what])
        assert c.wait(p, timeout=120) == 0, (p.reason, c.output(p))
        mem = c.kernel(0).memory
        assert mem.used.get("threads", 0) + mem.used.get("tasks", 0) < LIMIT
        _after(c, hello)
