"""Task rules T7.6-T7.10 and the §3.4 rows for task_* (spec §3.3 E3.1, §3.4, §7.2)."""

import dataclasses

import pytest
from spin import spin_state

from normach import KernError, KernReturn, TaskSpecialPort, VMInherit, mach
from normach.kern.thread import X86ThreadState64
from normach.mach_types import ThreadRunState, ThreadStateFlavor

K = KernReturn
P = 4096
GPRS = [f.name for f in dataclasses.fields(X86ThreadState64)]
SP = TaskSpecialPort


def code_of(fn, *args):
    with pytest.raises(KernError) as ei:
        fn(*args)
    return ei.value.code


def run_state(th):
    return mach.thread_info(th, 3)["run_state"]


def suspend_count(t):
    return mach.task_info(t, 1)["suspend_count"]


def spinning_thread(t):
    """A thread of `t` with a state that really runs (`jmp .`), still suspended (T7.1)."""
    th = mach.thread_create(t)
    mach.thread_set_state(th, ThreadStateFlavor.x86_THREAD_STATE64, spin_state(t))
    return th


def free_count(t):
    return mach.vm_statistics(t)["free_count"]


@pytest.fixture
def dead_task(cluster):
    t = cluster.task_create()
    mach.task_terminate(t)
    return t


# -- task_create ----------------------------------------------------------------------------

def test_task_create_gives_live_task_without_threads(task):
    child = mach.task_create(task, False)
    assert mach.task_threads(child) == []
    info = mach.task_info(child, 1)
    assert info["suspend_count"] == 0
    assert info["thread_count"] == 0
    assert info["virtual_size"] == 0
    assert child.port is not task.port


def test_task_create_terminated_parent_is_invalid_argument(cluster, dead_task):
    n = len(cluster.tasks())
    assert code_of(mach.task_create, dead_task, True) == K.KERN_INVALID_ARGUMENT
    assert code_of(mach.task_create, dead_task, False) == K.KERN_INVALID_ARGUMENT
    assert len(cluster.tasks()) == n


@pytest.mark.parametrize("target", [None, 0, 17, "task"])
def test_task_create_non_handle_parent_is_send_invalid_dest(target):
    assert code_of(mach.task_create, target, True) == K.MACH_SEND_INVALID_DEST


def test_task_create_thread_handle_as_parent_is_invalid_argument(task):
    th = mach.thread_create(task)
    assert code_of(mach.task_create, th, False) == K.KERN_INVALID_ARGUMENT


def test_task_create_host_handle_as_parent_is_invalid_argument(cluster):
    assert code_of(mach.task_create, cluster.host(), False) == K.KERN_INVALID_ARGUMENT


def test_task_create_child_not_suspended_even_if_parent_is(task):
    mach.task_suspend(task)
    child = mach.task_create(task, False)
    assert suspend_count(child) == 0
    mach.task_resume(task)


# -- task_terminate (T7.7) ------------------------------------------------------------------

def test_T7_7_task_terminate_twice_is_invalid_argument(cluster):
    t = cluster.task_create()
    mach.task_terminate(t)
    assert code_of(mach.task_terminate, t) == K.KERN_INVALID_ARGUMENT


def test_T7_7_terminated_task_is_gone_from_node(cluster):
    t = cluster.task_create()
    n = len(cluster.tasks())
    mach.task_terminate(t)
    assert len(cluster.tasks()) == n - 1


@pytest.mark.parametrize("call", [
    lambda t: mach.task_suspend(t),
    lambda t: mach.task_resume(t),
    lambda t: mach.task_threads(t),
    lambda t: mach.task_info(t, 1),
    lambda t: mach.task_get_special_port(t, SP.KERNEL),
    lambda t: mach.task_set_special_port(t, SP.BOOTSTRAP, None),
    lambda t: mach.mach_ports_register(t, []),
    lambda t: mach.mach_ports_lookup(t),
    lambda t: mach.thread_create(t),
    lambda t: mach.task_create(t, False),
    lambda t: mach.task_set_limits(t, 1, 1),
    lambda t: mach.task_terminate(t),
], ids=["suspend", "resume", "threads", "info", "get_special", "set_special", "ports_register",
        "ports_lookup", "thread_create", "task_create", "set_limits", "terminate"])
