"""Teleport scenarios on an embedded cluster: a computation moved mid-run, the
memory following it (no residual dependency), and nodes failing (spec §1.4,
§0.5, V2.12, X4.11; DESIGN §3.3)."""

import threading

import pytest
from snippets import symbol
from waiting import wait_until

from normach import Cluster, KernError, KernReturn, mach

K = KernReturn

CHECKSUM = r"""
volatile u64 result, done, progress;
static unsigned char buf[1 << 18];
void _start(void) {
    u64 h = 1469598103934665603UL;
    for (int i = 0; i < (1 << 18); i++) buf[i] = (unsigned char)(i * 7 + 3);
    for (int round = 0; round < 150; round++) {
        for (int i = 0; i < (1 << 18); i++) { h ^= buf[i] + round; h *= 1099511628211UL; }
        buf[round * 997 % (1 << 18)] ^= (unsigned char)h;
        progress = round;
    }
    result = h; done = 1;
    for (;;) ;
}"""


def word(task, addr) -> int:
    return int.from_bytes(mach.vm_read(task, addr, 8), "little")


def settle(c):
    """Let every node's background XMM work (releases, pushes, retirement) finish."""
    for _ in range(3):
        for k in c.kernels:
            assert k.xmm.flush_background()


def test_N1_15_teleported_midrun_task_continues_with_the_same_checksum(c3, build_snippet):
    """A checksum stopped mid-run, teleported to node 2 and continued there by a thread
    made from its saved state gives the uninterrupted run's checksum."""
    prog = build_snippet("xmm_checksum", CHECKSUM)
    res, done, progress = symbol(prog, "result"), symbol(prog, "done"), symbol(prog, "progress")

    ref = c3.spawn(prog, node=0)
    wait_until(lambda: word(ref.task_handle, done) == 1, timeout=120)
    expected = word(ref.task_handle, res)
    mach.task_terminate(ref.task_handle)

    p = c3.spawn(prog, node=0)
    wait_until(lambda: word(p.task_handle, progress) >= 3, timeout=120)
    th = mach.task_threads(p.task_handle)[0]
    mach.thread_suspend(th)
    assert word(p.task_handle, done) == 0
    gp, fp = mach.thread_get_state(th, 4), mach.thread_get_state(th, 5)
    child = mach.norma_task_teleport(p.task_handle, True, 2)
    assert not p.task.active                                    # N1.15: the parent is gone
    assert mach.norma_port_location_hint(child, child) == 2
    assert mach.task_threads(child) == []                       # N1.17
    moved = mach.thread_create(child)
    mach.thread_set_state(moved, 4, gp)
    mach.thread_set_state(moved, 5, fp)
    mach.thread_resume(moved)
    wait_until(lambda: word(child, done) == 1, timeout=120)
    assert word(child, res) == expected
    mach.task_terminate(child)
    settle(c3)
    for k in c3.kernels:
        assert k.xmm.managers == {} and k.xmm.pagers == {}, \
            (leftovers(k), [x.xmm for x in c3.kernels], c3.kernels[2].xmm.pagers)


def leftovers(k):
    return [(m, m.obj.ref_count, m.dependents, m.copy, {o: (s.holders, s.busy) for o, s in
             m.pages.items()}) for m in k.xmm.managers.values()] + list(k.xmm.pagers.values())


