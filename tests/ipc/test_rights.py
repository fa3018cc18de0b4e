"""Rights and names (P6.1-P6.7) and the mach_port_* error rows of spec §3.4."""

import pytest
from ipc_helpers import R, T, poll, ptype, receive_right, refs, send, send_right_in

from normach import param
from normach.ipc import mach_port as mp
from normach.ipc.port import IP_DEAD, ipc_port_make_send
from normach.errors import KernError
from normach.errors import KernReturn as K
from normach.mach_types import MACH_PORT_DEAD, MACH_PORT_NULL, MACH_PORT_TYPE, PortType


def code(excinfo):
    return excinfo.value.code


# -- P6.1 / P6.2 -----------------------------------------------------------------

def test_P6_1_type_bits_of_each_right(k, new_task):
    t = new_task()
    assert MACH_PORT_TYPE(R.SEND) == PortType.SEND == 1 << 16
    assert MACH_PORT_TYPE(R.DEAD_NAME) == PortType.DEAD_NAME == 1 << 20
    r = receive_right(t)
    assert ptype(t, r) == PortType.RECEIVE
    s = mp.mach_port_allocate(t.itk_space, R.PORT_SET)
    assert ptype(t, s) == PortType.PORT_SET
    d = mp.mach_port_allocate(t.itk_space, R.DEAD_NAME)
    assert ptype(t, d) == PortType.DEAD_NAME
    so = send_right_in(t, r, t, T.MAKE_SEND_ONCE)
    assert ptype(t, so) == PortType.SEND_ONCE
    assert send_right_in(t, r, t) == r
    assert ptype(t, r) == PortType.SEND | PortType.RECEIVE


def test_P6_2_names_have_index_and_generation(k, new_task):
    t = new_task()
    a = receive_right(t)
    assert a not in (MACH_PORT_NULL, MACH_PORT_DEAD)
    index, gen = a >> param.NAME_GEN_BITS, a & 0xFF
    mp.mach_port_destroy(t.itk_space, a)
    b = receive_right(t)
    assert b >> param.NAME_GEN_BITS == index
    assert b & 0xFF != gen and b != a
    with pytest.raises(KernError) as e:
        mp.mach_port_type(t.itk_space, a)
    assert code(e) == K.KERN_INVALID_NAME


# -- P6.3 ------------------------------------------------------------------------

def test_P6_3_one_name_per_port(k, new_task):
    t, u = new_task(), new_task()
    r = receive_right(t)
    assert send_right_in(t, r, t) == r          # make-send merges into the receive name
    assert refs(t, r, R.SEND) == 1
    n1 = send_right_in(t, r, u)
    n2 = send_right_in(t, r, u)
    assert n1 == n2 and refs(u, n1, R.SEND) == 2
    port = t.itk_space.lookup(r).object
    with pytest.raises(KernError) as e:
        mp.mach_port_insert_right(u.itk_space, 0x4242, ipc_port_make_send(port), T.PORT_SEND)
    assert code(e) == K.KERN_RIGHT_EXISTS


def test_P6_3_each_send_once_right_has_its_own_name(k, new_task):
    t = new_task()
    r = receive_right(t)
    a = send_right_in(t, r, t, T.MAKE_SEND_ONCE)
    b = send_right_in(t, r, t, T.MAKE_SEND_ONCE)
    assert len({a, b, r}) == 3
    assert t.itk_space.lookup(r).object.sorights == 2
    mp.mach_port_destroy(t.itk_space, r)       # the send-once names become dead names
    assert ptype(t, a) == ptype(t, b) == PortType.DEAD_NAME


# -- P6.4 ------------------------------------------------------------------------

