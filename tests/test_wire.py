"""vm_wire and thread_wire (mach_host 2636, 2637; OSF MK vm_map_wire / thread_wire).

Each test is named after the rule it checks: E3.1 (the target), V2.7 / V2.8 (wired
regions at task_create), or the behaviour.  The fixtures audit the kernel at the end
of every test, wired bookkeeping included (kern/audit.py audit_wired).
"""

import pytest

from normach import Cluster, KernReturn, VMProt, mach
from vmhelp import P, alloc, code_of, page_data

K = KernReturn
RW = VMProt.READ | VMProt.WRITE


def kmap(task):
    return task.port.kobject.map


def wired_count(task) -> int:
    return mach.vm_statistics(task)["wire_count"]


def held_frames(task) -> dict:
    """{page address: frame} of the pages vm_wire holds for `task`."""
    return {va: page.frame for va, page in kmap(task).wired.items()}


@pytest.fixture
def priv(cluster):
    return cluster.host_priv(0)


# -- the target and the arguments --------------------------------------------------------------

def test_E3_1_vm_wire_needs_host_priv(cluster, task):
    a = alloc(task, 1)
    assert code_of(mach.vm_wire, cluster.host(0), task, a, P, VMProt.READ) == K.KERN_INVALID_HOST
    assert code_of(mach.thread_wire, cluster.host(0), mach.thread_create(task), True) == \
        K.KERN_INVALID_HOST
    assert code_of(mach.vm_wire, task, task, a, P, VMProt.READ) == K.KERN_INVALID_HOST
    assert wired_count(task) == 0


def test_vm_wire_of_a_port_that_is_no_task_is_invalid_task(cluster, task, priv):
    a = alloc(task, 1)
    for not_a_task in (cluster.host(0), mach.thread_create(task), None):
        assert code_of(mach.vm_wire, priv, not_a_task, a, P, VMProt.READ) == K.KERN_INVALID_TASK
    dead = cluster.task_create(node=0)
    mach.task_terminate(dead)
    assert code_of(mach.vm_wire, priv, dead, a, P, VMProt.READ) == K.KERN_INVALID_TASK


@pytest.mark.parametrize("access", [8, 0x10, -1, 1 << 32])
def test_vm_wire_access_outside_vm_prot_all_is_invalid_argument(task, priv, access):
    a = alloc(task, 1)
    assert code_of(mach.vm_wire, priv, task, a, P, access) == K.KERN_INVALID_ARGUMENT


def test_vm_wire_of_a_hole_is_invalid_address_and_wires_nothing(task, priv):
    a = alloc(task, 3)
    mach.vm_deallocate(task, a + P, P)
    assert code_of(mach.vm_wire, priv, task, a, 3 * P, VMProt.READ) == K.KERN_INVALID_ADDRESS
    assert code_of(mach.vm_wire, priv, task, a + P, P, VMProt.READ) == K.KERN_INVALID_ADDRESS
    assert wired_count(task) == 0 and kmap(task).wired == {}


def test_vm_wire_access_beyond_the_protection_is_protection_failure(task, priv):
    a = alloc(task, 2)
    mach.vm_protect(task, a + P, P, False, VMProt.READ)
    assert code_of(mach.vm_wire, priv, task, a, 2 * P, RW) == K.KERN_PROTECTION_FAILURE
    mach.vm_protect(task, a, P, True, VMProt.READ)                 # max protection too
    assert code_of(mach.vm_wire, priv, task, a, P, VMProt.WRITE) == K.KERN_PROTECTION_FAILURE
    assert wired_count(task) == 0
    mach.vm_wire(priv, task, a, 2 * P, VMProt.READ)                # what it allows: wired
    assert wired_count(task) == 2


def test_vm_unwire_where_nothing_is_mapped_is_invalid_address(task, priv):
    a = alloc(task, 1)
    mach.vm_deallocate(task, a, P)
    assert code_of(mach.vm_wire, priv, task, a, P, VMProt.NONE) == K.KERN_INVALID_ADDRESS


