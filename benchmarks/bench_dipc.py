"""Cross-node benchmarks (embedded cluster, inproc transport), with same-run baselines.

* null mach_msg RPC between Python threads acting for tasks on nodes 0 and 1,
  vs a raw zmq DEALER/ROUTER echo round trip over inproc;
* the same RPC between two guest threads in tasks on two nodes.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time

from normach import Cluster, Message, MsgOption, MsgType, PortRight, mach

from .harness import Result, per_iteration

US = 1e6


def _pair(c, server_node, client_node):
    server, client = c.task_create(node=server_node), c.task_create(node=client_node)
    rcv = mach.mach_port_allocate(server, PortRight.RECEIVE)
    mach.mach_port_insert_right(client, 0x1703,
                                mach.mach_port_extract_right(server, rcv, MsgType.MAKE_SEND),
                                MsgType.MOVE_SEND)
    reply = mach.mach_port_allocate(client, PortRight.RECEIVE)
    return server, client, rcv, 0x1703, reply


def python_rpc_cross_node() -> float:
    with Cluster(nodes=2) as c:
        server, client, rcv, dest, reply = _pair(c, 1, 0)

        def serve():
            while True:
                m = mach.mach_msg_receive(server, rcv)
                if m.id == 999:
                    return
                mach.mach_msg_send(server, Message(remote_port=m.remote_port,
                                                   remote_disp=MsgType.MOVE_SEND_ONCE, id=m.id + 100))

        th = threading.Thread(target=serve, daemon=True)
        th.start()
        req = Message(remote_port=dest, remote_disp=MsgType.COPY_SEND, local_port=reply,
                      local_disp=MsgType.MAKE_SEND_ONCE, id=1)

        def rpc(n):
            for _ in range(n):
                mach.mach_msg(client, req, MsgOption.SEND_MSG | MsgOption.RCV_MSG, reply)

        t = per_iteration(rpc)
        mach.mach_msg_send(client, Message(remote_port=dest, remote_disp=MsgType.COPY_SEND, id=999))
        th.join(10)
    return t


def raw_zmq_inproc_rtt() -> float:
    from normach.transport.bench import benchmarks_rtt
    _normach_us, raw_us = benchmarks_rtt("inproc", 100, 2000)
    return raw_us / US


def run_all() -> list[Result]:
    t = python_rpc_cross_node()
    b = raw_zmq_inproc_rtt()
    return [Result("null mach_msg RPC across nodes (Python threads, inproc)", "µs", t * US,
                   "raw zmq DEALER/ROUTER echo, inproc", b * US)]


if __name__ == "__main__":
    from .harness import report
    report(run_all(), None)