def test_P6_4_urefs_max_and_overflow(k, new_task):
    t = new_task()
    r = receive_right(t)
    send_right_in(t, r, t)
    mp.mach_port_mod_refs(t.itk_space, r, R.SEND, param.UREFS_MAX - 1)
    assert refs(t, r, R.SEND) == param.UREFS_MAX
    assert t.itk_space.lookup(r).object.srights == 1      # N urefs = one send right
    with pytest.raises(KernError) as e:
        mp.mach_port_mod_refs(t.itk_space, r, R.SEND, 1)
    assert code(e) == K.KERN_UREFS_OVERFLOW
    mp.mach_port_mod_refs(t.itk_space, r, R.SEND, -param.UREFS_MAX)
    assert ptype(t, r) == PortType.RECEIVE


def test_P6_4_receive_send_once_and_set_count_one(k, new_task):
    t = new_task()
    r = receive_right(t)
    so = send_right_in(t, r, t, T.MAKE_SEND_ONCE)
    s = mp.mach_port_allocate(t.itk_space, R.PORT_SET)
    assert refs(t, r, R.RECEIVE) == 1 and refs(t, r, R.SEND) == 0
    assert refs(t, so, R.SEND_ONCE) == 1
    assert refs(t, s, R.PORT_SET) == 1
    d = mp.mach_port_allocate(t.itk_space, R.DEAD_NAME)
    assert refs(t, d, R.DEAD_NAME) == 1


# -- P6.5 ------------------------------------------------------------------------

@pytest.mark.parametrize("right", [R.SEND, R.SEND_ONCE, R.NUMBER, 99, -1])
def test_P6_5_allocate_only_receive_set_or_dead_name(k, new_task, right):
    t = new_task()
    with pytest.raises(KernError) as e:
        mp.mach_port_allocate(t.itk_space, right)
    assert code(e) == K.KERN_INVALID_VALUE


def test_P6_5_only_one_receive_right(k, new_task):
    t, u = new_task(), new_task()
    r = receive_right(t)
    port, msgt = mp.mach_port_extract_right(t.itk_space, r, T.MOVE_RECEIVE)
    assert msgt == T.PORT_RECEIVE and port.receiver is None
    with pytest.raises(KernError) as e:
        mp.mach_port_extract_right(t.itk_space, r, T.MOVE_RECEIVE)
    assert code(e) == K.KERN_INVALID_NAME
    name = u.itk_space.copyout_right(port, msgt)
    assert port.receiver is u.itk_space and ptype(u, name) == PortType.RECEIVE


# -- dispositions table (P6.5 table) ----------------------------------------------

def _carrier(k, new_task):
    """Sender t with a send right to receiver u's port q."""
    t, u = new_task(), new_task()
    q = receive_right(u)
    dest = send_right_in(u, q, t)
    return t, u, q, dest


@pytest.mark.parametrize("disp,received,sender_after", [
    (T.MOVE_RECEIVE, T.PORT_RECEIVE, None),
    (T.MAKE_SEND, T.PORT_SEND, PortType.RECEIVE),
    (T.MAKE_SEND_ONCE, T.PORT_SEND_ONCE, PortType.RECEIVE),
])
def test_P6_5_dispositions_from_a_receive_right(k, new_task, disp, received, sender_after):
    t, u, q, dest = _carrier(k, new_task)
    r = receive_right(t)
    port = t.itk_space.lookup(r).object
    ms, so = port.mscount, port.sorights
    send(t, dest, body=[mp_desc(r, disp)])
    if sender_after is None:
        assert t.itk_space.lookup(r) is None
    else:
        assert ptype(t, r) == sender_after
    assert port.mscount == ms + (1 if disp == T.MAKE_SEND else 0)
    assert port.sorights == so + (1 if disp == T.MAKE_SEND_ONCE else 0)
    msg = poll(u, q)
    assert msg.body[0].disposition == received
    got = u.itk_space.lookup(msg.body[0].name)
    assert got.object is port


