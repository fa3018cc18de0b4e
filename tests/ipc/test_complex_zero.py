"""A complex message whose descriptor count is 0 keeps its COMPLEX bit, its count word
and its size (issue 14, item 1: the count was dropped and the inline data shifted):
through a queue on one node and through DIPC to another; guest/tests/complex_zero.c
checks the guest's view."""

from normach import Cluster, Message, MsgOption, MsgType, PortRight, mach


def test_a_complex_message_with_no_descriptor_keeps_its_count_across_nodes():
    with Cluster(nodes=2) as c:
        sender, receiver = c.task_create(node=0), c.task_create(node=1)
        name = mach.mach_port_allocate(receiver, PortRight.RECEIVE)
        send = mach.mach_port_extract_right(receiver, name, MsgType.MAKE_SEND)
        mach.mach_port_insert_right(sender, 0x505, send, MsgType.MOVE_SEND)
        for to in (0x505, None):                          # from node 0; then on node 1
            m = Message(remote_port=to or name, remote_disp=MsgType.COPY_SEND if to
                        else MsgType.MAKE_SEND, id=5, body=[b"abcdefgh"], complex_bit=True)
            mach.mach_msg_send(sender if to else receiver, m)
            got = mach.mach_msg_receive(receiver, name, MsgOption.RCV_TIMEOUT, 10_000)
            assert got.complex and got.complex_bit and got.size == 24 + 4 + 8
            assert got.body == [b"abcdefgh"] and got.id == 5
        assert c.audit() == []