def test_no_residual_dependency_after_teleport(c3):
    """After a teleport the memory only the child uses moves to the child's node in the
    background; then the old node holds nothing for it and the child reads it all."""
    t = c3.task_create(node=0)
    size = 64 * 4096
    a = mach.vm_allocate(t, 0, size, True)
    pattern = bytes(range(256)) * (size // 256)
    mach.vm_write(t, a, pattern)
    child = mach.norma_task_teleport(t, True, 1)
    settle(c3)
    k0, k1 = c3.kernels[0], c3.kernels[1]
    assert k0.xmm.managers == {} and k0.xmm.pagers == {}         # nothing held for it
    assert not any(o.pages for o in k0.vm_objects.values())
    assert k1.xmm.stats["adopted"] >= 1 and k1.xmm.pagers == {}
    assert mach.vm_read(child, a, size) == pattern
    faults = k1.stats.fault_restarts
    mach.vm_read(child, a, size)
    assert k1.stats.fault_restarts == faults                     # all local now
    mach.task_terminate(child)


def test_V2_12_memory_shared_with_a_third_task_keeps_its_manager(c3):
    """A region the parent shares with a task on node 1 stays shared with the teleported
    child (V2.12), so its manager stays; the private region moves to the child."""
    from normach import VMInherit
    t = c3.task_create(node=0)
    shared = mach.vm_allocate(t, 0, 4096, True)
    private = mach.vm_allocate(t, 0, 4096, True)
    mach.vm_inherit(t, shared, 4096, VMInherit.SHARE)
    mach.vm_inherit(t, private, 4096, VMInherit.NONE)
    mach.vm_write(t, shared, b"shared")
    mach.vm_write(t, private, b"private")
    third = mach.norma_task_create(t, True, 1)
    child = mach.norma_task_teleport(t, True, 2)
    settle(c3)
    mach.vm_write(third, shared, b"THIRD!")
    assert mach.vm_read(child, shared, 6) == b"THIRD!"
    mach.vm_write(child, shared, b"child!")
    assert mach.vm_read(third, shared, 6) == b"child!"
    assert mach.vm_read(child, private, 7) == b"private"
    assert len(c3.kernels[0].xmm.managers) == 1                  # only the shared region's
    mach.task_terminate(third)
    mach.task_terminate(child)
    settle(c3)
    for k in c3.kernels:
        assert k.xmm.managers == {}


def _silence(c, node: int) -> None:
    """Node `node` stops answering, as if it crashed."""
    c._endpoints[node].endpoint.close()


def test_X4_11_dirty_page_lost_with_its_node_is_a_memory_error():
    """A node holding the only copy of a written page dies: the others get
    KERN_MEMORY_ERROR for that page, never the old data; other pages still work."""
    c = Cluster(nodes=3, phys_bytes=16 << 20)
    try:
        t = c.task_create(node=0)
        a = mach.vm_allocate(t, 0, 2 * 4096, True)
        mach.vm_write(t, a, b"old")
        mach.vm_write(t, a + 4096, b"kept")
        clone = mach.norma_task_clone(t, True, 2)
        mach.vm_write(clone, a, b"new")                          # node 2 alone holds it
        _silence(c, 2)
        with pytest.raises(KernError) as e:
            mach.vm_read(t, a, 3)
        assert e.value.code == K.KERN_MEMORY_ERROR
        assert mach.vm_read(t, a + 4096, 4) == b"kept"
        with pytest.raises(KernError) as e:                      # and it stays so
            mach.vm_write(t, a, b"x")
        assert e.value.code == K.KERN_MEMORY_ERROR
    finally:
        c.close()


def test_0_5_teleport_to_a_node_that_is_down_leaves_the_parent_running():
    c = Cluster(nodes=3, phys_bytes=16 << 20)
    try:
        t = c.task_create(node=0)
        a = mach.vm_allocate(t, 0, 4096, True)
        mach.vm_write(t, a, b"still here")
        _silence(c, 2)
        wait_until(lambda: 2 in c.kernels[0].remote.down, timeout=30)
        with pytest.raises(KernError) as e:
            mach.norma_task_teleport(t, True, 2)
        assert e.value.code == K.KERN_NODE_DOWN
        assert mach.vm_read(t, a, 10) == b"still here"
        mach.vm_write(t, a, b"writable!!")
        assert mach.vm_read(t, a, 10) == b"writable!!"
        assert c.kernels[0].xmm.managers == {} or all(
            not m.clients for m in c.kernels[0].xmm.managers.values())
    finally:
        c.close()


def test_0_5_destination_dying_mid_transfer_leaves_the_parent_intact():
    """The child's node dies while it receives the address space: the teleport fails
    with KERN_NODE_DOWN, the parent keeps its memory and runs on; no child is left."""
    c = Cluster(nodes=3, phys_bytes=16 << 20)
    entered, test_over = threading.Event(), threading.Event()
    try:
        t = c.task_create(node=0)
        a = mach.vm_allocate(t, 0, 4096, True)
        mach.vm_write(t, a, b"intact")
        x2 = c.kernels[2].xmm
        serve = x2.handle

        def dying(sender, msg):                     # node 2 crashes while mapping the vector
            if msg.name == "xmm_vm_map":
                entered.set()
                _silence(c, 2)
                test_over.wait(60)                  # hung, as a dead node's handler
            return serve(sender, msg)
        x2.handle = dying
        with pytest.raises(KernError) as e:
            mach.norma_task_teleport(t, True, 2)
        assert entered.is_set()
        assert e.value.code == K.KERN_NODE_DOWN
        assert mach.vm_read(t, a, 6) == b"intact"
        assert c.kernels[0].tasks == {c.kernels[0].tasks.copy().pop()} and t.node == 0
        assert len(c.kernels[0].tasks) == 1                      # the parent, and no child
    finally:
        test_over.set()
        c.close()


def test_sequential_faults_read_ahead(c3):
    """Pages follow on demand, and a node reading sequentially gets its next pages in the
    same answer (read-ahead): far fewer requests than pages, the data exact."""
    t = c3.task_create(node=0)
    n = 64
    a = mach.vm_allocate(t, 0, n * 4096, True)
    data = bytes((i * 31 + 7) % 251 for i in range(n * 4096))
    mach.vm_write(t, a, data)
    clone = mach.norma_task_clone(t, True, 1)
    assert mach.vm_read(clone, a, n * 4096) == data
    (pager,) = c3.kernels[1].xmm.pagers.values()
    (mgr,) = c3.kernels[0].xmm.managers.values()
    assert mgr.stats["read_ahead"] > 0
    assert pager.stats["requests"] <= n // 4
    mach.task_terminate(clone)


def test_ps_shows_pages_resident_and_elsewhere(c3):
    """`normach ps`: a teleported child's pages are elsewhere while another node still
    shares the memory, resident once it touched them; pushed memory is resident at once."""
    from normach.cli.table import ps_table
    t = c3.task_create(node=0)
    n = 32
    shared = mach.vm_allocate(t, 0, n * 4096, True)
    mach.vm_write(t, shared, b"s" * n * 4096)
    third = mach.norma_task_clone(t, True, 2)               # keeps the memory's manager
    child = mach.norma_task_teleport(t, True, 1)
    settle(c3)
    row = next(r for r in c3.ps() if r["node"] == 1)
    assert (row["resident"], row["elsewhere"]) == (0, n)
    mach.vm_read(child, shared, n * 4096)
    row = next(r for r in c3.ps() if r["node"] == 1)
    assert (row["resident"], row["elsewhere"]) == (n, 0)
    assert [c.header for c in ps_table([row]).columns][-2:] == ["ELSEWHERE", "LOST"]
    mach.task_terminate(third)
    mach.task_terminate(child)

    t = c3.task_create(node=0)
    a = mach.vm_allocate(t, 0, n * 4096, True)
    mach.vm_write(t, a, b"p" * n * 4096)
    child = mach.norma_task_teleport(t, True, 1)
    settle(c3)                                              # the push has run
    row = next(r for r in c3.ps() if r["node"] == 1)
    assert (row["resident"], row["elsewhere"]) == (n, 0)
    mach.task_terminate(child)
