"""Messages: layout, send and receive (P6.8-P6.18, the send/receive codes of §3.2)."""

import pytest
from ipc_helpers import R, T, poll, ptype, receive_right, refs, send, send_right_in

from normach import param
from normach.ipc import mach_port as mp
from normach.ipc.mach_msg import mach_msg, mach_msg_send
from normach.ipc.message import Message, OOLDesc, OOLPortsDesc, PortDesc
from normach.errors import MACH_MSG_IPC_SPACE, KernError
from normach.errors import KernReturn as K
from normach.mach_types import (
    MACH_MSGH_BITS,
    MACH_MSGH_BITS_COMPLEX,
    MACH_PORT_DEAD,
    MACH_PORT_NULL,
    Notify,
    PortFlavor,
    PortType,
)
from normach.mach_types import MsgOption as O


def code(e):
    return e.value.code


@pytest.fixture
def pair(k, new_task):
    """(sender t, receiver u, u's receive name q, t's send name for q)."""
    t, u = new_task("sender"), new_task("receiver")
    q = receive_right(u)
    return t, u, q, send_right_in(u, q, t)


# -- P6.8 layout -------------------------------------------------------------------

def test_P6_8_msgh_bits_and_complex(pair):
    t, u, q, dest = pair
    m = Message(remote_port=dest, remote_disp=T.COPY_SEND, local_port=0x10, local_disp=T.MAKE_SEND_ONCE)
    assert m.msgh_bits == MACH_MSGH_BITS(T.COPY_SEND, T.MAKE_SEND_ONCE) == 19 | 21 << 8
    m.body.append(PortDesc(dest))
    assert m.msgh_bits & MACH_MSGH_BITS_COMPLEX
    assert Message(body=[b"abcde"]).msgh_size == 24 + 8


@pytest.mark.parametrize("size", [0, 20, 26, 30])
def test_P6_8_size_too_small_or_unaligned(pair, size):
    t, u, q, dest = pair
    with pytest.raises(KernError) as e:
        send(t, dest, body=[b"12345678"], size=size)
    assert code(e) == K.MACH_SEND_MSG_TOO_SMALL
    send(t, dest, body=[b"12345678"], size=64)
    assert poll(u, q).size == 64


def test_P6_8_bad_header_disposition_is_invalid_header(pair):
    t, u, q, dest = pair
    for remote, local, lport in ((T.MOVE_RECEIVE, 0, 0), (T.PORT_NAME, 0, 0),
                                 (T.COPY_SEND, T.MOVE_RECEIVE, q), (T.COPY_SEND, 0, dest)):
        with pytest.raises(KernError) as e:
            mach_msg_send(t, Message(remote_port=dest, remote_disp=remote,
                                     local_port=lport, local_disp=local))
        assert code(e) == K.MACH_SEND_INVALID_HEADER


def test_P6_8_bad_body_item_is_invalid_type(pair):
    t, u, q, dest = pair
    for item in (3.5, object(), PortDesc(dest, 99), OOLDesc(copy=3)):
        with pytest.raises(KernError) as e:
            send(t, dest, body=[item])
        assert code(e) == K.MACH_SEND_INVALID_TYPE


# -- P6.9 swap and trailer -----------------------------------------------------------

def test_P6_9_remote_and_local_are_swapped_on_receipt(pair):
    t, u, q, dest = pair
    reply = receive_right(t)
    send(t, dest, reply=reply, reply_disp=T.MAKE_SEND_ONCE, id=4321, body=[b"hi", 7])
    msg = poll(u, q)
    assert msg.local_port == q and msg.local_disp == T.PORT_SEND
    assert ptype(u, msg.remote_port) == PortType.SEND_ONCE
    assert msg.remote_disp == T.PORT_SEND_ONCE
    assert msg.id == 4321 and msg.body == [b"hi", 7]
    assert msg.msgh_bits == MACH_MSGH_BITS(T.PORT_SEND_ONCE, T.PORT_SEND)
    # answer on the send-once right
    send(u, msg.remote_port, T.MOVE_SEND_ONCE, id=4421, body=[0])
    answer = poll(t, reply)
    assert answer.id == 4421 and answer.local_disp == T.PORT_SEND_ONCE
    assert u.itk_space.lookup(msg.remote_port) is None


def test_P6_13_seqno_increments_per_receive(pair):
    t, u, q, dest = pair
    for i in range(3):
        send(t, dest, body=[i])
    assert [poll(u, q).seqno for _ in range(3)] == [0, 1, 2]
    mp.mach_port_set_seqno(u.itk_space, q, 10)
    send(t, dest)
    assert poll(u, q).seqno == 10


# -- P6.10 out-of-line memory ----------------------------------------------------------

