"""NORMA node calls on one node (spec §1.2, §1.3, §1.7, §1.8)."""

import pytest

from normach import Cluster, KernError, KernReturn, MsgType, PortRight, mach

K = KernReturn


@pytest.fixture
def c3():
    c = Cluster(nodes=3, phys_bytes=8 << 20)
    yield c
    assert c.audit() == []
    c.close()


def code(fn, *a):
    with pytest.raises(KernError) as e:
        fn(*a)
    return e.value.code


def test_N1_1_norma_node_self_answers_for_the_host_ports_node(c3):
    assert [mach.norma_node_self(c3.host(n)) for n in range(3)] == [0, 1, 2]
    assert mach.norma_node_self(c3.host_priv(2)) == 2


def test_N1_2_N1_3_node_validity(c3):
    t = c3.task_create(node=1)
    for bad in (-1, 3, 99, -2, 1 << 40):
        assert code(mach.task_set_child_node, t, bad) == K.KERN_INVALID_ARGUMENT


def test_N1_5_child_node_starts_at_minus_one_and_is_not_inherited(c3):
    t = c3.task_create(node=0)
    assert t.port.kobject.child_node == -1
    mach.task_set_child_node(t, 0)
    child = mach.task_create(t, False)
    assert child.port.kobject.child_node == -1


def test_N1_6_set_child_node_on_a_terminated_task_is_invalid_argument(c3):
    t = c3.task_create(node=0)
    mach.task_terminate(t)
    assert code(mach.task_set_child_node, t, 1) == K.KERN_INVALID_ARGUMENT


def test_N1_7_child_node_own_node_means_local_creation(c3):
    t = c3.task_create(node=1)
    mach.task_set_child_node(t, 1)
    child = mach.task_create(t, True)
    assert child.node == 1


def test_N1_25_get_special_port_bad_host_id_node(c3):
    hp = c3.host_priv(0)
    assert code(mach.norma_get_special_port, c3.host(0), 0, 2) == K.KERN_INVALID_HOST
    for which in (-1, 40, 1000):
        assert code(mach.norma_get_special_port, hp, 0, which) == K.KERN_INVALID_ARGUMENT
    for node in (-1, 3):
        assert code(mach.norma_get_special_port, hp, node, 2) == K.KERN_INVALID_ARGUMENT


def test_N1_26_get_own_node_kernel_and_user_ports(c3):
    hp = c3.host_priv(1)
    assert mach.norma_get_special_port(hp, 1, 2).port is c3.kernels[1].host.port
    assert mach.norma_get_special_port(hp, 1, 3).port is c3.kernels[1].host_priv.port
    assert mach.norma_get_special_port(hp, 1, 11) is None          # empty slot: NULL, success


def test_N1_26_N1_28_registered_port_and_its_death(c3):
    t = c3.task_create(node=0)
    hp = c3.host_priv(0)
    r = mach.mach_port_allocate(t, PortRight.RECEIVE)
    mach.norma_set_special_port(hp, 11, mach.mach_port_extract_right(t, r, MsgType.MAKE_SEND))
    got = mach.norma_get_special_port(hp, 0, 11)
    assert got.port is t.port.kobject.itk_space.lookup(r).object
    got.deallocate()
    mach.mach_port_destroy(t, r)
    assert mach.norma_get_special_port(hp, 0, 11) is None           # died: slot cleared


def test_N1_28_set_errors(c3):
    t = c3.task_create(node=0)
    hp = c3.host_priv(0)
    r = mach.mach_port_allocate(t, PortRight.RECEIVE)
    send = lambda: mach.mach_port_extract_right(t, r, MsgType.MAKE_SEND)  # noqa: E731
    assert code(mach.norma_set_special_port, c3.host(0), 11, send()) == K.KERN_INVALID_HOST
    for which in (0, 3, 9, 40):
        assert code(mach.norma_set_special_port, hp, which, send()) == K.KERN_INVALID_VALUE
    mach.norma_set_special_port(hp, 12, send())
    assert code(mach.norma_set_special_port, hp, 13, send()) == K.KERN_INVALID_RIGHT
    mach.norma_set_special_port(hp, 12, None)                        # NULL clears
    assert mach.norma_get_special_port(hp, 0, 12) is None
    mach.norma_set_special_port(hp, 13, send())                      # now allowed elsewhere


def test_N1_28_set_affects_only_the_host_privs_node(c3):
    t = c3.task_create(node=2)
    r = mach.mach_port_allocate(t, PortRight.RECEIVE)
    mach.norma_set_special_port(c3.host_priv(2), 20,
                                mach.mach_port_extract_right(t, r, MsgType.MAKE_SEND))
    assert mach.norma_get_special_port(c3.host_priv(2), 2, 20) is not None
    assert 20 not in c3.kernels[0].special_ports


def test_N1_30_location_hint_of_a_local_port_is_this_node(c3):
    t = c3.task_create(node=1)
    r = mach.mach_port_allocate(t, PortRight.RECEIVE)
    mach.mach_port_insert_right(t, r, r, MsgType.MAKE_SEND)
    assert mach.norma_port_location_hint(t, r) == 1


def test_N1_31_location_hint_needs_a_send_right(c3):
    t = c3.task_create(node=0)
    r = mach.mach_port_allocate(t, PortRight.RECEIVE)
    assert code(mach.norma_port_location_hint, t, r) == K.MACH_SEND_INVALID_RIGHT
    d = mach.mach_port_allocate(t, PortRight.DEAD_NAME)
    assert code(mach.norma_port_location_hint, t, d) == K.KERN_INVALID_ARGUMENT  # dead port


def test_N1_32_node_self_and_location_hint_of_own_task_port_agree(c3):
    t = c3.task_create(node=2)
    assert mach.norma_port_location_hint(t, t) == mach.norma_node_self(c3.host(2)) == 2