def test_T7_7_calls_on_terminated_task_are_invalid_argument(dead_task, call):
    assert code_of(call, dead_task) == K.KERN_INVALID_ARGUMENT


def test_T7_7_terminate_terminates_all_threads(task):
    ths = [spinning_thread(task)] + [mach.thread_create(task) for _ in range(2)]
    mach.thread_resume(ths[0])
    mach.task_terminate(task)
    for th in ths:
        assert code_of(mach.thread_info, th, 3) == K.KERN_TERMINATED
        assert code_of(mach.thread_resume, th) == K.KERN_TERMINATED


def test_T7_7_terminate_suspended_task(task):
    mach.thread_create(task)
    mach.task_suspend(task)
    mach.task_suspend(task)
    mach.task_terminate(task)
    assert code_of(mach.task_resume, task) == K.KERN_INVALID_ARGUMENT


def test_T7_7_memory_released_at_terminate(cluster):
    probe = cluster.task_create()
    before = free_count(probe)
    t = cluster.task_create()
    a = mach.vm_allocate(t, 0, 32 * P, True)
    for i in range(32):
        mach.vm_write(t, a + i * P, bytes([i + 1]) * P)
    assert free_count(probe) == before - 32
    mach.task_terminate(t)
    assert free_count(probe) == before


def test_T7_7_memory_released_at_terminate_with_copy_children(cluster):
    probe = cluster.task_create()
    before = free_count(probe)
    t = cluster.task_create()
    a = mach.vm_allocate(t, 0, 8 * P, True)
    mach.vm_write(t, a, b"x" * (8 * P))
    kids = [mach.task_create(t, True) for _ in range(3)]
    for i, k in enumerate(kids):
        mach.vm_write(k, a + i * P, b"kid")
    mach.vm_write(t, a, b"parent")
    for k in kids:
        mach.task_terminate(k)
    mach.task_terminate(t)
    assert free_count(probe) == before


def test_T7_7_shared_memory_survives_sharer_termination(cluster):
    probe = cluster.task_create()
    before = free_count(probe)
    t = cluster.task_create()
    a = mach.vm_allocate(t, 0, 4 * P, True)
    mach.vm_write(t, a, b"shared data")
    mach.vm_inherit(t, a, 4 * P, VMInherit.SHARE)
    child = mach.task_create(t, True)
    grandchild = mach.task_create(child, True)
    mach.task_terminate(t)
    assert mach.vm_read(child, a, 11) == b"shared data"
    mach.vm_write(child, a + P, b"still shared")
    assert mach.vm_read(grandchild, a + P, 12) == b"still shared"
    mach.task_terminate(child)
    assert mach.vm_read(grandchild, a, 11) == b"shared data"
    mach.task_terminate(grandchild)
    assert free_count(probe) == before


def test_T7_7_shared_memory_survives_when_child_terminates_first(task, cluster):
    a = mach.vm_allocate(task, 0, P, True)
    mach.vm_inherit(task, a, P, VMInherit.SHARE)
    child = mach.task_create(task, True)
    mach.vm_write(child, a, b"child wrote")
    mach.task_terminate(child)
    assert mach.vm_read(task, a, 11) == b"child wrote"
    mach.vm_write(task, a, b"parent goes on")
    assert mach.vm_read(task, a, 14) == b"parent goes on"


def test_T7_7_copy_snapshot_survives_parent_termination(cluster):
    t = cluster.task_create()
    a = mach.vm_allocate(t, 0, 2 * P, True)
    mach.vm_write(t, a, b"snapshot")
    child = mach.task_create(t, True)
    mach.task_terminate(t)
    assert mach.vm_read(child, a, 8) == b"snapshot"


