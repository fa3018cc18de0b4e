"""Cross-node benchmarks (embedded cluster), with same-run baselines:

* a null mach_msg RPC between Python threads acting for tasks on nodes 0 and 1,
  over inproc and over tcp loopback, vs a raw zmq DEALER/ROUTER echo round trip
  on the same kind of socket;
* receive-right migration: the time from sending a receive right with q queued
  messages to another node until its new holder has received them all, vs the
  same q messages sent across nodes one by one.
"""

from __future__ import annotations

import statistics
import time

from normach import Cluster, Message, MsgType, PortDesc, PortRight, mach

from .bench_core import _python_rpc
from .harness import Result

US = 1e6


def raw_zmq_rtt(kind: str) -> float:
    from normach.transport.bench import benchmarks_rtt
    _normach_us, raw_us = benchmarks_rtt(kind, 100, 2000)
    return raw_us / US


def _migrate(q: int, move: bool) -> float:
    """Seconds until q queued messages (and the right, if `move`) reach node 1."""
    with Cluster(nodes=2) as c:
        a, b = c.task_create(node=0), c.task_create(node=1)
        inbox = mach.mach_port_allocate(b, PortRight.RECEIVE)
        mach.mach_port_insert_right(a, 0x1703, mach.mach_port_extract_right(
            b, inbox, MsgType.MAKE_SEND), MsgType.MOVE_SEND)
        port = mach.mach_port_allocate(a, PortRight.RECEIVE)
        mach.mach_port_insert_right(a, port, port, MsgType.MAKE_SEND)
        mach.mach_port_set_attributes(a, port, 1, 16)
        for i in range(q):                      # q <= 16, the queue limit
            mach.mach_msg_send(a, Message(remote_port=port, remote_disp=MsgType.COPY_SEND, id=i))
        mach.mach_msg_send(a, Message(remote_port=0x1703, remote_disp=MsgType.COPY_SEND))
        mach.mach_msg_receive(b, inbox)         # warm up: the connection exists before timing
        t0 = time.perf_counter()
        if move:
            mach.mach_msg_send(a, Message(remote_port=0x1703, remote_disp=MsgType.COPY_SEND,
                                          body=[PortDesc(port, MsgType.MOVE_RECEIVE)]))
            there = mach.mach_msg_receive(b, inbox).body[0].name
            for _ in range(q):
                mach.mach_msg_receive(b, there)
        else:                                   # the same traffic without a migration
            for i in range(q + 1):
                mach.mach_msg_send(a, Message(remote_port=0x1703, remote_disp=MsgType.COPY_SEND,
                                              id=i))
            for _ in range(q + 1):
                mach.mach_msg_receive(b, inbox)
        return time.perf_counter() - t0


def guest_rpc_cross_node(n: int, transport: str = "inproc") -> float:
    """Seconds for n null RPCs from a guest on node 0 to a guest on node 1 (with start-up)."""
    import os
    import tempfile
    from normach.guest.build import compile_program
    exe = os.path.join(tempfile.mkdtemp(prefix="normach-bench-"), "rpc_peer")
    compile_program(exe, [os.path.join(os.path.dirname(__file__), "guest", "rpc_peer.c")])
    with Cluster(nodes=2, transport=transport) as c:
        server = c.spawn(exe, args=["server", str(0x1203), str(n)], node=1, suspended=True)
        client = c.spawn(exe, args=["client", str(0x1303), str(n)], node=0, suspended=True)
        mach.mach_port_allocate_name(server.task_handle, PortRight.RECEIVE, 0x1203)
        send = mach.mach_port_extract_right(server.task_handle, 0x1203, MsgType.MAKE_SEND)
        mach.mach_port_insert_right(client.task_handle, 0x1303, send, MsgType.MOVE_SEND)
        t0 = time.perf_counter()
        c.resume(server)
        c.resume(client)
        assert c.wait(client, timeout=300) == 0, client.reason
        assert c.wait(server, timeout=60) == 0, server.reason
        return time.perf_counter() - t0


def run_all() -> list[Result]:
    out = []
    for kind in ("inproc", "tcp"):
        t = _python_rpc(nodes=2, server_node=1, transport=kind)
        out.append(Result(f"null mach_msg RPC across nodes (Python threads, {kind})", "µs",
                          t * US, f"raw zmq DEALER/ROUTER echo, {kind}", raw_zmq_rtt(kind) * US))
    for kind in ("inproc", "tcp"):
        small, big = guest_rpc_cross_node(50, kind), guest_rpc_cross_node(550, kind)
        out.append(Result(f"null mach_msg RPC across nodes (guest to guest, {kind})", "µs",
                          (big - small) / 500 * US, f"raw zmq DEALER/ROUTER echo, {kind}",
                          raw_zmq_rtt(kind) * US))
    for q in (0, 4, 16):
        m = statistics.median(_migrate(q, True) for _ in range(3))
        s = statistics.median(_migrate(q, False) for _ in range(3))
        out.append(Result(f"receive-right migration, {q} queued messages", "ms", m * 1e3,
                          f"{q + 1} plain messages across nodes", s * 1e3))
    return out


if __name__ == "__main__":
    from .harness import report
    report(run_all(), None)