@pytest.mark.parametrize("disp,urefs_after", [(T.MOVE_SEND, 1), (T.COPY_SEND, 2)])
def test_P6_5_dispositions_from_a_send_right(k, new_task, disp, urefs_after):
    t, u, q, dest = _carrier(k, new_task)
    r = receive_right(u)
    s = send_right_in(u, r, t)
    mp.mach_port_mod_refs(t.itk_space, s, R.SEND, 1)       # 2 urefs
    send(t, dest, body=[mp_desc(s, disp)])
    assert refs(t, s, R.SEND) == urefs_after
    msg = poll(u, q)
    assert msg.body[0].disposition == T.PORT_SEND
    assert msg.body[0].name == r                            # merged with u's receive name (P6.7)


def test_P6_5_move_send_once_loses_it(k, new_task):
    t, u, q, dest = _carrier(k, new_task)
    r = receive_right(u)
    so = send_right_in(u, r, t, T.MAKE_SEND_ONCE)
    send(t, dest, body=[mp_desc(so, T.MOVE_SEND_ONCE)])
    assert t.itk_space.lookup(so) is None
    msg = poll(u, q)
    assert msg.body[0].disposition == T.PORT_SEND_ONCE
    assert ptype(u, msg.body[0].name) == PortType.SEND_ONCE


def mp_desc(name, disp):
    from normach.ipc.message import PortDesc
    return PortDesc(name, disp)


# -- P6.6 / P6.7 -------------------------------------------------------------------

def test_P6_6_dead_name_is_delivered_as_port_dead(k, new_task):
    t, u, q, dest = _carrier(k, new_task)
    d = mp.mach_port_allocate(t.itk_space, R.DEAD_NAME)
    mp.mach_port_mod_refs(t.itk_space, d, R.DEAD_NAME, 1)
    send(t, dest, body=[mp_desc(d, T.COPY_SEND), mp_desc(d, T.MOVE_SEND)])
    assert refs(t, d, R.DEAD_NAME) == 1                     # MOVE consumed one uref
    msg = poll(u, q)
    assert [x.name for x in msg.body] == [MACH_PORT_DEAD, MACH_PORT_DEAD]
    assert [x.disposition for x in msg.body] == [T.PORT_SEND, T.PORT_SEND]


def test_P6_6_port_name_passes_uninterpreted(k, new_task):
    t, u, q, dest = _carrier(k, new_task)
    send(t, dest, body=[mp_desc(0x1234, T.PORT_NAME)])
    msg = poll(u, q)
    assert msg.body[0].name == 0x1234 and msg.body[0].disposition == T.PORT_NAME


def test_P6_7_received_send_right_merges_into_existing_name(k, new_task):
    t, u, q, dest = _carrier(k, new_task)
    send(t, dest, body=[mp_desc(dest, T.COPY_SEND)])        # u gets a send right to q
    msg = poll(u, q)
    assert msg.body[0].name == q
    assert refs(u, q, R.SEND) == 1 and ptype(u, q) == PortType.SEND | PortType.RECEIVE
    send(t, dest, body=[mp_desc(dest, T.COPY_SEND)])
    poll(u, q)
    assert refs(u, q, R.SEND) == 2
    port = u.itk_space.lookup(q).object
    assert port.srights == 2                                 # t's name + u's name


# -- mach_port_allocate / allocate_name ----------------------------------------------

def test_mach_port_allocate_dead_space_is_invalid_task(k, new_task):
    from normach.kern.task import task_terminate
    t = new_task()
    space = t.itk_space
    task_terminate(t)
    with pytest.raises(KernError) as e:
        mp.mach_port_allocate(space, R.RECEIVE)
    assert code(e) == K.KERN_INVALID_TASK


def test_mach_port_allocate_full_space_is_no_space(k, new_task, monkeypatch):
    t = new_task()
    monkeypatch.setattr(param, "SPACE_MAX_ENTRIES", len(t.itk_space.table) + 2)
    receive_right(t)
    receive_right(t)
    with pytest.raises(KernError) as e:
        receive_right(t)
    assert code(e) == K.KERN_NO_SPACE