def test_T7_7_bootstrap_and_registered_rights_released(cluster):
    t = cluster.task_create()
    boot, r1, r2 = cluster.task_create(), cluster.task_create(), cluster.host()
    counts = [h.port.srights for h in (boot, r1, r2)]
    mach.task_set_special_port(t, SP.BOOTSTRAP, boot)
    mach.mach_ports_register(t, [r1, r2])
    assert [h.port.srights for h in (boot, r1, r2)] == [c + 1 for c in counts]
    mach.task_terminate(t)
    assert [h.port.srights for h in (boot, r1, r2)] == counts


def test_T7_7_terminate_parent_does_not_affect_child(cluster):
    t = cluster.task_create()
    child = mach.task_create(t, False)
    mach.task_terminate(t)
    th = mach.thread_create(child)
    assert mach.task_info(child, 1)["thread_count"] == 1
    assert len(mach.task_threads(child)) == 1
    mach.thread_terminate(th)


# -- task_suspend / task_resume (T7.6) -----------------------------------------------------------

def test_T7_6_suspend_resume_counts(task):
    assert suspend_count(task) == 0
    mach.task_suspend(task)
    assert suspend_count(task) == 1
    mach.task_suspend(task)
    assert suspend_count(task) == 2
    mach.task_resume(task)
    assert suspend_count(task) == 1
    mach.task_resume(task)
    assert suspend_count(task) == 0


def test_T7_6_resume_at_zero_is_failure(task):
    assert code_of(mach.task_resume, task) == K.KERN_FAILURE
    mach.task_suspend(task)
    mach.task_resume(task)
    assert code_of(mach.task_resume, task) == K.KERN_FAILURE
    assert suspend_count(task) == 0


def test_T7_6_suspend_holds_running_threads(task):
    th = spinning_thread(task)
    mach.thread_resume(th)
    assert run_state(th) == ThreadRunState.RUNNING
    mach.task_suspend(task)
    assert run_state(th) == ThreadRunState.STOPPED
    assert mach.thread_info(th, 3)["suspend_count"] == 0     # the user count is the thread's
    mach.task_resume(task)
    assert run_state(th) == ThreadRunState.RUNNING


def test_T7_6_nested_suspend_releases_only_at_zero(task):
    th = mach.thread_create(task)
    mach.thread_resume(th)
    for _ in range(3):
        mach.task_suspend(task)
    for _ in range(2):
        mach.task_resume(task)
        assert run_state(th) == ThreadRunState.STOPPED
    mach.task_resume(task)
    assert run_state(th) == ThreadRunState.RUNNING


def test_T7_6_thread_created_while_task_suspended_stays_suspended(task):
    mach.task_suspend(task)
    th = mach.thread_create(task)
    assert mach.thread_info(th, 3)["suspend_count"] == 1
    mach.thread_resume(th)
    assert run_state(th) == ThreadRunState.STOPPED
    mach.task_resume(task)
    assert run_state(th) == ThreadRunState.RUNNING


def test_T7_6_thread_created_while_task_suspended_twice(task):
    mach.task_suspend(task)
    mach.task_suspend(task)
    th = mach.thread_create(task)
    mach.thread_resume(th)
    mach.task_resume(task)
    assert run_state(th) == ThreadRunState.STOPPED
    mach.task_resume(task)
    assert run_state(th) == ThreadRunState.RUNNING


def test_T7_6_task_resume_does_not_resume_suspended_thread(task):
    th = mach.thread_create(task)                  # stop count 1
    mach.task_suspend(task)
    mach.task_resume(task)
    assert run_state(th) == ThreadRunState.STOPPED
    assert mach.thread_info(th, 3)["suspend_count"] == 1


