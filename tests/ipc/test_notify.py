"""Notifications (§6.5, P6.19, P6.20) and port-space destruction (T7.7)."""

import pytest
from ipc_helpers import (
    R,
    notify_on,
    poll,
    ptype,
    receive_right,
    refs,
    send,
    send_right_in,
)

from normach.ipc import mach_port as mp
from normach.ipc.port import IP_DEAD
from normach.errors import KernError
from normach.errors import KernReturn as K
from normach.kern.task import task_terminate
from normach.mach_types import MsgType, Notify, PortType


def code(e):
    return e.value.code


@pytest.fixture
def three(k, new_task):
    """Server s with receive right p; client c with send right cs; c's notify port n."""
    s, c = new_task("server"), new_task("client")
    p = receive_right(s)
    cs = send_right_in(s, p, c)
    n = receive_right(c)
    return s, c, p, cs, n


# -- dead-name -------------------------------------------------------------------------

def test_notify_dead_name_fires_with_name_and_extra_uref(three):
    s, c, p, cs, n = three
    assert notify_on(c, n, Notify.DEAD_NAME, cs, sync=0) is None
    assert ptype(c, cs) == PortType.SEND | PortType.DNREQUEST
    mp.mach_port_destroy(s.itk_space, p)
    msg = poll(c, n)
    assert msg.id == Notify.DEAD_NAME and msg.body == [cs]
    assert msg.local_disp == MsgType.PORT_SEND_ONCE
    assert ptype(c, cs) == PortType.DEAD_NAME and refs(c, cs, R.DEAD_NAME) == 2


def test_P6_19_dead_name_request_on_dead_name(three):
    s, c, p, cs, n = three
    mp.mach_port_destroy(s.itk_space, p)
    port, msgt = mp.mach_port_extract_right(c.itk_space, n, MsgType.MAKE_SEND_ONCE)
    with pytest.raises(KernError) as e:
        mp.mach_port_request_notification(c.itk_space, cs, Notify.DEAD_NAME, 0, port, msgt)
    assert code(e) == K.KERN_INVALID_ARGUMENT
    assert poll(c, n).id == Notify.SEND_ONCE                 # the refused request was destroyed
    notify_on(c, n, Notify.DEAD_NAME, cs, sync=1)            # fires at once
    msg = poll(c, n)
    assert msg.id == Notify.DEAD_NAME and msg.body == [cs]


def test_P6_19_new_request_replaces_and_returns_previous(three):
    s, c, p, cs, n = three
    notify_on(c, n, Notify.DEAD_NAME, cs)
    previous = notify_on(c, n, Notify.DEAD_NAME, cs)
    assert previous is not None and previous.sorights == 2
    name = c.itk_space.copyout_right(previous, MsgType.PORT_SEND_ONCE)
    assert ptype(c, name) == PortType.SEND_ONCE
    cancelled = mp.mach_port_request_notification(c.itk_space, cs, Notify.DEAD_NAME, 0, None)
    assert cancelled is not None
    c.itk_space.copyout_right(cancelled, MsgType.PORT_SEND_ONCE)
    assert ptype(c, cs) == PortType.SEND


def test_notify_port_deleted_when_name_loses_its_last_right(three):
    s, c, p, cs, n = three
    notify_on(c, n, Notify.DEAD_NAME, cs)
    mp.mach_port_deallocate(c.itk_space, cs)
    msg = poll(c, n)
    assert msg.id == Notify.PORT_DELETED and msg.body == [cs]


# -- no-senders ---------------------------------------------------------------------------

def test_notify_no_senders_with_mscount(three):
    s, c, p, cs, n = three
    sn = receive_right(s)
    notify_on(s, sn, Notify.NO_SENDERS, p, sync=1)
    mp.mach_port_deallocate(c.itk_space, cs)
    msg = poll(s, sn)
    assert msg.id == Notify.NO_SENDERS and msg.body == [1]
    st = mp.mach_port_get_attributes(s.itk_space, p, 2)
    assert st.nsrequest is False and st.srights == 0