def test_mach_port_allocate_name_codes(k, new_task):
    t = new_task()
    mp.mach_port_allocate_name(t.itk_space, R.RECEIVE, 0x777)
    assert ptype(t, 0x777) == PortType.RECEIVE
    with pytest.raises(KernError) as e:
        mp.mach_port_allocate_name(t.itk_space, R.PORT_SET, 0x777)
    assert code(e) == K.KERN_NAME_EXISTS
    for bad in (MACH_PORT_NULL, MACH_PORT_DEAD):
        with pytest.raises(KernError) as e:
            mp.mach_port_allocate_name(t.itk_space, R.RECEIVE, bad)
        assert code(e) == K.KERN_INVALID_VALUE
    with pytest.raises(KernError) as e:
        mp.mach_port_allocate_name(t.itk_space, R.SEND, 0x888)
    assert code(e) == K.KERN_INVALID_VALUE


def test_mach_port_allocate_receive_no_nms_reports_tristate_2(k, new_task):
    from normach.mach_types import PortFlavor
    t = new_task()
    a = receive_right(t)
    b = receive_right(t, R.RECEIVE_NO_NMS)
    st = mp.mach_port_get_attributes(t.itk_space, a, PortFlavor.RECEIVE_STATUS)
    assert st.srights == 0
    send_right_in(t, a, t)
    assert mp.mach_port_get_attributes(t.itk_space, a, PortFlavor.RECEIVE_STATUS).srights == 1
    assert mp.mach_port_get_attributes(t.itk_space, b, PortFlavor.RECEIVE_STATUS).srights == 2


# -- mach_port_deallocate / destroy ----------------------------------------------------

def test_mach_port_deallocate_unknown_name_is_invalid_name(k, new_task):
    t = new_task()
    with pytest.raises(KernError) as e:
        mp.mach_port_deallocate(t.itk_space, 0x5505)
    assert code(e) == K.KERN_INVALID_NAME


def test_mach_port_deallocate_receive_or_set_is_invalid_right(k, new_task):
    t = new_task()
    for name in (receive_right(t), mp.mach_port_allocate(t.itk_space, R.PORT_SET)):
        with pytest.raises(KernError) as e:
            mp.mach_port_deallocate(t.itk_space, name)
        assert code(e) == K.KERN_INVALID_RIGHT


def test_mach_port_deallocate_send_and_dead_name(k, new_task):
    t, u = new_task(), new_task()
    r = receive_right(u)
    s = send_right_in(u, r, t)
    mp.mach_port_mod_refs(t.itk_space, s, R.SEND, 1)
    mp.mach_port_deallocate(t.itk_space, s)
    assert refs(t, s, R.SEND) == 1
    mp.mach_port_deallocate(t.itk_space, s)
    assert t.itk_space.lookup(s) is None
    d = mp.mach_port_allocate(t.itk_space, R.DEAD_NAME)
    mp.mach_port_deallocate(t.itk_space, d)
    assert t.itk_space.lookup(d) is None


def test_mach_port_destroy_removes_every_right(k, new_task):
    t, u = new_task(), new_task()
    r = receive_right(t)
    send_right_in(t, r, t)
    s = send_right_in(t, r, u)
    mp.mach_port_destroy(t.itk_space, r)
    assert t.itk_space.lookup(r) is None
    assert ptype(u, s) == PortType.DEAD_NAME
    with pytest.raises(KernError) as e:
        mp.mach_port_destroy(t.itk_space, r)
    assert code(e) == K.KERN_INVALID_NAME


# -- mach_port_mod_refs / get_refs -----------------------------------------------------

@pytest.mark.parametrize("right", [5, 6, -1, 100])
def test_mach_port_mod_refs_bad_right_is_invalid_value(k, new_task, right):
    t = new_task()
    r = receive_right(t)
    with pytest.raises(KernError) as e:
        mp.mach_port_mod_refs(t.itk_space, r, right, 0)
    assert code(e) == K.KERN_INVALID_VALUE


def test_mach_port_mod_refs_unknown_name_is_invalid_name(k, new_task):
    t = new_task()
    with pytest.raises(KernError) as e:
        mp.mach_port_mod_refs(t.itk_space, 0x9909, R.SEND, 1)
    assert code(e) == K.KERN_INVALID_NAME