def test_T7_6_suspend_task_without_threads(task):
    mach.task_suspend(task)
    mach.task_resume(task)


def test_T7_6_suspend_does_not_affect_other_tasks(task):
    other = mach.task_create(task, False)
    th = mach.thread_create(other)
    mach.thread_resume(th)
    mach.task_suspend(task)
    assert run_state(th) == ThreadRunState.RUNNING
    assert suspend_count(other) == 0
    mach.task_resume(task)


def test_T7_6_vm_calls_still_work_on_suspended_task(task):
    mach.task_suspend(task)
    a = mach.vm_allocate(task, 0, P, True)
    mach.vm_write(task, a, b"ok")
    assert mach.vm_read(task, a, 2) == b"ok"
    mach.task_resume(task)


# -- task_threads (T7.9) ---------------------------------------------------------------------

def test_T7_9_task_threads_lists_threads(task):
    ths = [mach.thread_create(task) for _ in range(3)]
    got = mach.task_threads(task)
    assert sorted(id(h.port) for h in got) == sorted(id(h.port) for h in ths)
    assert mach.task_info(task, 1)["thread_count"] == 3


def test_T7_9_task_threads_on_terminated_task_is_invalid_argument(cluster):
    t = cluster.task_create()
    mach.thread_create(t)
    mach.task_terminate(t)
    assert code_of(mach.task_threads, t) == K.KERN_INVALID_ARGUMENT


def test_task_info_on_terminated_task_is_invalid_argument(dead_task):
    assert code_of(mach.task_info, dead_task, 1) == K.KERN_INVALID_ARGUMENT


@pytest.mark.parametrize("flavor", [0, 99, -1])
def test_task_info_unknown_flavor_is_invalid_argument(task, flavor):
    assert code_of(mach.task_info, task, flavor) == K.KERN_INVALID_ARGUMENT


def test_task_info_virtual_size_tracks_allocation(task):
    a = mach.vm_allocate(task, 0, 5 * P, True)
    assert mach.task_info(task, 1)["virtual_size"] == 5 * P
    mach.vm_deallocate(task, a, 2 * P)
    assert mach.task_info(task, 1)["virtual_size"] == 3 * P


# -- special ports (T7.10) -------------------------------------------------------------------

def test_T7_10_kernel_port_is_the_task_port(task):
    h = mach.task_get_special_port(task, SP.KERNEL)
    assert h.port is task.port
    # and usable as the task
    assert mach.task_info(h, 1)["suspend_count"] == 0


def test_T7_10_bootstrap_port_initially_null(task):
    assert mach.task_get_special_port(task, SP.BOOTSTRAP) is None


def test_T7_10_set_and_get_bootstrap(cluster, task):
    boot = cluster.task_create()
    mach.task_set_special_port(task, SP.BOOTSTRAP, boot)
    assert mach.task_get_special_port(task, SP.BOOTSTRAP).port is boot.port
    mach.task_set_special_port(task, SP.BOOTSTRAP, None)
    assert mach.task_get_special_port(task, SP.BOOTSTRAP) is None


def test_T7_10_replacing_bootstrap_releases_old_right(cluster, task):
    b1, b2 = cluster.task_create(), cluster.task_create()
    n1 = b1.port.srights
    mach.task_set_special_port(task, SP.BOOTSTRAP, b1)
    assert b1.port.srights == n1 + 1
    mach.task_set_special_port(task, SP.BOOTSTRAP, b2)
    assert b1.port.srights == n1


def test_T7_10_set_kernel_port(cluster, task):
    other = cluster.host()
    mach.task_set_special_port(task, SP.KERNEL, other)
    assert mach.task_get_special_port(task, SP.KERNEL).port is other.port


@pytest.mark.parametrize("which", [SP.WIRED_LEDGER, SP.PAGED_LEDGER])
def test_T7_10_ledger_ports_exist(task, which):
    h = mach.task_get_special_port(task, which)
    assert h is not None and h.port is not None
    assert h.port is not task.port