def test_P6_10_ool_memory_is_copied(pair):
    from normach.vm.user import vm_allocate, vm_read, vm_write
    t, u, q, dest = pair
    a = vm_allocate(t.map, 0, 8192, True)
    vm_write(t.map, a, b"hello world")
    send(t, dest, body=[OOLDesc(a, 8192), OOLDesc(data=b"from python")])
    vm_write(t.map, a, b"HELLO")                           # after send: not seen
    msg = poll(u, q)
    d0, d1 = msg.body
    assert d0.size == 8192 and d0.address
    assert vm_read(u.map, d0.address, 11) == b"hello world"
    assert vm_read(u.map, d1.address, 11) == b"from python"
    assert vm_read(t.map, a, 5) == b"HELLO"


def test_P6_10_ool_deallocate_removes_sender_region(pair):
    from normach.vm.user import vm_allocate, vm_read, vm_write
    t, u, q, dest = pair
    a = vm_allocate(t.map, 0, 4096, True)
    vm_write(t.map, a, b"moved")
    send(t, dest, body=[OOLDesc(a, 4096, deallocate=True), OOLDesc(0, 0)])
    with pytest.raises(KernError):
        vm_read(t.map, a, 5)
    msg = poll(u, q)
    assert vm_read(u.map, msg.body[0].address, 5) == b"moved"
    assert (msg.body[1].address, msg.body[1].size) == (0, 0)


def test_P6_15_bad_ool_address_is_invalid_memory_and_rights_kept(pair):
    t, u, q, dest = pair
    r = receive_right(t)
    s = send_right_in(t, r, t)
    with pytest.raises(KernError) as e:
        send(t, dest, T.MOVE_SEND, body=[PortDesc(s, T.MOVE_SEND), OOLDesc(0x5000_0000, 4096)])
    assert code(e) == K.MACH_SEND_INVALID_MEMORY
    assert refs(t, dest, R.SEND) == 1 and refs(t, s, R.SEND) == 1
    with pytest.raises(KernError):
        poll(u, q)


def test_P6_14_ool_of_destroyed_message_is_discarded(pair):
    t, u, q, dest = pair
    send(t, dest, body=[OOLDesc(data=b"x" * 10000)])
    mp.mach_port_destroy(u.itk_space, q)                 # the queued copy is discarded


# -- P6.11 / P6.12 options and queue limit ---------------------------------------------

def test_P6_11_option_values():
    assert (O.SEND_MSG, O.RCV_MSG, O.SEND_TIMEOUT, O.RCV_TIMEOUT) == (1, 2, 0x10, 0x100)


def test_P6_11_receive_poll_on_empty_queue_times_out(pair):
    t, u, q, dest = pair
    with pytest.raises(KernError) as e:
        poll(u, q)
    assert code(e) == K.MACH_RCV_TIMED_OUT


def test_P6_12_full_queue_send_times_out(pair):
    t, u, q, dest = pair
    for i in range(param.PORT_QLIMIT_DEFAULT):
        send(t, dest, body=[i])
    r = receive_right(t)
    s = send_right_in(t, r, t)
    with pytest.raises(KernError) as e:
        send(t, dest, T.MOVE_SEND, body=[PortDesc(s, T.MOVE_SEND)], option=O.SEND_TIMEOUT, timeout=0)
    assert code(e) == K.MACH_SEND_TIMED_OUT
    assert refs(t, dest, R.SEND) == 1 and refs(t, s, R.SEND) == 1    # rights kept
    assert len(u.itk_space.lookup(q).object.messages) == param.PORT_QLIMIT_DEFAULT


def test_P6_12_send_once_destination_ignores_queue_limit(pair):
    t, u, q, dest = pair
    mp.mach_port_set_attributes(u.itk_space, q, PortFlavor.LIMITS_INFO, 1)
    send(t, dest)
    so = send_right_in(u, q, t, T.MAKE_SEND_ONCE)
    send(t, so, T.MOVE_SEND_ONCE, option=O.SEND_TIMEOUT, timeout=0)
    assert len(u.itk_space.lookup(q).object.messages) == 2


def test_P6_12_kernel_notifications_ignore_queue_limit(pair):
    t, u, q, dest = pair
    notify = receive_right(u)
    mp.mach_port_set_attributes(u.itk_space, notify, PortFlavor.LIMITS_INFO, 0)
    from ipc_helpers import notify_on
    notify_on(u, notify, Notify.NO_SENDERS, q, sync=1)
    mp.mach_port_deallocate(t.itk_space, dest)
    msg = poll(u, notify)
    assert msg.id == Notify.NO_SENDERS