def test_mach_port_mod_refs_wrong_right_is_invalid_right(k, new_task):
    t = new_task()
    r = receive_right(t)
    for right in (R.SEND, R.SEND_ONCE, R.PORT_SET, R.DEAD_NAME):
        with pytest.raises(KernError) as e:
            mp.mach_port_mod_refs(t.itk_space, r, right, 1)
        assert code(e) == K.KERN_INVALID_RIGHT


@pytest.mark.parametrize("right", [R.RECEIVE, R.SEND_ONCE, R.PORT_SET])
@pytest.mark.parametrize("delta", [1, -2, 5])
def test_mach_port_mod_refs_bad_delta_is_invalid_value(k, new_task, right, delta):
    t = new_task()
    r = receive_right(t)
    name = {R.RECEIVE: r,
            R.SEND_ONCE: send_right_in(t, r, t, T.MAKE_SEND_ONCE),
            R.PORT_SET: mp.mach_port_allocate(t.itk_space, R.PORT_SET)}[right]
    with pytest.raises(KernError) as e:
        mp.mach_port_mod_refs(t.itk_space, name, right, delta)
    assert code(e) == K.KERN_INVALID_VALUE


def test_mach_port_mod_refs_negative_urefs_is_invalid_value(k, new_task):
    t = new_task()
    r = receive_right(t)
    send_right_in(t, r, t)
    d = mp.mach_port_allocate(t.itk_space, R.DEAD_NAME)
    for name, right in ((r, R.SEND), (d, R.DEAD_NAME)):
        with pytest.raises(KernError) as e:
            mp.mach_port_mod_refs(t.itk_space, name, right, -2)
        assert code(e) == K.KERN_INVALID_VALUE
    assert refs(t, r, R.SEND) == 1 and refs(t, d, R.DEAD_NAME) == 1


def test_mach_port_mod_refs_minus_one_destroys_single_rights(k, new_task):
    t = new_task()
    r = receive_right(t)
    so = send_right_in(t, r, t, T.MAKE_SEND_ONCE)
    s = mp.mach_port_allocate(t.itk_space, R.PORT_SET)
    mp.mach_port_mod_refs(t.itk_space, so, R.SEND_ONCE, -1)
    mp.mach_port_mod_refs(t.itk_space, s, R.PORT_SET, -1)
    send_right_in(t, r, t)
    mp.mach_port_mod_refs(t.itk_space, r, R.RECEIVE, -1)
    assert ptype(t, r) == PortType.DEAD_NAME and refs(t, r, R.DEAD_NAME) == 1
    assert t.itk_space.lookup(so) is None or ptype(t, so) == PortType.DEAD_NAME
    assert t.itk_space.lookup(s) is None
    mp.mach_port_mod_refs(t.itk_space, r, R.DEAD_NAME, -1)
    assert t.itk_space.lookup(r) is None


def test_mach_port_get_refs_bad_right_is_invalid_value(k, new_task):
    t = new_task()
    r = receive_right(t)
    with pytest.raises(KernError) as e:
        mp.mach_port_get_refs(t.itk_space, r, 7)
    assert code(e) == K.KERN_INVALID_VALUE


# -- names, type, rename ----------------------------------------------------------------

def test_mach_port_names_and_type(k, new_task):
    t = new_task()
    r = receive_right(t)
    s = mp.mach_port_allocate(t.itk_space, R.PORT_SET)
    names, types = mp.mach_port_names(t.itk_space)
    assert dict(zip(names, types)) == {r: PortType.RECEIVE, s: PortType.PORT_SET}
    with pytest.raises(KernError) as e:
        mp.mach_port_type(t.itk_space, 0x3303)
    assert code(e) == K.KERN_INVALID_NAME


