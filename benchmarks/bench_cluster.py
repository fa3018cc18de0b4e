"""A long-lived cluster stays fast for its clients: `normach up`, then many clients.

Figures, each beside its baseline from the same run:
  * 200 `normach ps` processes in a row against one `up` cluster: the time of the
    last tenth beside the first tenth (before clients left the membership, the
    sixth took 10.6 s and the sixteenth failed for good), and every node's resident
    memory after them beside before;
  * 1,000 `Cluster.connect` + `close` in this process: connect time of the last
    hundred beside the first hundred, node memory after beside before, and the
    clients each node still holds (0 expected);
  * a client with the wrong secret: time to "authentication failed" beside a
    successful connect.
`NORMACH_PS_RUNS` and `NORMACH_CONNECTS` change the counts.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

from normach import Cluster, KernError

from .harness import Result

PS_RUNS = int(os.environ.get("NORMACH_PS_RUNS", "200"))
CONNECTS = int(os.environ.get("NORMACH_CONNECTS", "1000"))


class Up:
    """`normach up --nodes 3` in a runtime folder of its own."""

    def __init__(self):
        self.folder = tempfile.TemporaryDirectory(prefix="normach-bench-")
        self.env = {**os.environ, "XDG_RUNTIME_DIR": self.folder.name}
        self.proc = subprocess.Popen([sys.executable, "-m", "normach.cli.main", "up", "--nodes",
                                      "3"], stdout=subprocess.PIPE, text=True, env=self.env)
        self.spec = self.proc.stdout.readline().split(" ", 1)[1].strip()

    def close(self):
        self.proc.terminate()
        self.proc.wait(30)
        self.proc.stdout.close()
        self.folder.cleanup()


def _stats(c: Cluster) -> list[dict]:
    return [c.node_stats(n) for n in range(c.nnodes)]


def _settled(c: Cluster, clients: int = 1, timeout: float = 30.0) -> list[dict]:
    """Node stats once every node holds `clients` clients (the departed ones forgotten)."""
    end = time.monotonic() + timeout
    while True:
        s = _stats(c)
        if all(n["clients"] == clients for n in s) or time.monotonic() > end:
            return s
        time.sleep(0.05)


def repeated(up: Up, count: int, client) -> dict:
    """`client()` (a client coming and going) `count` times: each one's time, and the
    nodes' stats before and after (once the departed clients are forgotten)."""
    watcher = Cluster.connect(up.spec)
    try:
        before = _settled(watcher)
        times = []
        for _ in range(count):
            t0 = time.perf_counter()
            client()
            times.append(time.perf_counter() - t0)
        after = _settled(watcher)
    finally:
        watcher.close()
    return {"times": times, "before": before, "after": after}


def ps_runs(up: Up, runs: int) -> dict:
    return repeated(up, runs, lambda: subprocess.run(
        [sys.executable, "-m", "normach.cli.main", "ps"], env=up.env, capture_output=True,
        check=True))


def connects(up: Up, count: int) -> dict:
    return repeated(up, count, lambda: Cluster.connect(up.spec).close())


def wrong_secret(up: Up) -> tuple[float, float]:
    address = up.spec.split("#")[0]
    t0 = time.perf_counter()
    try:
        Cluster.connect(address, secret=b"\0" * 32, timeout=30.0).close()
        failed = float("nan")                   # it should not have worked
    except KernError:
        failed = time.perf_counter() - t0
    t0 = time.perf_counter()
    Cluster.connect(up.spec).close()
    return failed, time.perf_counter() - t0


def _tenths(times: list) -> tuple[float, float]:
    tenth = max(len(times) // 10, 1)
    return statistics.mean(times[-tenth:]), statistics.mean(times[:tenth])


def _memory(label: str, before: list, after: list) -> list[Result]:
    return [Result(f"{label}: node {n} resident memory after", "MiB", a["rss_bytes"] / 2**20,
                   "before", b["rss_bytes"] / 2**20,
                   f"clients {b['clients']}->{a['clients']}, proxies {b['proxies']}->"
                   f"{a['proxies']}, principals {b['principals']}->{a['principals']}")
            for n, (b, a) in enumerate(zip(before, after))]


def run_all() -> list[Result]:
    up = Up()
    try:
        ps = ps_runs(up, PS_RUNS)
        cn = connects(up, CONNECTS)
        failed, ok = wrong_secret(up)
    finally:
        up.close()
    last, first = _tenths(ps["times"])
    out = [Result(f"{PS_RUNS} `normach ps` in a row: time of the last tenth", "ms", last * 1e3,
                  "first tenth", first * 1e3, "a process each: start, connect, ps, leave")]
    out += _memory(f"after {PS_RUNS} ps", ps["before"], ps["after"])
    last, first = _tenths(cn["times"])
    out.append(Result(f"{CONNECTS} Cluster.connect + close: last tenth", "ms", last * 1e3,
                      "first tenth", first * 1e3))
    out += _memory(f"after {CONNECTS} connects", cn["before"], cn["after"])
    out.append(Result("wrong secret: time to 'authentication failed'", "ms", failed * 1e3,
                      "a connect with the right one", ok * 1e3))
    return out
