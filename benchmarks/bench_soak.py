"""Soak: a cluster of node processes under sustained cross-node work, for a fixed count.

Each iteration does what a long-lived cluster does all day, across three node
processes (tcp, CurveZMQ):
  * a message round trip to node 1: a kernel call on a task there (a request to its
    kernel port, the reply back);
  * a remote fault: a task on node 0 with memory is cloned to node 2 (norma_task_clone)
    and the clone reads a page, which its node fetches from node 0;
  * task churn: both tasks terminated, every handle given back.

Figures (each beside its baseline from the same run): the time of an iteration in
the last tenth of the run beside the first tenth (a node that slows down, or leaks,
shows a ratio above 1), p99 beside p50, and for every node its resident memory
after the run beside before it (after a warm-up tenth), with its tasks, ports,
principals and proxies before and after (they must come back to where they were).
`NORMACH_SOAK_ITERATIONS` sets the count (default 5,000).
"""

from __future__ import annotations

import os
import statistics
import time

from normach import Cluster, mach

from .harness import Result

ITERATIONS = int(os.environ.get("NORMACH_SOAK_ITERATIONS", "5000"))
PAGE = 4096


class Soak:
    """The cluster and the long-lived parts of the workload."""

    def __init__(self, c: Cluster):
        self.c = c
        self.server = c.task_create(node=1, name="server")

    def iteration(self) -> None:
        self._round_trip()
        self._remote_fault_and_churn()

    def _round_trip(self) -> None:
        mach.task_info(self.server, 1)                       # TASK_BASIC_INFO, on node 1

    def _remote_fault_and_churn(self) -> None:
        t = self.c.task_create(node=0)
        a = mach.vm_allocate(t, 0, 4 * PAGE, True)
        mach.vm_write(t, a, b"soak" * 1024)
        clone = mach.norma_task_clone(t, True, 2)
        assert mach.vm_read(clone, a, 4) == b"soak"
        mach.task_terminate(clone)
        mach.task_terminate(t)
        clone.deallocate()
        t.deallocate()


KEPT = ("tasks", "ports", "principals", "proxies")


def _node_stats(c: Cluster) -> list[dict]:
    """Every node's stats once the last work has drained (two readings alike)."""
    last = None
    for _ in range(100):
        now = [c.node_stats(n) for n in range(c.nnodes)]
        if last is not None and [[s[k] for k in KEPT] for s in now] == \
                [[s[k] for k in KEPT] for s in last]:
            return now
        last = now
        time.sleep(0.05)
    return last


def soak(iterations: int = ITERATIONS) -> dict:
    """Run the workload; returns the per-iteration times and the nodes' stats before/after."""
    with Cluster(nodes=3, processes=True, phys_bytes=32 << 20) as c:
        s = Soak(c)
        warm = max(iterations // 10, 10)
        for _ in range(warm):
            s.iteration()
        before = _node_stats(c)
        times = []
        for _ in range(iterations):
            t0 = time.perf_counter()
            s.iteration()
            times.append(time.perf_counter() - t0)
        after = _node_stats(c)
        problems = c.audit()
    return {"times": times, "before": before, "after": after, "audit": problems}


def run_all() -> list[Result]:
    r = soak()
    times, n = r["times"], len(r["times"])
    tenth = max(n // 10, 1)
    first, last = statistics.mean(times[:tenth]), statistics.mean(times[-tenth:])
    ordered = sorted(times)
    p50, p99 = ordered[n // 2], ordered[min(n - 1, (99 * n) // 100)]
    audit = "audit clean" if not r["audit"] else "AUDIT: " + "; ".join(r["audit"][:3])
    out = [
        Result(f"soak, {n} iterations: iteration time, last tenth", "ms", last * 1e3,
               "first tenth", first * 1e3, f"round trip + remote fault + task churn; {audit}"),
        Result("soak: p99 iteration time", "ms", p99 * 1e3, "p50", p50 * 1e3),
    ]
    for node, (b, a) in enumerate(zip(r["before"], r["after"])):
        kept = ", ".join(f"{k} {b[k]}->{a[k]}" for k in KEPT)
        out.append(Result(f"soak: node {node} resident memory after", "MiB",
                          a["rss_bytes"] / 2**20, "before", b["rss_bytes"] / 2**20, kept))
    return out