def test_mach_port_rename_codes(k, new_task):
    t = new_task()
    r = receive_right(t)
    other = receive_right(t)
    mp.mach_port_rename(t.itk_space, r, 0x1000)
    assert ptype(t, 0x1000) == PortType.RECEIVE and t.itk_space.lookup(r) is None
    assert t.itk_space.lookup(0x1000).object.receiver_name() == 0x1000
    with pytest.raises(KernError) as e:
        mp.mach_port_rename(t.itk_space, 0x1000, other)
    assert code(e) == K.KERN_NAME_EXISTS
    with pytest.raises(KernError) as e:
        mp.mach_port_rename(t.itk_space, 0x1000, MACH_PORT_NULL)
    assert code(e) == K.KERN_INVALID_VALUE
    with pytest.raises(KernError) as e:
        mp.mach_port_rename(t.itk_space, 0x2000, 0x3000)
    assert code(e) == K.KERN_INVALID_NAME


# -- insert_right / extract_right ---------------------------------------------------------

def test_mach_port_insert_right_codes(k, new_task):
    t, u = new_task(), new_task()
    r = receive_right(t)
    port = t.itk_space.lookup(r).object
    for bad in (MACH_PORT_NULL, MACH_PORT_DEAD):
        with pytest.raises(KernError) as e:
            mp.mach_port_insert_right(u.itk_space, bad, ipc_port_make_send(port), T.PORT_SEND)
        assert code(e) == K.KERN_INVALID_VALUE
    with pytest.raises(KernError) as e:
        mp.mach_port_insert_right(u.itk_space, 0x700, None, T.PORT_SEND)
    assert code(e) == K.KERN_INVALID_CAPABILITY
    with pytest.raises(KernError) as e:
        mp.mach_port_insert_right(u.itk_space, 0x700, IP_DEAD, T.PORT_SEND)
    assert code(e) == K.KERN_INVALID_CAPABILITY
    busy = receive_right(u)
    with pytest.raises(KernError) as e:
        mp.mach_port_insert_right(u.itk_space, busy, ipc_port_make_send(port), T.PORT_SEND)
    assert code(e) == K.KERN_NAME_EXISTS
    mp.mach_port_insert_right(u.itk_space, 0x700, ipc_port_make_send(port), T.PORT_SEND)
    mp.mach_port_insert_right(u.itk_space, 0x700, ipc_port_make_send(port), T.PORT_SEND)
    assert refs(u, 0x700, R.SEND) == 2
    with pytest.raises(KernError) as e:
        mp.mach_port_insert_right(u.itk_space, 0x800, ipc_port_make_send(port), T.PORT_SEND)
    assert code(e) == K.KERN_RIGHT_EXISTS


def test_mach_port_insert_right_dead_port_is_invalid_capability(k, new_task):
    t, u = new_task(), new_task()
    r = receive_right(t)
    port = t.itk_space.lookup(r).object
    right = ipc_port_make_send(port)
    mp.mach_port_destroy(t.itk_space, r)
    with pytest.raises(KernError) as e:
        mp.mach_port_insert_right(u.itk_space, 0x900, right, T.PORT_SEND)
    assert code(e) == K.KERN_INVALID_CAPABILITY


def test_mach_port_extract_right_codes(k, new_task):
    t = new_task()
    r = receive_right(t)
    with pytest.raises(KernError) as e:
        mp.mach_port_extract_right(t.itk_space, r, 42)
    assert code(e) == K.KERN_INVALID_VALUE
    with pytest.raises(KernError) as e:
        mp.mach_port_extract_right(t.itk_space, 0x4404, T.MAKE_SEND)
    assert code(e) == K.KERN_INVALID_NAME
    with pytest.raises(KernError) as e:
        mp.mach_port_extract_right(t.itk_space, r, T.COPY_SEND)
    assert code(e) == K.KERN_INVALID_RIGHT
    port, msgt = mp.mach_port_extract_right(t.itk_space, r, T.MAKE_SEND)
    assert msgt == T.PORT_SEND and port.srights == 1 and port.mscount == 1
    mp.mach_port_insert_right(t.itk_space, r, port, msgt)        # back under its name
    assert ptype(t, r) == PortType.SEND | PortType.RECEIVE


