"""Measurement harness (mach_perf's method, spec B8.1, simplified).

Each benchmark is a pair: the normach operation and its baseline, both timed
in this run by the same method — loops calibrated until a run lasts at least
`min_time`, then the median per-iteration time of `runs` runs.  Results are
printed as a table (normach, baseline, ratio) and written as JSON.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from dataclasses import asdict, dataclass


@dataclass
class Result:
    name: str
    unit: str
    value: float          # normach, per iteration, in `unit`
    baseline_name: str
    baseline: float       # the baseline, same unit
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("inf")


def per_iteration(fn, min_time: float = 0.2, runs: int = 3, max_loops: int = 1 << 20) -> float:
    """Median seconds per call of fn(loops) -> None, which runs `loops` iterations."""
    loops = 1
    while True:
        t0 = time.perf_counter()
        fn(loops)
        dt = time.perf_counter() - t0
        if dt >= min_time or loops >= max_loops:
            break
        loops = min(max_loops, loops * 2 if dt < min_time / 10 else int(loops * min_time / dt * 1.2) + 1)
    samples = [dt / loops]
    for _ in range(runs - 1):
        t0 = time.perf_counter()
        fn(loops)
        samples.append((time.perf_counter() - t0) / loops)
    return statistics.median(samples)


def guest_per_call(exe: str, args_for, small: int = 200, big: int = 2200) -> float:
    """Seconds per call of a guest program that makes n calls (argv `args_for(n)`), on
    a fresh one-node embedded cluster: the difference of the best of 3 runs of `big`
    and of `small` calls, so loading and start-up drop out."""
    from normach import Cluster

    def run(n):
        with Cluster(nodes=1) as c:
            t0 = time.perf_counter()
            p = c.spawn(exe, args=args_for(n))
            assert c.wait(p, timeout=600) == 0, (p.reason, c.output(p))
            return time.perf_counter() - t0
    return (min(run(big) for _ in range(3)) - min(run(small) for _ in range(3))) / (big - small)


def once(fn, runs: int = 3) -> float:
    """Median seconds of fn() over `runs` runs (for operations too big to loop)."""
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def report(results: list[Result], path: str | None) -> None:
    from rich.console import Console
    from rich.table import Table
    table = Table(title="normach benchmarks (same-run baselines)")
    for col in ("benchmark", "normach", "baseline", "baseline value", "ratio", "note"):
        table.add_column(col)
    for r in results:
        table.add_row(r.name, f"{r.value:,.2f} {r.unit}", r.baseline_name,
                      f"{r.baseline:,.2f} {r.unit}", f"{r.ratio:,.1f}x", r.note)
    Console(width=140).print(table)
    if path:
        doc = {"machine": {"python": platform.python_version(), "platform": platform.platform()},
               "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
               "results": [dict(asdict(r), ratio=r.ratio) for r in results]}
        with open(path, "w") as f:
            json.dump(doc, f, indent=2)
        Console().print(f"written to {path}")
