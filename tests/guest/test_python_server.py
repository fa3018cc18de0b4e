"""A guest and a Python server exchange messages with port rights and out-of-line memory."""

import pathlib
import threading

from normach import Cluster, Message, MsgType, OOLDesc, PortDesc, PortRight, mach

SRC = pathlib.Path(__file__).parent / "programs" / "py_client.c"


def test_guest_and_python_server_exchange_rights_and_ool_memory(tmp_path):
    from normach.guest.build import compile_program
    exe = str(tmp_path / "py_client")
    compile_program(exe, [str(SRC)])
    with Cluster(nodes=1) as c:
        server = c.task_create(name="pyserver")
        service = mach.mach_port_allocate(server, PortRight.RECEIVE)
        other = mach.mach_port_allocate(server, PortRight.RECEIVE)
        got = {}

        def serve():
            m = mach.mach_msg_receive(server, service, 0x100, 60000)
            got["request"] = m
            got["ool"] = mach.vm_read(server, m.body[1].address, m.body[1].size)
            mach.mach_msg_send(server, Message(
                remote_port=m.remote_port, remote_disp=MsgType.MOVE_SEND_ONCE, id=600,
                body=[PortDesc(other, MsgType.MAKE_SEND), OOLDesc(data=b"from python")]))
            got["last"] = mach.mach_msg_receive(server, other, 0x100, 60000)

        th = threading.Thread(target=serve)
        th.start()
        p = c.spawn(exe)
        mach.mach_ports_register(p.task_handle,
                                 [mach.mach_port_extract_right(server, service, MsgType.MAKE_SEND)])
        status = c.wait(p, timeout=120)
        th.join(60)
        assert (status, p.reason) == (0, ""), c.output(p)
        req = got["request"]
        assert req.id == 500
        port, ool = req.body[0], req.body[1]
        assert port.disposition == MsgType.PORT_SEND
        assert ool.size == 3 * 4096
        assert got["ool"] == bytes((i * 13 + 1) & 0xFF for i in range(3 * 4096))
        assert req.body[2].rstrip(b"\0") == b"ping"
        assert got["last"].id == 700
        assert "PASS" in c.output(p)
        assert c.audit() == []
