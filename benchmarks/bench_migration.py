"""Process migration benchmarks (embedded cluster), with same-run baselines.

For a task with 1, 64 and 512 MiB touched, a suspended thread and a few port
rights, `mach.task_migrate` to another node:

* freeze time: from task_suspend to the last thread_resume on the new node;
* total time: until the new node holds all of its memory (the background push
  is over and nothing is left on the old node);

beside the floor of an eager stop-and-copy (the same bytes streamed over raw
zmq, measured in this run), and CRIU's figure on this machine class as a fixed
reference (a 100 MB Python process: 309 ms of freeze for the dump alone).
"""

from __future__ import annotations

import time

from normach import Cluster, mach, param
from normach.mach_types import PortRight
from normach.servers.migration import memory_info

from .bench_xmm import MIB, _settle, _stream, _touched_task
from .harness import Result

CRIU_MS = 309.0             # measured elsewhere on this machine class (issue 6): fixed


def migration_times(mib: int) -> tuple[float, float]:
    """(freeze s, total s) of one migration of a task with `mib` MiB touched."""
    saved, param.DIPC_HEARTBEAT_TIMEOUT_S = param.DIPC_HEARTBEAT_TIMEOUT_S, 60.0
    try:
        with Cluster(nodes=2, phys_bytes=(mib + 16) * MIB) as c:
            t, _ = _touched_task(c, mib)
            mach.thread_create(t)                            # stays suspended (T7.1)
            for _ in range(4):
                mach.mach_port_allocate(t, PortRight.RECEIVE)
            _settle(c)
            t0 = time.perf_counter()
            m = mach.task_migrate(t, 1)
            while memory_info(m.task)["elsewhere"]:
                time.sleep(0.002)
            total = time.perf_counter() - t0
            mach.task_terminate(m.task)
            return m.freeze_s, total
    finally:
        param.DIPC_HEARTBEAT_TIMEOUT_S = saved


def run_all() -> list[Result]:
    out = []
    for mib in (1, 64, 512):
        freeze, total = migration_times(mib)
        floor = _stream(mib * MIB) * 1e3
        out.append(Result(f"migration freeze time, {mib} MiB touched", "ms", freeze * 1e3,
                          f"eager stop-and-copy floor: {mib} MiB over raw zmq", floor,
                          f"CRIU dump of 100 MB: {CRIU_MS:.0f} ms (fixed reference)"))
        out.append(Result(f"migration total time, {mib} MiB (all memory on the new node)", "ms",
                          total * 1e3, f"eager stop-and-copy floor: {mib} MiB over raw zmq",
                          floor))
    return out