def test_mach_port_extract_right_from_dead_name_gives_dead(k, new_task):
    t = new_task()
    d = mp.mach_port_allocate(t.itk_space, R.DEAD_NAME)
    port, msgt = mp.mach_port_extract_right(t.itk_space, d, T.MOVE_SEND)
    assert port is IP_DEAD and msgt == T.PORT_SEND
    assert t.itk_space.lookup(d) is None


# -- attributes ------------------------------------------------------------------------

def test_mach_port_attributes(k, new_task):
    from normach.mach_types import PortFlavor as F
    t = new_task()
    r = receive_right(t)
    assert mp.mach_port_get_attributes(t.itk_space, r, F.LIMITS_INFO).qlimit == param.PORT_QLIMIT_DEFAULT
    mp.mach_port_set_attributes(t.itk_space, r, F.LIMITS_INFO, mp.PortLimits(qlimit=16))
    assert mp.mach_port_get_attributes(t.itk_space, r, F.LIMITS_INFO).qlimit == 16
    with pytest.raises(KernError) as e:
        mp.mach_port_set_attributes(t.itk_space, r, F.LIMITS_INFO, {"qlimit": 17})
    assert code(e) == K.KERN_INVALID_VALUE
    with pytest.raises(KernError) as e:
        mp.mach_port_get_attributes(t.itk_space, r, 99)
    assert code(e) == K.KERN_INVALID_ARGUMENT
    s = send_right_in(t, r, new_task())
    assert s
    with pytest.raises(KernError) as e:
        mp.mach_port_get_attributes(t.itk_space, mp.mach_port_allocate(t.itk_space, R.PORT_SET),
                                    F.RECEIVE_STATUS)
    assert code(e) == K.KERN_INVALID_RIGHT
    mp.mach_port_set_mscount(t.itk_space, r, 7)
    mp.mach_port_set_seqno(t.itk_space, r, 3)
    st = mp.mach_port_get_attributes(t.itk_space, r, F.RECEIVE_STATUS)
    assert (st.mscount, st.seqno, st.qlimit, st.srights, st.msgcount) == (7, 3, 16, 1, 0)
    assert (st.pset, st.pdrequest, st.nsrequest, st.sorights) == (0, False, False, 0)


def test_mach_port_set_mscount_needs_receive_right(k, new_task):
    t = new_task()
    d = mp.mach_port_allocate(t.itk_space, R.DEAD_NAME)
    for fn in (mp.mach_port_set_mscount, mp.mach_port_set_seqno):
        with pytest.raises(KernError) as e:
            fn(t.itk_space, d, 1)
        assert code(e) == K.KERN_INVALID_RIGHT


def test_P6_3_send_right_not_merged_into_a_send_once_name():
    """Found by the port state machine: inserting a send right under a name that holds
    a send-once right for the same port fails with KERN_NAME_EXISTS instead of merging."""
    from normach import Cluster, KernError, KernReturn, MsgType, PortRight, mach
    with Cluster() as c:
        task = c.task_create()
        rcv = mach.mach_port_allocate(task, PortRight.RECEIVE)
        so = mach.mach_port_extract_right(task, rcv, MsgType.MAKE_SEND_ONCE)
        mach.mach_port_insert_right(task, 0x20000400, so, MsgType.MOVE_SEND_ONCE)
        send = mach.mach_port_extract_right(task, rcv, MsgType.MAKE_SEND)
        try:
            mach.mach_port_insert_right(task, 0x20000400, send, MsgType.MOVE_SEND)
            raise AssertionError("merged")
        except KernError as e:
            assert e.code == KernReturn.KERN_NAME_EXISTS
        assert mach.mach_port_type(task, 0x20000400) == int(mach_types_so())
        assert c.audit() == []


def mach_types_so():
    from normach import PortType
    return PortType.SEND_ONCE