def test_P6_19_no_senders_fires_at_once_if_no_senders(three):
    s, c, p, cs, n = three
    sn = receive_right(s)
    mp.mach_port_deallocate(c.itk_space, cs)
    notify_on(s, sn, Notify.NO_SENDERS, p, sync=2)           # sync > mscount (1): waits
    with pytest.raises(KernError):
        poll(s, sn)
    previous = notify_on(s, sn, Notify.NO_SENDERS, p, sync=1)   # replaces; fires now
    msg = poll(s, sn)
    assert msg.id == Notify.NO_SENDERS and msg.body == [1]
    assert s.itk_space.lookup(p).object.nsrequest is None
    s.itk_space.copyout_right(previous, MsgType.PORT_SEND_ONCE)  # the caller owns it


def test_P6_19_no_senders_request_returns_previous(three):
    s, c, p, cs, n = three
    sn = receive_right(s)
    assert notify_on(s, sn, Notify.NO_SENDERS, p, sync=5) is None
    prev = notify_on(s, sn, Notify.NO_SENDERS, p, sync=5)
    assert prev is not None
    s.itk_space.copyout_right(prev, MsgType.PORT_SEND_ONCE)


def test_P6_20_destroyed_receive_right_with_nsrequest_sends_send_once(three):
    s, c, p, cs, n = three
    sn = receive_right(s)
    notify_on(s, sn, Notify.NO_SENDERS, p, sync=1)
    mp.mach_port_destroy(s.itk_space, p)
    assert poll(s, sn).id == Notify.SEND_ONCE


def test_request_no_senders_without_nms_is_invalid_right(k, new_task):
    t = new_task()
    p = receive_right(t, R.RECEIVE_NO_NMS)
    n = receive_right(t)
    with pytest.raises(KernError) as e:
        notify_on(t, n, Notify.NO_SENDERS, p, sync=0)
    assert code(e) == K.KERN_INVALID_RIGHT
    assert poll(t, n).id == Notify.SEND_ONCE


# -- port-destroyed -----------------------------------------------------------------------

def test_notify_port_destroyed_hands_over_the_receive_right(three):
    s, c, p, cs, n = three
    sn = receive_right(s)
    send(c, cs, body=[b"queued"])
    notify_on(s, sn, Notify.PORT_DESTROYED, p)
    port = s.itk_space.lookup(p).object
    mp.mach_port_destroy(s.itk_space, p)
    assert port.active and ptype(c, cs) == PortType.SEND     # senders unaffected
    msg = poll(s, sn)
    assert msg.id == Notify.PORT_DESTROYED and msg.body[0].disposition == MsgType.PORT_RECEIVE
    newname = msg.body[0].name
    assert s.itk_space.lookup(newname).object is port
    assert poll(s, newname).body == [b"queued"]               # queue survived


# -- request_notification codes -------------------------------------------------------------

def test_request_notification_codes(three):
    s, c, p, cs, n = three
    sn = receive_right(s)
    for msg_id, sync, target, want in ((Notify.SEND_ONCE, 0, p, K.KERN_INVALID_VALUE),
                                       (Notify.PORT_DELETED, 0, p, K.KERN_INVALID_VALUE),
                                       (Notify.PORT_DESTROYED, 1, p, K.KERN_INVALID_VALUE),
                                       (Notify.NO_SENDERS, 0, 0x5505, K.KERN_INVALID_NAME),
                                       (Notify.PORT_DESTROYED, 0, sn + 0x100000, K.KERN_INVALID_NAME)):
        with pytest.raises(KernError) as e:
            notify_on(s, sn, msg_id, target, sync)
        assert code(e) == want
        assert poll(s, sn).id == Notify.SEND_ONCE
    pset = mp.mach_port_allocate(s.itk_space, R.PORT_SET)
    for msg_id in (Notify.PORT_DESTROYED, Notify.NO_SENDERS, Notify.DEAD_NAME):
        with pytest.raises(KernError) as e:
            notify_on(s, sn, msg_id, pset)
        assert code(e) == K.KERN_INVALID_RIGHT
        poll(s, sn)
    with pytest.raises(KernError) as e:
        notify_on(c, n, Notify.NO_SENDERS, cs)                 # a send right, not receive
    assert code(e) == K.KERN_INVALID_RIGHT
    poll(c, n)
    with pytest.raises(KernError) as e:
        mp.mach_port_request_notification(c.itk_space, cs, Notify.DEAD_NAME, 0, IP_DEAD,
                                          MsgType.PORT_SEND_ONCE)
    assert code(e) == K.KERN_INVALID_CAPABILITY


