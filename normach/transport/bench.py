"""Round-trip benchmark: an echo through two Endpoints vs raw zmq, same run.

`benchmarks_rtt(kind, size, n)` times `n` echo requests of `size` bytes of raw
payload (each way) from one Endpoint to another, in this process, over
`inproc://` or `tcp://127.0.0.1`, and then the same echo with a bare zmq DEALER
talking to a bare ROUTER served by one thread -- the floor this layer adds its
costs to (one I/O thread per endpoint, a worker thread for the handler, the
msgpack header and its validation).  Medians, in microseconds.  Both numbers
come from the same run on purpose: timings on a shared machine drift by tens
of percent between runs, so only the ratio is meaningful.
"""

import statistics
import threading
import time
import uuid

import zmq

from .endpoint import Endpoint
from .messages import echo, echo_reply

_WARMUP = 50


def _addresses(kind):
    if kind == "inproc":
        tag = uuid.uuid4().hex[:12]
        return f"inproc://bench-{tag}-a", f"inproc://bench-{tag}-b"
    assert kind == "tcp", f"unknown transport kind {kind!r}"
    return "tcp://127.0.0.1:0", "tcp://127.0.0.1:0"


def _median_us(samples):
    return statistics.median(samples) * 1e6


def normach_rtt(kind: str, size: int, n: int, secret: bytes | None = None) -> float:
    """Returns: median echo round trip through two Endpoints, in microseconds."""
    addr_a, addr_b = _addresses(kind)
    server = Endpoint(1, addr_b, {}, lambda sender, msg: echo_reply(msg.data), secret=secret)
    client = Endpoint(0, addr_a, {1: server.address}, None, secret=secret)
    try:
        payload = bytes(size)
        req = echo(payload)
        samples = []
        for i in range(_WARMUP + n):
            t0 = time.perf_counter()
            reply = client.request(1, req, 10.0)
            t1 = time.perf_counter()
            assert len(reply.data) == size
            if i >= _WARMUP:
                samples.append(t1 - t0)
        return _median_us(samples)
    finally:
        client.close()
        server.close()


def raw_zmq_rtt(kind: str, size: int, n: int) -> float:
    """Returns: median echo round trip of a bare DEALER -> ROUTER (one echo
    thread) in microseconds: the same sockets without any of this layer."""
    ctx = zmq.Context.instance()
    _, addr = _addresses(kind)
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind(addr)
    addr = router.getsockopt(zmq.LAST_ENDPOINT).decode()
    stop = ctx.socket(zmq.PAIR)
    stop_addr = f"inproc://bench-stop-{uuid.uuid4().hex[:12]}"
    stop.bind(stop_addr)

    def serve():
        wake = ctx.socket(zmq.PAIR)
        wake.connect(stop_addr)
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        poller.register(wake, zmq.POLLIN)
        while True:
            ready = dict(poller.poll())
            if wake in ready:
                break
            router.send_multipart(router.recv_multipart())
        wake.close(0)

    t = threading.Thread(target=serve, name="bench-raw-echo", daemon=True)
    t.start()
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(addr)
    try:
        header, payload = bytes(16), bytes(size)
        samples = []
        for i in range(_WARMUP + n):
            t0 = time.perf_counter()
            dealer.send_multipart([header, payload])
            reply = dealer.recv_multipart()
            t1 = time.perf_counter()
            assert len(reply[1]) == size
            if i >= _WARMUP:
                samples.append(t1 - t0)
        return _median_us(samples)
    finally:
        stop.send(b"")
        t.join()
        stop.close(0)
        dealer.close(0)
        router.close(0)


def raw_zmq_stream(kind: str, total: int, chunk: int = 64 << 10) -> float:
    """Returns: seconds to stream `total` bytes one way, DEALER -> ROUTER, in messages
    of `chunk` bytes, until the receiver has them all: the floor of any eager copy."""
    ctx = zmq.Context.instance()
    _, addr = _addresses(kind)
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.setsockopt(zmq.RCVHWM, 0)
    router.bind(addr)
    addr = router.getsockopt(zmq.LAST_ENDPOINT).decode()
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.setsockopt(zmq.SNDHWM, 0)
    dealer.connect(addr)
    n = max(1, total // chunk)
    got = []

    def receive():
        for _ in range(n):
            got.append(len(router.recv_multipart()[1]))

    try:
        dealer.send(b"warm-up")
        router.recv_multipart()
        payload = bytes(chunk)
        t = threading.Thread(target=receive, name="bench-raw-stream", daemon=True)
        t0 = time.perf_counter()
        t.start()
        for _ in range(n):
            dealer.send(payload, copy=False)
        t.join()
        elapsed = time.perf_counter() - t0
        assert sum(got) == n * chunk
        return elapsed
    finally:
        dealer.close(0)
        router.close(0)


def benchmarks_rtt(kind: str, size: int, n: int) -> tuple:
    """Measure an echo of `size` bytes over `kind` ("inproc" or "tcp"), `n` times.

    Returns: (normach median round trip in µs, raw zmq median round trip in µs).
    """
    return normach_rtt(kind, size, n), raw_zmq_rtt(kind, size, n)


if __name__ == "__main__":
    for kind in ("inproc", "tcp"):
        for size in (100, 4096, 65536):
            ours, raw = benchmarks_rtt(kind, size, 1000)
            print(f"{kind:6} {size:6} B: normach {ours:7.1f} µs   raw zmq {raw:7.1f} µs")
