"""The round-trip benchmark runs and returns both medians (no duration is asserted)."""

import pytest

from normach.transport.bench import benchmarks_rtt


@pytest.mark.parametrize("kind", ["inproc", "tcp"])
def test_benchmark_returns_normach_and_raw_zmq_medians(kind):
    ours, raw = benchmarks_rtt(kind, 4096, 20)
    assert ours > 0 and raw > 0