# -- T7.7 space destruction -----------------------------------------------------------------

def test_T7_7_destroyed_space_gives_dead_names_and_notifications(three):
    s, c, p, cs, n = three
    notify_on(c, n, Notify.DEAD_NAME, cs)
    task_terminate(s)
    assert ptype(c, cs) == PortType.DEAD_NAME
    msg = poll(c, n)
    assert msg.id == Notify.DEAD_NAME and msg.body == [cs]


def test_T7_7_port_destroyed_request_honoured(three):
    s, c, p, cs, n = three
    # c registers for the destruction of its own port q, with the request going to n
    q = receive_right(c)
    port, msgt = mp.mach_port_extract_right(s.itk_space, p, MsgType.MAKE_SEND_ONCE)
    c_notify = c.itk_space.copyout_right(port, msgt)         # c now holds a send-once to p
    pq, t = mp.mach_port_extract_right(c.itk_space, c_notify, MsgType.MOVE_SEND_ONCE)
    mp.mach_port_request_notification(c.itk_space, q, Notify.PORT_DESTROYED, 0, pq, t)
    qport = c.itk_space.lookup(q).object
    task_terminate(c)
    assert qport.active                                       # went to s's port p
    msg = poll(s, p)
    assert msg.id == Notify.PORT_DESTROYED
    assert s.itk_space.lookup(msg.body[0].name).object is qport


def test_T7_7_send_rights_released_and_send_once_destroyed(three):
    s, c, p, cs, n = three
    sn = receive_right(s)
    notify_on(s, sn, Notify.NO_SENDERS, p, sync=1)
    so = send_right_in(s, p, c, MsgType.MAKE_SEND_ONCE)
    assert so
    task_terminate(c)
    ids = sorted(m.id for m in (poll(s, sn), poll(s, p)))
    assert ids == [Notify.NO_SENDERS, Notify.SEND_ONCE]


def test_T7_7_mach_port_calls_on_dead_space_are_invalid_task(three):
    s, c, p, cs, n = three
    space = c.itk_space
    task_terminate(c)
    assert not space.active and space.table == {}
    calls = [lambda: mp.mach_port_allocate(space, R.RECEIVE),
             lambda: mp.mach_port_deallocate(space, cs),
             lambda: mp.mach_port_destroy(space, cs),
             lambda: mp.mach_port_mod_refs(space, cs, R.SEND, 1),
             lambda: mp.mach_port_get_refs(space, cs, R.SEND),
             lambda: mp.mach_port_type(space, cs),
             lambda: mp.mach_port_names(space),
             lambda: mp.mach_port_rename(space, cs, 0x100),
             lambda: mp.mach_port_extract_right(space, cs, MsgType.COPY_SEND),
             lambda: mp.mach_port_move_member(space, n, 0),
             lambda: mp.mach_port_get_attributes(space, n, 1),
             lambda: mp.mach_port_get_set_status(space, n),
             lambda: mp.mach_port_request_notification(space, n, Notify.DEAD_NAME, 0, None)]
    for call in calls:
        with pytest.raises(KernError) as e:
            call()
        assert code(e) == K.KERN_INVALID_TASK


def test_T7_7_queued_messages_of_destroyed_space_are_destroyed(three):
    s, c, p, cs, n = three
    r = receive_right(c)
    send(c, cs, body=[PortDesc_make(r)])
    port = c.itk_space.lookup(r).object
    task_terminate(s)                                         # p dies, its queue destroyed
    assert port.srights == 0
    task_terminate(c)
    assert not port.active


def PortDesc_make(name):
    from normach.ipc.message import PortDesc
    return PortDesc(name, MsgType.MAKE_SEND)