def test_T7_10_child_has_its_own_ledger_port(task):
    child = mach.task_create(task, False)
    assert mach.task_get_special_port(child, SP.WIRED_LEDGER).port is not \
        mach.task_get_special_port(task, SP.WIRED_LEDGER).port


@pytest.mark.parametrize("which", [SP.WIRED_LEDGER, SP.PAGED_LEDGER])
def test_T7_10_ledger_ports_cannot_be_set(cluster, task, which):
    h = cluster.host()
    n = h.port.srights
    assert code_of(mach.task_set_special_port, task, which, h) == K.KERN_INVALID_ARGUMENT
    assert h.port.srights == n


@pytest.mark.parametrize("which", [0, SP.HOST, 3, 7, 99, -1, 1 << 40])
def test_T7_10_get_invalid_id_is_invalid_argument(task, which):
    assert code_of(mach.task_get_special_port, task, which) == K.KERN_INVALID_ARGUMENT


@pytest.mark.parametrize("which", [0, SP.HOST, 3, 7, 99, -1])
def test_T7_10_set_invalid_id_is_invalid_argument(task, which):
    assert code_of(mach.task_set_special_port, task, which, None) == K.KERN_INVALID_ARGUMENT


@pytest.mark.parametrize("which", [0, SP.HOST, 99])
def test_T7_10_set_invalid_id_does_not_consume_the_right(cluster, task, which):
    """A refused call gives back the send right it copied in: the port's send-right
    count is unchanged (otherwise the right leaks and no-senders never fires)."""
    h = cluster.host()
    n = h.port.srights
    assert code_of(mach.task_set_special_port, task, which, h) == K.KERN_INVALID_ARGUMENT
    assert h.port.srights == n


def test_T7_10_mach_ports_register_at_most_three(cluster, task):
    hs = [cluster.task_create() for _ in range(4)]
    counts = [h.port.srights for h in hs]
    assert code_of(mach.mach_ports_register, task, hs) == K.KERN_INVALID_ARGUMENT
    assert [h.port.srights for h in hs] == counts
    assert mach.mach_ports_lookup(task) == [None, None, None]


def test_T7_10_mach_ports_register_failure_keeps_old_registration(cluster, task):
    r = cluster.task_create()
    mach.mach_ports_register(task, [r])
    assert code_of(mach.mach_ports_register, task, [r, r, r, r]) == K.KERN_INVALID_ARGUMENT
    got = mach.mach_ports_lookup(task)
    assert got[0].port is r.port and got[1:] == [None, None]


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_T7_10_mach_ports_register_and_lookup(cluster, task, n):
    hs = [cluster.task_create() for _ in range(n)]
    mach.mach_ports_register(task, hs)
    got = mach.mach_ports_lookup(task)
    assert len(got) == 3
    for i in range(3):
        if i < n:
            assert got[i].port is hs[i].port
        else:
            assert got[i] is None


def test_T7_10_mach_ports_register_replaces_and_releases(cluster, task):
    a, b = cluster.task_create(), cluster.task_create()
    na = a.port.srights
    mach.mach_ports_register(task, [a])
    mach.mach_ports_register(task, [b])
    assert a.port.srights == na
    assert mach.mach_ports_lookup(task)[0].port is b.port


def test_T7_10_mach_ports_register_with_null_slot(cluster, task):
    a = cluster.task_create()
    mach.mach_ports_register(task, [None, a])
    got = mach.mach_ports_lookup(task)
    assert got[0] is None and got[1].port is a.port and got[2] is None


# -- inheritance of ports by task_create children ---------------------------------------------

@pytest.mark.parametrize("inherit_memory", [True, False])
def test_children_inherit_bootstrap_port(cluster, task, inherit_memory):
    boot = cluster.task_create()
    mach.task_set_special_port(task, SP.BOOTSTRAP, boot)
    child = mach.task_create(task, inherit_memory)
    assert mach.task_get_special_port(child, SP.BOOTSTRAP).port is boot.port


