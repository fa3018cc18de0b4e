"""norma_task_create / clone / teleport: checks, the same-node cases, and remote children
without memory (spec §1.4-1.6 with §0).  Address spaces across nodes come with XMM."""

import pytest

from normach import (
    Cluster,
    KernError,
    KernReturn,
    MsgType,
    PortRight,
    TaskSpecialPort,
    VMInherit,
    mach,
)

K = KernReturn
CALLS = [mach.norma_task_create, mach.norma_task_clone, mach.norma_task_teleport]


def _regions(t):
    a = mach.vm_allocate(t, 0, 3 * 4096, True)
    for i, inh in enumerate((VMInherit.SHARE, VMInherit.COPY, VMInherit.NONE)):
        mach.vm_write(t, a + i * 4096, f"region {i}".encode())
        mach.vm_inherit(t, a + i * 4096, 4096, inh)
    return a


@pytest.mark.parametrize("call", CALLS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("node", [-1, 3, 1 << 40])
def test_N1_9_invalid_node_is_invalid_argument_and_nothing_happens(c3, call, node):
    t = c3.task_create(node=0)
    a = _regions(t)
    with pytest.raises(KernError) as e:
        call(t, True, node)
    assert e.value.code == K.KERN_INVALID_ARGUMENT
    assert mach.vm_read(t, a, 8) == b"region 0"             # the parent is untouched
    assert len(c3.tasks(0)) == 1


@pytest.mark.parametrize("call", CALLS, ids=lambda f: f.__name__)
def test_0_5_terminated_parent_is_invalid_argument(c3, call):
    t = c3.task_create(node=0)
    mach.task_terminate(t)
    with pytest.raises(KernError) as e:
        call(t, True, 1)
    assert e.value.code == K.KERN_INVALID_ARGUMENT


def test_N1_20_create_on_own_node_is_task_create(c3):
    t = c3.task_create(node=1)
    a = _regions(t)
    child = mach.norma_task_create(t, True, 1)
    assert child.node == 1 and mach.task_threads(child) == []
    mach.vm_write(child, a, b"shared!!")
    assert mach.vm_read(t, a, 8) == b"shared!!"                      # SHARE
    mach.vm_write(child, a + 4096, b"private!")
    assert mach.vm_read(t, a + 4096, 8) == b"region 1"              # COPY
    with pytest.raises(KernError):
        mach.vm_read(child, a + 2 * 4096, 8)                          # NONE


def test_0_3_clone_on_own_node_shares_every_region(c3):
    t = c3.task_create(node=2)
    a = _regions(t)
    child = mach.norma_task_clone(t, True, 2)
    for i in range(3):
        mach.vm_write(child, a + i * 4096, f"child {i}!".encode())
        assert mach.vm_read(t, a + i * 4096, 8) == f"child {i}!".encode()[:8]
        assert mach.vm_region(child, a + i * 4096).inheritance == mach.vm_region(t, a + i * 4096).inheritance


def test_N1_22_teleport_to_own_node_returns_the_parent_untouched(c3):
    t = c3.task_create(node=0)
    a = _regions(t)
    same = mach.norma_task_teleport(t, False, 0)
    assert same.port is t.port
    assert mach.vm_read(t, a, 8) == b"region 0"                     # not terminated, intact


@pytest.mark.parametrize("call", CALLS, ids=lambda f: f.__name__)
def test_N1_16_N1_17_N1_18_remote_child_without_memory(c3, call):
    t = c3.task_create(node=0)
    _regions(t)
    child = call(t, False, 2)
    assert child.node == 2                                          # N1.16 location
    assert mach.norma_port_location_hint(child, child) == 2          # asked on node 2 itself
    assert mach.task_threads(child) == []                           # N1.17
    with pytest.raises(KernError) as e:
        mach.vm_region(child, 0)
    assert e.value.code == K.KERN_NO_SPACE                          # N1.18 empty map


def test_N1_15_remote_teleport_terminates_the_parent(c3):
    t = c3.task_create(node=0)
    child = mach.norma_task_teleport(t, False, 1)
    with pytest.raises(KernError) as e:
        mach.vm_allocate(t, 0, 4096, True)
    assert e.value.code == K.KERN_INVALID_ARGUMENT                  # the parent is gone
    assert mach.vm_allocate(child, 0, 4096, True)


def test_0_1_remote_child_inherits_ports_and_limits(c3):
    t = c3.task_create(node=0)
    boot = c3.task_create(node=0)
    mach.task_set_special_port(t, TaskSpecialPort.BOOTSTRAP, boot)
    r = mach.mach_port_allocate(t, PortRight.RECEIVE)
    mach.mach_ports_register(t, [mach.mach_port_extract_right(t, r, MsgType.MAKE_SEND)])
    mach.task_set_limits(t, max_vm=1 << 20, max_threads=2)
    child = mach.norma_task_create(t, False, 1)  # noqa: F841  (the handle keeps it alive)
    ctask = next(x for x in c3.kernels[1].tasks if x.active and x.itk_bootstrap is not None)
    assert ctask.itk_bootstrap.proxy[0] == boot.port.uid             # the same port, via a proxy
    assert ctask.itk_registered[0].proxy is not None
    assert (ctask.ledger.vm_max, ctask.ledger.threads_max) == (1 << 20, 2)
    assert ctask.child_node == -1                                     # N1.5: not inherited


def test_N1_8_task_create_follows_child_node(c3):
    t = c3.task_create(node=0)
    mach.task_set_child_node(t, 2)
    child = mach.task_create(t, False)
    assert child.node == 2


def test_records_have_one_type_wherever_the_object_lives():
    """Issue 14, item 10: on a task of another node (a teleported child) vm_region gave a
    list instead of its Region, and task_info, thread_info, vm_statistics and the port
    attributes lists instead of their records."""
    from normach.ipc.mach_port import PortLimits, PortStatus
    from normach.mach_types import PortFlavor, TaskInfoFlavor
    from normach.vm.user import Region
    with Cluster(nodes=2) as c:
        t = c.task_create(node=0)
        a = mach.vm_allocate(t, 0, 8192, True)
        name = mach.mach_port_allocate(t, PortRight.RECEIVE)
        here = {"region": mach.vm_region(t, a), "stats": mach.vm_statistics(t),
                "basic": mach.task_info(t, TaskInfoFlavor.TASK_BASIC_INFO),
                "memory": mach.task_info(t, TaskInfoFlavor.TASK_NORMA_MEMORY_INFO)}
        child = mach.norma_task_clone(t, True, 1)
        assert child.node == 1
        mach.thread_create(child)
        there = {"region": mach.vm_region(child, a), "stats": mach.vm_statistics(child),
                 "basic": mach.task_info(child, TaskInfoFlavor.TASK_BASIC_INFO),
                 "memory": mach.task_info(child, TaskInfoFlavor.TASK_NORMA_MEMORY_INFO)}
        for key in here:
            assert type(there[key]) is type(here[key]), key
        assert isinstance(there["region"], Region) and there["region"].address == a
        assert there["region"].size == 8192 and type(there["region"].shared) is bool
        assert list(there["stats"]) == list(here["stats"])
        assert list(there["basic"]) == list(here["basic"]) and there["basic"]["node"] == 1
        info = mach.thread_info(mach.task_threads(child)[0], 3)
        assert isinstance(info, dict) and "suspend_count" in info
        cname = mach.mach_port_allocate(child, PortRight.RECEIVE)
        limits = mach.mach_port_get_attributes(child, cname, PortFlavor.LIMITS_INFO)
        status = mach.mach_port_get_attributes(child, cname, PortFlavor.RECEIVE_STATUS)
        assert isinstance(limits, PortLimits) and isinstance(status, PortStatus)
        assert status == mach.mach_port_get_attributes(t, name, PortFlavor.RECEIVE_STATUS)


def test_host_info_and_task_names_on_any_node():
    """Issue 14, item 8 (in part): host_info's flavors give records, from this node and
    another; task_set_name names a task as ps shows it."""
    from normach.mach_types import HostInfoFlavor as F
    with Cluster(nodes=2) as c:
        for node in (0, 1):
            basic = mach.host_info(c.host(node), F.HOST_BASIC_INFO)
            assert basic["max_cpus"] == 1 and basic["memory_size"] > 0
            assert set(mach.host_info(c.host(node), F.HOST_SCHED_INFO)) == {"min_timeout",
                                                                           "min_quantum"}
        assert mach.host_kernel_version(c.host(1)).startswith(b"normach ")
        t = c.task_create(node=1)
        mach.task_set_name(t, b"worker")
        assert [r["name"] for r in c.ps() if r["node"] == 1] == ["worker"]
        with pytest.raises(KernError) as e:
            mach.task_set_name(t, b"x" * 100)
        assert e.value.code == K.KERN_INVALID_ARGUMENT