def test_vm_wire_of_another_nodes_task_is_invalid_task(c3):
    t = c3.task_create(node=1)
    a = alloc(t, 1)
    assert code_of(mach.vm_wire, c3.host_priv(0), t, a, P, VMProt.READ) == K.KERN_INVALID_TASK
    mach.vm_wire(c3.host_priv(1), t, a, P, VMProt.READ)            # its own node's host_priv
    assert wired_count(t) == 1


# -- what wiring does ------------------------------------------------------------------------

def test_vm_wire_faults_the_range_in_and_counts_it(task, priv):
    a = alloc(task, 4)                                   # never touched: nothing resident
    mach.vm_wire(priv, task, a, 4 * P, RW)
    assert wired_count(task) == 4
    assert sorted(kmap(task).wired) == [a + i * P for i in range(4)]
    assert all(p.wired == 1 for p in kmap(task).wired.values())


def test_vm_wire_nests_and_vm_prot_none_takes_one_wiring_off(task, priv):
    a = alloc(task, 4)
    mach.vm_wire(priv, task, a, 4 * P, VMProt.READ)
    mach.vm_wire(priv, task, a + P, P, VMProt.READ)
    mach.vm_wire(priv, task, a, 4 * P, VMProt.NONE)
    assert sorted(kmap(task).wired) == [a + P]
    mach.vm_wire(priv, task, a, 4 * P, VMProt.NONE)
    assert wired_count(task) == 0
    mach.vm_wire(priv, task, a, 4 * P, VMProt.NONE)              # not wired: passed over
    assert [r.size for r in _regions(task, a, 4)] == [P, P, 2 * P]   # entries as clipped


def _regions(task, a, n):
    out, addr = [], a
    while addr < a + n * P:
        r = mach.vm_region(task, addr)
        out.append(r)
        addr = r.address + r.size
    return out


def test_vm_deallocate_of_a_wired_range_unwires_it(cluster, task, priv):
    a = alloc(task, 4, "w")
    mach.vm_wire(priv, task, a, 4 * P, RW)
    mach.vm_deallocate(task, a + P, 2 * P)
    assert sorted(kmap(task).wired) == [a, a + 3 * P]
    mach.vm_deallocate(task, a, 4 * P)
    assert wired_count(task) == 0 and cluster.kernel(0).phys.user_wired == 0


def test_task_terminate_unwires_the_tasks_memory(cluster, priv):
    t = cluster.task_create(node=0)
    mach.vm_wire(priv, t, alloc(t, 3), 3 * P, RW)
    assert cluster.kernel(0).phys.user_wired == 3
    mach.task_terminate(t)
    assert cluster.kernel(0).phys.user_wired == 0
    assert mach.vm_statistics(cluster.task_create(node=0))["wire_count"] == 0


def test_wired_pages_are_not_evicted_under_pageout_pressure():
    """48 frames, 8 of them wired; 80 more pages written: pageout runs and takes
    unwired pages, never the wired ones (same frames, same contents, no page-in)."""
    with Cluster(nodes=1, phys_bytes=48 * P) as c:
        t = c.task_create(node=0)
        a = alloc(t, 8, "wired")
        mach.vm_wire(c.host_priv(0), t, a, 8 * P, RW)
        frames = held_frames(t)
        b = alloc(t, 80, "ballast")                       # every write of it needs a frame
        for i in range(80):
            mach.vm_write(t, b + i * P, page_data("again", i))
        stats = mach.vm_statistics(t)
        assert stats["pageouts"] > 0
        phys = c.kernel(0).phys
        assert held_frames(t) == frames
        assert all(phys.pages[f].object.pages.get(phys.pages[f].offset) is phys.pages[f]
                   for f in frames.values())
        pageins = stats["pageins"]
        for i in range(8):
            assert mach.vm_read(t, a + i * P, P) == page_data("wired", i)
        assert mach.vm_statistics(t)["pageins"] == pageins          # never left memory
        assert c.audit() == []