def test_P6_12_qlimit_max_is_16(pair):
    t, u, q, dest = pair
    mp.mach_port_set_attributes(u.itk_space, q, PortFlavor.LIMITS_INFO, param.PORT_QLIMIT_MAX)
    for _ in range(16):
        send(t, dest, option=O.SEND_TIMEOUT, timeout=0)
    with pytest.raises(KernError) as e:
        send(t, dest, option=O.SEND_TIMEOUT, timeout=0)
    assert code(e) == K.MACH_SEND_TIMED_OUT


# -- P6.14 -----------------------------------------------------------------------------

def test_P6_14_message_to_port_that_dies_is_destroyed_with_its_rights(pair):
    t, u, q, dest = pair
    r = receive_right(t)
    notify = receive_right(t)
    from ipc_helpers import notify_on
    notify_on(t, notify, Notify.NO_SENDERS, r, sync=1)
    so_name = send_right_in(t, r, t, T.MAKE_SEND_ONCE)
    send(t, dest, body=[PortDesc(r, T.MAKE_SEND), PortDesc(so_name, T.MOVE_SEND_ONCE)])
    port_r = t.itk_space.lookup(r).object
    assert port_r.srights == 1 and port_r.sorights == 1
    mp.mach_port_destroy(u.itk_space, q)
    assert ptype(t, dest) == PortType.DEAD_NAME
    # the carried send right was released (no-senders), the send-once right destroyed
    ids = sorted([poll(t, notify).id, poll(t, r).id])
    assert ids == [Notify.NO_SENDERS, Notify.SEND_ONCE]
    assert port_r.srights == 0 and port_r.sorights == 0


def test_P6_14_send_to_dead_name_after_death_is_invalid_dest(pair):
    t, u, q, dest = pair
    mp.mach_port_destroy(u.itk_space, q)
    with pytest.raises(KernError) as e:
        send(t, dest)
    assert code(e) == K.MACH_SEND_INVALID_DEST


# -- P6.15 -------------------------------------------------------------------------------

def test_P6_15_invalid_dest_codes(pair):
    t, u, q, dest = pair
    r = receive_right(t)
    d = mp.mach_port_allocate(t.itk_space, R.DEAD_NAME)
    for name, disp in ((MACH_PORT_NULL, T.COPY_SEND), (MACH_PORT_DEAD, T.COPY_SEND),
                       (0x7707, T.COPY_SEND), (r, T.COPY_SEND), (d, T.COPY_SEND),
                       (dest, T.MAKE_SEND), (dest, T.MOVE_SEND_ONCE)):
        with pytest.raises(KernError) as e:
            send(t, name, disp)
        assert code(e) == K.MACH_SEND_INVALID_DEST, (name, disp)


def test_P6_15_invalid_reply_keeps_dest_rights(pair):
    t, u, q, dest = pair
    with pytest.raises(KernError) as e:
        send(t, dest, T.MOVE_SEND, reply=0x6606, reply_disp=T.MAKE_SEND_ONCE)
    assert code(e) == K.MACH_SEND_INVALID_REPLY
    with pytest.raises(KernError) as e:       # dest moved away by the header, reply needs it
        send(t, dest, T.MOVE_SEND, reply=dest, reply_disp=T.MOVE_SEND)
    assert code(e) == K.MACH_SEND_INVALID_REPLY
    assert refs(t, dest, R.SEND) == 1


def test_P6_15_invalid_body_right_keeps_all_rights(pair):
    t, u, q, dest = pair
    r = receive_right(t)
    send_right_in(t, r, t)
    with pytest.raises(KernError) as e:
        send(t, dest, T.MOVE_SEND, body=[PortDesc(r, T.MOVE_RECEIVE), PortDesc(r, T.MOVE_SEND),
                                         PortDesc(r, T.MOVE_SEND)])
    assert code(e) == K.MACH_SEND_INVALID_RIGHT
    assert ptype(t, r) == PortType.SEND | PortType.RECEIVE and refs(t, r, R.SEND) == 1
    assert refs(t, dest, R.SEND) == 1
    with pytest.raises(KernError) as e:
        send(t, dest, body=[OOLPortsDesc([r, 0x5505], T.MAKE_SEND)])
    assert code(e) == K.MACH_SEND_INVALID_RIGHT
    assert t.itk_space.lookup(r).object.mscount == 1


def test_send_from_terminated_task_is_invalid_dest(pair):
    from normach.kern.task import task_terminate
    t, u, q, dest = pair
    task_terminate(t)
    with pytest.raises(KernError) as e:
        send(t, dest)
    assert code(e) == K.MACH_SEND_INVALID_DEST


