"""Port sets (P6.21) and the move_member / get_set_status rows."""

import pytest
from ipc_helpers import R, T, poll, ptype, receive_right, send, send_right_in

from normach.ipc import mach_port as mp
from normach.errors import KernError
from normach.errors import KernReturn as K
from normach.mach_types import PortFlavor, PortType


def code(e):
    return e.value.code


@pytest.fixture
def setup(k, new_task):
    t, u = new_task(), new_task()
    a, b = receive_right(u), receive_right(u)
    s = mp.mach_port_allocate(u.itk_space, R.PORT_SET)
    return t, u, a, b, s, send_right_in(u, a, t), send_right_in(u, b, t)


def test_P6_21_receive_on_set_returns_members_messages_in_order(setup):
    t, u, a, b, s, sa, sb = setup
    send(t, sa, id=1)                       # queued before joining: still visible
    mp.mach_port_move_member(u.itk_space, a, s)
    mp.mach_port_move_member(u.itk_space, b, s)
    send(t, sb, id=2)
    send(t, sa, id=3)
    got = [poll(u, s) for _ in range(3)]
    assert [m.id for m in got] == [1, 2, 3]
    assert [m.local_port for m in got] == [a, b, a]
    assert [m.seqno for m in got] == [0, 0, 1]
    assert sorted(mp.mach_port_get_set_status(u.itk_space, s)) == sorted([a, b])
    assert mp.mach_port_get_attributes(u.itk_space, a, PortFlavor.RECEIVE_STATUS).pset == s


def test_P6_21_member_of_at_most_one_set(setup):
    t, u, a, b, s, sa, sb = setup
    s2 = mp.mach_port_allocate(u.itk_space, R.PORT_SET)
    mp.mach_port_move_member(u.itk_space, a, s)
    mp.mach_port_move_member(u.itk_space, a, s2)
    assert mp.mach_port_get_set_status(u.itk_space, s) == []
    assert mp.mach_port_get_set_status(u.itk_space, s2) == [a]


def test_P6_21_remove_with_null_and_not_in_set(setup):
    t, u, a, b, s, sa, sb = setup
    mp.mach_port_move_member(u.itk_space, a, s)
    mp.mach_port_move_member(u.itk_space, a, 0)
    send(t, sa, id=9)
    assert poll(u, a).id == 9
    with pytest.raises(KernError) as e:
        mp.mach_port_move_member(u.itk_space, a, 0)
    assert code(e) == K.KERN_NOT_IN_SET


def test_P6_21_destroying_set_leaves_members(setup):
    t, u, a, b, s, sa, sb = setup
    mp.mach_port_move_member(u.itk_space, a, s)
    mp.mach_port_destroy(u.itk_space, s)
    assert ptype(u, a) == PortType.RECEIVE
    send(t, sa, id=4)
    assert poll(u, a).id == 4


def test_mach_port_move_member_codes(setup):
    t, u, a, b, s, sa, sb = setup
    with pytest.raises(KernError) as e:
        mp.mach_port_move_member(u.itk_space, s, s)          # member not a receive right
    assert code(e) == K.KERN_INVALID_RIGHT
    with pytest.raises(KernError) as e:
        mp.mach_port_move_member(t.itk_space, sa, 0)         # send right only
    assert code(e) == K.KERN_INVALID_RIGHT
    with pytest.raises(KernError) as e:
        mp.mach_port_move_member(u.itk_space, a, b)          # after not a set
    assert code(e) == K.KERN_INVALID_RIGHT
    with pytest.raises(KernError) as e:
        mp.mach_port_move_member(u.itk_space, 0x5505, s)
    assert code(e) == K.KERN_INVALID_NAME


def test_mach_port_get_set_status_not_a_set_is_invalid_right(setup):
    t, u, a, b, s, sa, sb = setup
    with pytest.raises(KernError) as e:
        mp.mach_port_get_set_status(u.itk_space, a)
    assert code(e) == K.KERN_INVALID_RIGHT


def test_D5_17_moving_receive_right_leaves_its_set_and_resets_counts(setup):
    t, u, a, b, s, sa, sb = setup
    mp.mach_port_move_member(u.itk_space, a, s)
    send(t, sa)
    poll(u, s)
    port, msgt = mp.mach_port_extract_right(u.itk_space, a, T.MOVE_RECEIVE)
    assert port.pset is None and port.seqno == 0 and port.mscount == 0
    assert mp.mach_port_get_set_status(u.itk_space, s) == []
    name = t.itk_space.copyout_right(port, msgt)
    assert name == sa and ptype(t, sa) == PortType.SEND | PortType.RECEIVE