def test_vm_wire_beyond_the_nodes_limit_is_resource_shortage():
    """param.VM_WIRE_MAX_FRACTION of a node's frames, summed over its tasks."""
    from normach import param
    with Cluster(nodes=1, phys_bytes=64 * P) as c:
        priv, limit = c.host_priv(0), int(64 * param.VM_WIRE_MAX_FRACTION)
        t, u = c.task_create(node=0), c.task_create(node=0)
        a, b = alloc(t, limit - 2), alloc(u, 4)
        mach.vm_wire(priv, t, a, (limit - 2) * P, VMProt.READ)
        assert code_of(mach.vm_wire, priv, u, b, 4 * P, VMProt.READ) == K.KERN_RESOURCE_SHORTAGE
        assert wired_count(u) == limit - 2                       # nothing more was wired
        mach.vm_wire(priv, u, b, 2 * P, VMProt.READ)              # up to the limit: allowed
        mach.vm_wire(priv, t, a, P, VMProt.READ)                  # nesting costs no page
        assert c.kernel(0).phys.user_wired == limit
        assert c.audit() == []


# -- wired memory and task_create (V2.7, V2.8) -----------------------------------------------

def test_V2_8_wiring_is_not_inherited(task, priv):
    a = alloc(task, 2, "p")
    mach.vm_wire(priv, task, a, 2 * P, RW)
    child = mach.task_create(task, True)
    assert kmap(child).wired == {} and all(e.wired_count == 0 for e in kmap(child).entries)
    assert mach.vm_read(child, a, 2 * P) == page_data("p", 0) + page_data("p", 1)


def test_V2_7_a_wired_copy_region_is_copied_in_full_and_stays_in_place(task, priv):
    """The child gets its snapshot at once; the parent's wired pages are not made
    copy-on-write: they keep their frames and stay writable."""
    a = alloc(task, 2, "before")
    mach.vm_wire(priv, task, a, 2 * P, RW)
    frames = held_frames(task)
    child = mach.task_create(task, True)
    pmap = kmap(task).pmap.entries
    assert all(pmap[va >> 12][1] & VMProt.WRITE for va in frames)   # still writable
    mach.vm_write(task, a, page_data("after", 0))
    assert held_frames(task) == frames
    assert mach.vm_read(child, a, P) == page_data("before", 0)
    assert mach.vm_read(task, a, P) == page_data("after", 0)


def test_a_wired_page_copied_up_by_a_write_moves_its_hold_with_it(task, priv):
    """Wiring a read-only copy-on-write range holds the page it shares (a wiring faults
    with the range's protection, as Mach's); once the range is made writable and
    written, the task's own copy is the page held."""
    a = alloc(task, 1, "shared")
    child = mach.task_create(task, True)
    mach.vm_protect(child, a, P, False, VMProt.READ)
    mach.vm_wire(priv, child, a, P, VMProt.READ)
    shared = kmap(child).wired[a]
    mach.vm_protect(child, a, P, False, RW)
    mach.vm_write(child, a, b"child")
    own = kmap(child).wired[a]
    assert own is not shared and own.wired == 1 and shared.wired == 0
    assert mach.vm_read(task, a, 5) == page_data("shared", 0)[:5]


# -- thread_wire ------------------------------------------------------------------------------

def test_thread_wire_marks_the_thread_vm_privileged(task, priv):
    th = mach.thread_create(task)
    kth = th.port.kobject
    mach.thread_wire(priv, th, True)
    assert kth.vm_privilege and "wired" in repr(kth)
    mach.thread_wire(priv, th, False)
    assert not kth.vm_privilege


def test_thread_wire_of_a_port_that_is_no_live_thread_is_invalid_argument(cluster, task, priv):
    th = mach.thread_create(task)
    mach.thread_terminate(th)
    for bad in (th, task, None):
        assert code_of(mach.thread_wire, priv, bad, True) == K.KERN_INVALID_ARGUMENT