@pytest.mark.parametrize("inherit_memory", [True, False])
def test_children_inherit_registered_ports(cluster, task, inherit_memory):
    hs = [cluster.task_create(), cluster.host(), cluster.task_create()]
    mach.mach_ports_register(task, hs)
    child = mach.task_create(task, inherit_memory)
    got = mach.mach_ports_lookup(child)
    assert [g.port for g in got] == [h.port for h in hs]
    assert all(g.port is h.port for g, h in zip(got, hs))


def test_grandchild_inherits_bootstrap_and_registered_ports(cluster, task):
    boot, reg = cluster.task_create(), cluster.host()
    mach.task_set_special_port(task, SP.BOOTSTRAP, boot)
    mach.mach_ports_register(task, [reg])
    gc = mach.task_create(mach.task_create(task, False), True)
    assert mach.task_get_special_port(gc, SP.BOOTSTRAP).port is boot.port
    assert mach.mach_ports_lookup(gc)[0].port is reg.port


def test_child_kernel_port_is_its_own(task):
    child = mach.task_create(task, False)
    assert mach.task_get_special_port(child, SP.KERNEL).port is child.port


def test_child_port_changes_do_not_affect_parent(cluster, task):
    boot, other = cluster.task_create(), cluster.task_create()
    mach.task_set_special_port(task, SP.BOOTSTRAP, boot)
    child = mach.task_create(task, False)
    mach.task_set_special_port(child, SP.BOOTSTRAP, other)
    mach.mach_ports_register(child, [other])
    assert mach.task_get_special_port(task, SP.BOOTSTRAP).port is boot.port
    assert mach.mach_ports_lookup(task) == [None, None, None]


def test_parent_port_changes_after_fork_do_not_affect_child(cluster, task):
    boot, other = cluster.task_create(), cluster.task_create()
    mach.task_set_special_port(task, SP.BOOTSTRAP, boot)
    child = mach.task_create(task, False)
    mach.task_set_special_port(task, SP.BOOTSTRAP, other)
    assert mach.task_get_special_port(child, SP.BOOTSTRAP).port is boot.port


def test_mach_fork_recipe(cluster, task):
    """§7.4: fresh bootstrap in the parent, fork, restore, child thread gets the parent's state."""
    F = ThreadStateFlavor
    real_boot, fresh = cluster.task_create(), cluster.task_create()
    mach.task_set_special_port(task, SP.BOOTSTRAP, real_boot)
    pth = mach.thread_create(task)
    # the parent's code and stack pages (`jmp .`); every other register a distinct value
    regs = {n: i for i, n in enumerate(GPRS, 1) if n not in ("rip", "rsp", "rflags", "cs",
                                                              "fs", "gs")}
    state = spin_state(task, **regs)
    mach.thread_set_state(pth, F.x86_THREAD_STATE64, state)
    mach.task_set_special_port(task, SP.BOOTSTRAP, fresh)
    child = mach.task_create(task, True)        # inherits the pages at the same addresses
    mach.task_set_special_port(task, SP.BOOTSTRAP, real_boot)
    cth = mach.thread_create(child)
    mach.thread_set_state(cth, F.x86_THREAD_STATE64,
                          mach.thread_get_state(pth, F.x86_THREAD_STATE64))
    mach.thread_resume(cth)
    assert mach.task_get_special_port(child, SP.BOOTSTRAP).port is fresh.port
    assert mach.task_get_special_port(task, SP.BOOTSTRAP).port is real_boot.port
    assert mach.thread_get_state(cth, F.x86_THREAD_STATE64).to_words() == state.to_words()
    assert run_state(cth) == ThreadRunState.RUNNING
    assert mach.vm_read(child, state.rip, 2) == b"\xeb\xfe"
