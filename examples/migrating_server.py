"""A server that migrates while it serves.

    python examples/migrating_server.py

The C program of `normach demo` (normach/cli/demo_server.c) answers requests
on a port while it computes.  Here a Python client keeps asking it for
squares while the program is moved 0 -> 1 -> 2 -> 0; every answer says which
node gave it.  The client's send right names the same port throughout: the
port moved with the program (its receive right, with any queued requests).
"""

import threading
import time

from normach import Cluster, MsgOption, MsgType, PortRight, mach
from normach.cli.demo import SERVICE, SOURCE
from normach.ipc.message import Message


def ask(client, name, reply, x):
    m = mach.mach_msg(client, Message(remote_port=name, remote_disp=MsgType.COPY_SEND,
                                      local_port=reply, local_disp=MsgType.MAKE_SEND_ONCE,
                                      id=1, body=[x.to_bytes(8, "little")]),
                      MsgOption.SEND_MSG | MsgOption.RCV_MSG | MsgOption.RCV_TIMEOUT, reply, 10_000)
    data = b"".join(i for i in m.body if isinstance(i, bytes))
    return int.from_bytes(data[:8], "little"), int.from_bytes(data[8:12], "little")


def main():
    with Cluster(nodes=3) as c:
        p = c.spawn(SOURCE, args=["40"], node=0, suspended=True, sink=lambda b: None)
        mach.mach_port_allocate_name(p.task_handle, PortRight.RECEIVE, SERVICE)
        client = c.task_create(node=0, name="client")
        name = 0x6003
        mach.mach_port_insert_right(client, name, mach.mach_port_extract_right(
            p.task_handle, SERVICE, MsgType.MAKE_SEND), MsgType.MOVE_SEND)
        reply = mach.mach_port_allocate(client, PortRight.RECEIVE)
        c.resume(p)
        answers, stop = [], threading.Event()

        def keep_asking():
            x = 0
            while not stop.is_set():
                x += 1
                square, node = ask(client, name, reply, x)
                assert square == x * x
                answers.append(node)
        t = threading.Thread(target=keep_asking)
        t.start()
        for node in (1, 2, 0):
            time.sleep(0.5)
            m = c.migrate(p, node)
            print(f"moved to node {node}: frozen {m.freeze_s * 1e3:.0f} ms; "
                  f"{len(answers)} answers so far")
        time.sleep(0.5)
        stop.set()
        t.join()
        mach.task_terminate(p.task_handle)
        print(f"{len(answers)} answers, all right; by node: "
              f"{ {n: answers.count(n) for n in sorted(set(answers))} }")


if __name__ == "__main__":
    main()