def test_ool_ports_array_round_trip(pair):
    t, u, q, dest = pair
    a, b = receive_right(t), receive_right(t)
    send(t, dest, body=[OOLPortsDesc([a, b, MACH_PORT_NULL], T.MAKE_SEND)])
    msg = poll(u, q)
    names = msg.body[0].names
    assert msg.body[0].disposition == T.PORT_SEND and names[2] == MACH_PORT_NULL
    assert [u.itk_space.lookup(n).object for n in names[:2]] == \
           [t.itk_space.lookup(a).object, t.itk_space.lookup(b).object]


# -- P6.16 -------------------------------------------------------------------------------

def test_P6_16_receive_on_non_receive_name_is_invalid_name(pair):
    t, u, q, dest = pair
    for name in (dest, 0x4404, MACH_PORT_NULL):
        with pytest.raises(KernError) as e:
            poll(t, name)
        assert code(e) == K.MACH_RCV_INVALID_NAME


def test_P6_16_receive_on_set_member_is_in_set(pair):
    t, u, q, dest = pair
    s = mp.mach_port_allocate(u.itk_space, R.PORT_SET)
    mp.mach_port_move_member(u.itk_space, q, s)
    with pytest.raises(KernError) as e:
        poll(u, q)
    assert code(e) == K.MACH_RCV_IN_SET


# -- P6.17 -------------------------------------------------------------------------------

def test_P6_17_rcv_too_large_destroys_message(pair):
    t, u, q, dest = pair
    reply = receive_right(t)
    carried = receive_right(t)
    carried_port = t.itk_space.lookup(carried).object
    send(t, dest, reply=reply, reply_disp=T.MAKE_SEND_ONCE, id=77,
         body=[b"x" * 100, PortDesc(carried, T.MOVE_RECEIVE)])
    with pytest.raises(KernError) as e:
        poll(u, q, rcv_size=64)
    assert code(e) == K.MACH_RCV_TOO_LARGE
    h = e.value.header
    assert h.local_port == q and h.id == 77 and h.size > 64 and h.body == []
    assert not carried_port.active                          # body destroyed
    assert poll(t, reply).id == Notify.SEND_ONCE            # reply right destroyed unused
    with pytest.raises(KernError) as e:
        poll(u, q)                                           # dequeued
    assert code(e) == K.MACH_RCV_TIMED_OUT


def test_P6_17_message_that_fits_is_received(pair):
    t, u, q, dest = pair
    send(t, dest, body=[b"x" * 8])
    assert poll(u, q, rcv_size=64).body == [b"x" * 8]


def test_receive_body_error_when_space_is_full(pair, monkeypatch):
    t, u, q, dest = pair
    a = receive_right(t)
    send(t, dest, body=[PortDesc(a, T.MAKE_SEND_ONCE), b"data"])
    monkeypatch.setattr(param, "SPACE_MAX_ENTRIES", len(u.itk_space.table))
    with pytest.raises(KernError) as e:
        poll(u, q)
    assert code(e) == K.MACH_RCV_BODY_ERROR | MACH_MSG_IPC_SPACE
    msg = e.value.message
    assert msg.body[0].name == MACH_PORT_NULL and msg.body[1] == b"data"
    monkeypatch.undo()
    assert poll(t, a).id == Notify.SEND_ONCE                 # the right was destroyed


# -- P6.18 kernel ports -------------------------------------------------------------------

def test_P6_18_message_to_kernel_port_runs_synchronously(pair):
    from normach.ipc.port import ipc_port_make_send
    t, u, q, dest = pair
    name = t.itk_space.copyout_right(ipc_port_make_send(u.itk_self), T.PORT_SEND)
    reply = receive_right(t)
    send(t, name, reply=reply, reply_disp=T.MAKE_SEND_ONCE, id=999_999)
    assert len(u.itk_self.messages) == 0
    answer = poll(t, reply)
    assert answer.id == 999_999 + 100 and answer.body[0] == K.MIG_BAD_ID


def test_mach_msg_combined_send_and_receive(pair):
    t, u, q, dest = pair
    reply = receive_right(t)
    send(u, send_right_in(t, reply, u), body=[b"pre"])
    msg = mach_msg(t, Message(remote_port=dest, id=5), O.SEND_MSG | O.RCV_MSG | O.RCV_TIMEOUT,
                   rcv_name=reply, timeout=0)
    assert msg.body == [b"pre"]
    assert poll(u, q).id == 5
    assert mach_msg(t, Message(remote_port=dest), O.SEND_MSG) is None


def test_statistics_count_messages(pair):
    t, u, q, dest = pair
    send(t, dest)
    poll(u, q)
    assert t.itk_space.msgs_sent == 1 and u.itk_space.msgs_received == 1
    assert "sent=1" in repr(t.itk_space)
