"""Cross-node benchmarks (embedded cluster, inproc transport), with same-run baselines:
a null mach_msg RPC between Python threads acting for tasks on nodes 0 and 1, vs a
raw zmq DEALER/ROUTER echo round trip over inproc.
"""

from __future__ import annotations

from .bench_core import _python_rpc
from .harness import Result

US = 1e6


def raw_zmq_inproc_rtt() -> float:
    from normach.transport.bench import benchmarks_rtt
    _normach_us, raw_us = benchmarks_rtt("inproc", 100, 2000)
    return raw_us / US


def run_all() -> list[Result]:
    t = _python_rpc(nodes=2, server_node=1)
    b = raw_zmq_inproc_rtt()
    return [Result("null mach_msg RPC across nodes (Python threads, inproc)", "µs", t * US,
                   "raw zmq DEALER/ROUTER echo, inproc", b * US)]


if __name__ == "__main__":
    from .harness import report
    report(run_all(), None)
