"""Kernel-core benchmarks (issue: kernel core of one node).

* null mach_msg RPC between two tasks' ports (a server thread replies on a
  send-once right) vs a queue.Queue round trip between two Python threads;
* vm_allocate + first touch per page vs allocating a bytearray of the same size;
* task_create inheriting 100 regions, COPY vs SHARE, vs creating an empty task.
"""

from __future__ import annotations

import queue
import threading

from normach import Cluster, MsgOption, MsgType, PortRight, VMInherit, mach
from normach.ipc.message import Message

from .harness import Result, once, per_iteration

US = 1e6


def _rpc_pair(c: Cluster, server_node: int = 0, client_node: int = 0):
    server = c.task_create(node=server_node, name="server")
    client = c.task_create(node=client_node, name="client")
    rcv = mach.mach_port_allocate(server, PortRight.RECEIVE)
    send = mach.mach_port_extract_right(server, rcv, MsgType.MAKE_SEND)
    dest = 0x1703
    mach.mach_port_insert_right(client, dest, send, MsgType.MOVE_SEND)
    reply = mach.mach_port_allocate(client, PortRight.RECEIVE)
    return server, client, rcv, dest, reply


def python_rpc_us() -> float:
    """Null mach_msg RPC between two Python threads acting for two tasks, in µs."""
    return _python_rpc() * US


def bench_null_rpc() -> Result:
    t = _python_rpc()
    b = _queue_rtt()
    return Result("null mach_msg RPC (2 tasks, 2 threads)", "µs", t * US,
                  "queue.Queue round trip", b * US)


def _python_rpc(nodes: int = 1, server_node: int = 0, transport: str = "inproc") -> float:
    """Seconds per null RPC from a client task on node 0 to a server task (Python threads)."""
    with Cluster(nodes=nodes, transport=transport) as c:
        server, client, rcv, dest, reply = _rpc_pair(c, server_node, 0)

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
        opt = MsgOption.SEND_MSG | MsgOption.RCV_MSG

        def rpc(n):
            for _ in range(n):
                mach.mach_msg(client, req, opt, reply)

        t = per_iteration(rpc)
        mach.mach_msg_send(client, Message(remote_port=dest, remote_disp=MsgType.COPY_SEND, id=999))
        th.join()
    return t


def _queue_rtt() -> float:
    q1, q2 = queue.Queue(), queue.Queue()

    def echo():
        while (x := q1.get()) is not None:
            q2.put(x)

    th = threading.Thread(target=echo, daemon=True)
    th.start()

    def qrt(n):
        for _ in range(n):
            q1.put(1)
            q2.get()

    b = per_iteration(qrt)
    q1.put(None)
    th.join()
    return b


def bench_vm_touch(pages: int = 256) -> Result:
    with Cluster(nodes=1) as c:
        t = c.task_create()

        def alloc_touch():
            a = mach.vm_allocate(t, 0, pages * 4096, True)
            for i in range(pages):
                mach.vm_write(t, a + i * 4096, b"x")
            mach.vm_deallocate(t, a, pages * 4096)

        v = once(alloc_touch, runs=5) / pages

    def eager():
        buf = bytearray(pages * 4096)
        for i in range(pages):
            buf[i * 4096] = 1

    b = once(eager, runs=5) / pages
    return Result(f"vm_allocate + first touch ({pages} pages)", "µs/page", v * US,
                  "bytearray alloc + touch", b * US)


def bench_task_create(regions: int = 100) -> list[Result]:
    out = []
    with Cluster(nodes=1) as c:
        parent = c.task_create()
        base = mach.vm_allocate(parent, 0, regions * 2 * 4096, True)
        mach.vm_deallocate(parent, base, regions * 2 * 4096)
        for i in range(regions):
            a = mach.vm_allocate(parent, base + i * 8192, 4096, False)
            mach.vm_write(parent, a, b"data")
        empty = c.task_create()

        def create(task):
            def run():
                child = mach.task_create(task, True)
                mach.task_terminate(child)
            return run

        b = once(create(empty), runs=5)
        for inh in (VMInherit.COPY, VMInherit.SHARE):
            mach.vm_inherit(parent, base, regions * 8192, inh)
            v = once(create(parent), runs=5)
            out.append(Result(f"task_create + terminate, {regions} regions {inh.name}", "µs",
                              v * US, "same, empty parent", b * US))
    return out


def run_all() -> list[Result]:
    return [bench_null_rpc(), bench_vm_touch(), *bench_task_create()]
