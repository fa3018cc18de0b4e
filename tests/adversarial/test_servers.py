"""A server never dies of a client's message (finding 1), even one the kernel cannot
hand over whole: a request whose reply right finds no room in the server's space
(MACH_RCV_HEADER_ERROR; here the node's memory budget is spent) is dropped and
counted, and the server receives the next one.  The console server used to end its
receive loop on any error, and every program of its node then hung at its next
printf."""

from __future__ import annotations

from normach import Cluster, Message, MsgOption, MsgType, PortRight, mach
from normach.mach_types import Notify
from normach.servers.server import ServerStats, receive_one

from waiting import wait_until

SQUEEZE = "test: budget held"


def _send(task, dest: int, msg_id: int, reply: int = 0) -> None:
    mach.mach_msg_send(task, Message(remote_port=dest, remote_disp=MsgType.MAKE_SEND,
                                     local_port=reply,
                                     local_disp=MsgType.MAKE_SEND_ONCE if reply else 0,
                                     id=msg_id, body=[b"data"]))


def test_a_request_that_cannot_be_received_whole_is_dropped_and_the_server_serves_on():
    with Cluster(nodes=1, phys_bytes=16 << 20, memory=64 << 20) as c:
        server = c.task_create(node=0, name="server")
        service = mach.mach_port_allocate(server, PortRight.RECEIVE)
        replies = mach.mach_port_allocate(server, PortRight.RECEIVE)
        _send(server, service, 1, reply=replies)         # its reply right needs a new name
        _send(server, service, 2)                        # needs none
        memory = c.kernel(0).memory
        with c.kernel(0).lock:                           # leave room for less than one name
            held = memory.free - 1024
            memory.charge(SQUEEZE, held)
        try:
            stats = ServerStats()
            m = receive_one(server, service, stats)
        finally:
            with c.kernel(0).lock:
                memory.credit(SQUEEZE, held)
        assert m is not None and m.id == 2
        assert stats.dropped == 1
        assert memory.refused["port names"] >= 1
        mach.mach_port_mod_refs(server, service, PortRight.RECEIVE, -1)
        assert receive_one(server, service, stats) is None   # its port is gone: the loop ends
        assert c.audit() == []


def test_the_console_drops_a_write_it_cannot_receive_and_prints_the_next():
    from normach.servers.console import CONSOLE_WRITE, ConsoleServer, Output
    with Cluster(nodes=1, phys_bytes=16 << 20, memory=64 << 20) as c:
        console = ConsoleServer(c.task_create(node=0, name="console"), "console-test")
        out = Output()
        client = c.task_create(node=0, name="client")
        send = console.open(out)
        mach.mach_port_insert_right(client, 0x700, send, MsgType.MOVE_SEND)
        reply = mach.mach_port_allocate(client, PortRight.RECEIVE)

        def write(text: bytes) -> None:
            mach.mach_msg_send(client, Message(remote_port=0x700, remote_disp=MsgType.COPY_SEND,
                                               local_port=reply,
                                               local_disp=MsgType.MAKE_SEND_ONCE,
                                               id=CONSOLE_WRITE, body=[text]))
        memory = c.kernel(0).memory
        with c.kernel(0).lock:                           # no room for the reply right's name
            held = memory.free - 1024
            memory.charge(SQUEEZE, held)
        try:
            write(b"lost\n")
            wait_until(lambda: console.stats.dropped or not console.thread.is_alive(),
                       "the console to drop the write it could not receive")
            assert console.stats.dropped == 1 and console.thread.is_alive()
        finally:
            with c.kernel(0).lock:
                memory.credit(SQUEEZE, held)
        write(b"printed\n")
        lost = mach.mach_msg_receive(client, reply, MsgOption.RCV_TIMEOUT, 30000)
        assert lost.id == Notify.SEND_ONCE              # the dropped write's reply right died
        answer = mach.mach_msg_receive(client, reply, MsgOption.RCV_TIMEOUT, 30000)
        assert (answer.id, answer.body) == (CONSOLE_WRITE + 100, [b"\0\0\0\0"])
        assert out.text() == "printed\n" and console.thread.is_alive()
