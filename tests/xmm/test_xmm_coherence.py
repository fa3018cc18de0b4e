"""XMM shared virtual memory coherence across nodes (spec §4, X4.1-X4.27).

Three tasks on three nodes share one region (a task on node 0 and its clones on
nodes 1 and 2, V2.11).  mach.vm_read/vm_write fault through each task's own node
exactly as a CPU would, so the coherence protocol is driven by ordinary memory
accesses; the state each test asserts on is the managers' per-page holders
(`Manager.pages[off].holders`), each node's XmmPager (`.access`, `.obj.pages`)
and the cross-node audit (`Cluster.audit`, which includes audit_xmm).

The acceptance test (`test_X4_coherence_random_model`) drives a seeded random
sequence of reads and writes (unaligned, page-spanning) against a bytearray
reference model with an audit after every step, then a concurrent phase of
read-modify-write operations under per-page locks.
"""

from __future__ import annotations

import collections
import contextlib
import random
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from waiting import blocked_in, wait_until

from normach import Cluster, KernError, KernReturn, VMInherit, mach
from normach.kern.task import task_terminate

K = KernReturn
PAGE = 4096
NPAGES = 8
READ, RW = 1, 3


# -- helpers ------------------------------------------------------------------------------

def settle(c):
    """Let every node's background XMM work (releases, retirement) finish."""
    for _ in range(2):
        for k in c.kernels:
            assert k.xmm.flush_background()


def terminate_all(c):
    for k in c.kernels:
        with k.lock:
            for t in sorted(k.tasks, key=lambda t: t.id):
                if t.active:
                    task_terminate(t)


def shutdown(c):
    """Terminate every task, drain the background jobs, then close (no release RPC is
    left in flight while the endpoints close).  Returns the audit of the quiet cluster."""
    terminate_all(c)
    settle(c)
    problems = c.audit()
    c.close()
    return problems


@contextlib.contextmanager
def own_cluster(nodes=3, phys_bytes=16 << 20):
    """A cluster for a test that does its own final audit (tests that force races or
    memory pressure check the state themselves before closing)."""
    c = Cluster(nodes=nodes, phys_bytes=phys_bytes)
    try:
        yield c
    finally:
        shutdown(c)


@pytest.fixture
def c3():
    c = Cluster(nodes=3, phys_bytes=16 << 20)
    try:
        yield c
        problems = c.audit()
    finally:
        problems_end = shutdown(c)
    assert problems == [], "\n".join(problems)
    assert problems_end == [], "\n".join(problems_end)


def share3(c, npages=NPAGES, init=None):
    """A task on node 0 with an npages region, cloned onto nodes 1 and 2.
    Returns ([t0, t1, t2], address, manager)."""
    t0 = c.task_create(node=0)
    a = mach.vm_allocate(t0, 0, npages * PAGE, True)
    if init is not None:
        mach.vm_write(t0, a, init)
    t1 = mach.norma_task_clone(t0, True, 1)
    t2 = mach.norma_task_clone(t0, True, 2)
    assert (t1.node, t2.node) == (1, 2)
    return [t0, t1, t2], a, manager(c)


def manager(c, node=0):
    mgrs = list(c.kernels[node].xmm.managers.values())
    assert len(mgrs) == 1, mgrs
    return mgrs[0]


def holders(mgr, off):
    """{node: access} the manager records for page `off`."""
    st_ = mgr.pages.get(off)
    return {} if st_ is None else {n: held[0] for n, held in st_.holders.items()}


def pager(c, node, mgr):
    return c.kernels[node].xmm.pagers.get(mgr.xid)


def node_access(c, node, mgr, off):
    """The access node `node` holds on page `off` (0: not resident)."""
    k = c.kernels[node]
    with k.lock:
        p = k.xmm.pagers.get(mgr.xid)
        if p is None or p.obj is None or off not in p.obj.pages:
            return 0
        return p.granted(p.obj, off)


def resident_frame(c, node, mgr, off):
    k = c.kernels[node]
    with k.lock:
        p = k.xmm.pagers[mgr.xid]
        page = p.obj.pages.get(off)
        return None if page is None else (page, page.frame, bytes(k.phys.frame_view(page.frame)))


def word(task, addr):
    return int.from_bytes(mach.vm_read(task, addr, 8), "little")


def put_word(task, addr, v):
    mach.vm_write(task, addr, v.to_bytes(8, "little"))


def check_resident(c, mgr, model, base_off=0):
    """Every page a node holds with some access has the current content (the model):
    no node can read stale data.  Also X4.9 (no data without access) and that the
    manager knows at least the access each node holds."""
    errs = []
    ks = sorted(c.kernels, key=lambda k: k.node)
    for k in ks:
        k.lock.acquire()
    try:
        for k in ks:
            p = k.xmm.pagers.get(mgr.xid)
            if p is None or p.obj is None:
                continue
            for off, page in p.obj.pages.items():
                acc = p.granted(p.obj, off)
                if not acc:
                    errs.append(f"node {k.node} page {off:#x}: resident with access 0 (X4.9)")
                    continue
                if off not in mgr.pages and k.node == mgr.node and p.initial:
                    known = RW        # held since the export; the manager learns it lazily
                else:
                    known = holders(mgr, off).get(k.node, 0)
                if acc & ~known:
                    errs.append(f"node {k.node} page {off:#x}: holds {acc}, manager knows {known}")
                i = off - base_off
                want = bytes(model[i:i + PAGE])
                if bytes(k.phys.frame_view(page.frame)) != want:
                    errs.append(f"node {k.node} page {off:#x} (access {acc}): stale content")
    finally:
        for k in reversed(ks):
            k.lock.release()
    return errs


def run_threads(fns, timeout=120.0):
    """Run each fn in its own thread; re-raise the first exception; fail on a hang."""
    errors = []

    def wrap(fn):
        def run():
            try:
                fn()
            except BaseException as e:                      # noqa: BLE001
                errors.append(e)
        return run

    threads = [threading.Thread(target=wrap(fn), daemon=True) for fn in fns]
    for th in threads:
        th.start()
    end = time.monotonic() + timeout
    for th in threads:
        th.join(max(0.0, end - time.monotonic()))
    assert not any(th.is_alive() for th in threads), "threads hung (deadlock?)"
    if errors:
        raise errors[0]


def random_span(rnd, size):
    """(offset, length) within [0, size): page-aligned, page-spanning or arbitrary."""
    r = rnd.random()
    if r < 0.25:
        off = rnd.randrange(size // PAGE) * PAGE
        n = rnd.choice([1, 8, 100, PAGE])
    elif r < 0.55:                                           # across a page boundary
        b = rnd.randrange(1, size // PAGE) * PAGE
        off = b - rnd.randint(1, 200)
        n = (b - off) + rnd.randint(1, PAGE + 200)
    elif r < 0.6:
        off, n = 0, size                                     # the whole region
    else:
        off = rnd.randrange(size)
        n = rnd.randint(1, 300)
    return off, min(n, size - off)


# -- the acceptance test --------------------------------------------------------------------

STEPS = 450


def random_model(c, tasks, a, mgr, npages, steps, seed, write_limit=None, init=b""):
    """`steps` random reads/writes by random tasks, checked against a reference model,
    with the cross-node audit after every step.  write_limit {task index: bytes}: that
    task writes only below it; init: what the region starts with.  Returns the model."""
    rnd = random.Random(seed)
    size = npages * PAGE
    model = bytearray(size)
    model[:len(init)] = init
    nreads = nwrites = 0
    for step in range(steps):
        ti = rnd.randrange(len(tasks))
        limit = (write_limit or {}).get(ti, size)
        if rnd.random() < 0.5:
            off, n = random_span(rnd, limit)
            data = rnd.randbytes(n)
            mach.vm_write(tasks[ti], a + off, data)
            model[off:off + n] = data
            nwrites += 1
            what = f"step {step}: node {tasks[ti].node} wrote [{off:#x}, +{n:#x})"
        else:
            off, n = random_span(rnd, size)
            got = mach.vm_read(tasks[ti], a + off, n)
            assert got == bytes(model[off:off + n]), \
                f"step {step}: node {tasks[ti].node} read [{off:#x}, +{n:#x}): stale data"
            nreads += 1
            what = f"step {step}: node {tasks[ti].node} read [{off:#x}, +{n:#x})"
        problems = c.audit()
        assert problems == [], what + "\n" + "\n".join(problems)
        errs = check_resident(c, mgr, model)
        assert errs == [], what + "\n" + "\n".join(errs)
    assert nreads > steps // 4 and nwrites > steps // 4
    for t in tasks:                                          # every node sees the model
        assert mach.vm_read(t, a, size) == bytes(model)
    return model


def test_X4_coherence_random_model(c3):
    tasks, a, mgr = share3(c3)
    size = NPAGES * PAGE
    model = random_model(c3, tasks, a, mgr, NPAGES, STEPS, 0x5EED_4)
    assert mgr.stats["writes"] > 50 and mgr.stats["locks"] > 50   # the protocol really ran

    # concurrent phase: read-modify-write of one counter per page under a per-page lock
    locks = [threading.Lock() for _ in range(NPAGES)]
    where = [p * PAGE + 1000 + 3 * p for p in range(NPAGES)]      # unaligned, inside the page
    for p in range(NPAGES):
        put_word(tasks[p % 3], a + where[p], 0)
        model[where[p]:where[p] + 8] = bytes(8)
    done = [collections.Counter() for _ in range(3)]
    per_thread = 120

    def worker(i):
        r = random.Random(1000 + i)

        def run():
            for _ in range(per_thread):
                p = r.randrange(NPAGES)
                with locks[p]:
                    v = word(tasks[i], a + where[p])
                    put_word(tasks[i], a + where[p], v + 1)
                done[i][p] += 1
        return run

    run_threads([worker(i) for i in range(3)])
    total = sum(done, collections.Counter())
    assert sum(total.values()) == 3 * per_thread
    for p in range(NPAGES):
        model[where[p]:where[p] + 8] = total[p].to_bytes(8, "little")
    for t in tasks:
        for p in range(NPAGES):
            assert word(t, a + where[p]) == total[p], f"page {p} counter on node {t.node}"
        assert mach.vm_read(t, a, size) == bytes(model)      # nothing else was disturbed
    assert check_resident(c3, mgr, model) == []
    assert c3.audit() == []


OPS = st.lists(st.tuples(st.integers(0, 2), st.booleans(), st.integers(0, 4 * PAGE - 1),
                         st.integers(1, PAGE + 64), st.integers(0, 255)),
               min_size=1, max_size=25)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_X4_coherence_hypothesis(ops):
    c = Cluster(nodes=3, phys_bytes=16 << 20)
    try:
        tasks, a, mgr = share3(c, npages=4)
        size = 4 * PAGE
        model = bytearray(size)
        for ti, write, off, n, byte in ops:
            n = min(n, size - off)
            if write:
                data = bytes((byte + j) & 0xFF for j in range(n))
                mach.vm_write(tasks[ti], a + off, data)
                model[off:off + n] = data
            else:
                assert mach.vm_read(tasks[ti], a + off, n) == bytes(model[off:off + n])
            assert c.audit() == []
            assert check_resident(c, mgr, model) == []
        for t in tasks:
            assert mach.vm_read(t, a, size) == bytes(model)
    finally:
        problems = shutdown(c)
    assert problems == []


def test_X4_19_coherence_under_memory_pressure():
    """Pageout on every node (48 frames per node, 64 shared pages): clean read copies
    are dropped, the manager node's written pages go back to its manager (X4.19), and
    every read still sees the latest write.  (Nodes 1 and 2 write only the first 16
    pages: see test_X4_19_remote_writer_pages_out.)"""
    c = Cluster(nodes=3, phys_bytes=48 * PAGE)
    try:
        tasks, a, mgr = share3(c, npages=64)
        evicted = [pager(c, n, mgr).stats["pages_in"] for n in range(3)]
        random_model(c, tasks, a, mgr, 64, 250, 0xF00D, write_limit={1: 16 * PAGE, 2: 16 * PAGE})
        assert c.kernels[0].stats.pageouts > 0               # the pageout path really ran
        for n in (1, 2):                                      # and dropped clean copies
            p = pager(c, n, mgr)
            assert p.stats["pages_in"] > len(p.obj.pages) + evicted[n]
        assert c.audit() == []
    finally:
        problems = shutdown(c)
    assert problems == []


# -- the invariants (X4.6-X4.11) ---------------------------------------------------------------

def test_X4_6_X4_7_many_readers_or_one_writer(c3):
    tasks, a, mgr = share3(c3, init=b"A" * PAGE)
    for off in (0, 3 * PAGE):                     # written before the clone / never touched
        want = b"AAAA" if off == 0 else bytes(4)
        for t in tasks:
            assert mach.vm_read(t, a + off, 4) == want
        assert holders(mgr, off) == {0: READ, 1: READ, 2: READ}          # X4.7
        assert [node_access(c3, n, mgr, off) for n in range(3)] == [READ, READ, READ]
        assert c3.audit() == []
        for w in (1, 2, 0, 1):
            mach.vm_write(tasks[w], a + off + 10, bytes([w + 0x30]))
            assert holders(mgr, off) == {w: RW}                          # X4.6
            for n in range(3):
                p = pager(c3, n, mgr)
                if n == w:
                    assert node_access(c3, n, mgr, off) == RW and p.access[off] == RW
                else:
                    assert node_access(c3, n, mgr, off) == 0
                    assert off not in p.obj.pages and off not in p.access
            assert c3.audit() == []
        for t in tasks:                                                  # readers again
            assert mach.vm_read(t, a + off + 10, 1) == b"1"
        assert holders(mgr, off) == {0: READ, 1: READ, 2: READ}
    assert c3.audit() == []


def test_X4_9_no_page_held_without_access(c3):
    tasks, a, mgr = share3(c3)
    rnd = random.Random(9)
    for _ in range(120):
        t = rnd.choice(tasks)
        off = rnd.randrange(NPAGES) * PAGE
        if rnd.random() < 0.5:
            mach.vm_write(t, a + off, b"w")
        else:
            mach.vm_read(t, a + off, 1)
        for n in range(3):
            k = c3.kernels[n]
            with k.lock:
                p = k.xmm.pagers[mgr.xid]
                for o in p.obj.pages:
                    assert p.granted(p.obj, o) in (READ, RW), f"node {n} page {o:#x}"
                for o, acc in p.access.items():
                    assert acc in (READ, RW), f"node {n} page {o:#x}: access {acc} recorded"
    assert c3.audit() == []


@pytest.mark.parametrize("settled", [False, True], ids=["at-once", "after-release"])
@pytest.mark.parametrize("writer", [0, 1, 2])
def test_X4_11_written_data_survives_the_writers_task(c3, writer, settled):
    """The writer's task terminates while its node holds the only up-to-date copies
    (every page written there, most never read elsewhere): the data reaches the others."""
    tasks, a, mgr = share3(c3, init=b"old!" * (PAGE // 4))
    others = [t for i, t in enumerate(tasks) if i != writer]
    mach.vm_read(others[0], a, 4)                                 # a reader to flush
    for i in range(NPAGES):
        mach.vm_write(tasks[writer], a + i * PAGE + 5, f"w{writer}p{i}".encode())
    assert holders(mgr, 0) == {writer: RW}
    mach.task_terminate(tasks[writer])
    if settled:
        settle(c3)
    for t in others:
        for i in range(NPAGES):
            assert mach.vm_read(t, a + i * PAGE + 5, 4) == f"w{writer}p{i}".encode()
        assert mach.vm_read(t, a, 5) == b"old!o"
    settle(c3)
    if writer != 0:                          # (node 0's object is the manager's own: it stays)
        for i in range(NPAGES):
            assert writer not in holders(mgr, i * PAGE)
        assert mgr.xid not in c3.kernels[writer].xmm.pagers        # its node let go
        assert writer not in mgr.clients
    mach.vm_write(others[0], a, b"new")
    assert mach.vm_read(others[1], a, 4) == b"new!"
    assert c3.audit() == []


def test_X4_10_X4_11_read_copies_equal_the_writers_data(c3):
    """A demoted writer's data becomes the page's content at the manager; every
    reader's copy equals it (the audit's X4.11 check, asserted directly)."""
    tasks, a, mgr = share3(c3)
    data = bytes(random.Random(10).randbytes(PAGE))
    mach.vm_write(tasks[2], a + PAGE, data)
    for n in range(3):
        assert mach.vm_read(tasks[n], a + PAGE, PAGE) == data
    assert mgr.store.get(PAGE) == data
    for n in range(3):
        page, _frame, content = resident_frame(c3, n, mgr, PAGE)
        assert content == data and not page.dirty                # clean read copies
    assert c3.audit() == []


# -- fault handling (X4.12-X4.15) -------------------------------------------------------------

def test_X4_12_read_demotes_the_writer_and_sees_its_data(c3):
    tasks, a, mgr = share3(c3)
    off = 2 * PAGE
    mach.vm_write(tasks[1], a + off, b"written on 1")
    assert holders(mgr, off) == {1: RW}
    locks = mgr.stats["locks"]
    assert mach.vm_read(tasks[2], a + off, 12) == b"written on 1"
    assert holders(mgr, off) == {1: READ, 2: READ}
    assert node_access(c3, 1, mgr, off) == READ                   # kept, read-only
    assert mgr.stats["locks"] == locks + 1
    assert mgr.store[off][:12] == b"written on 1"
    p1 = pager(c3, 1, mgr)
    req = p1.stats["requests"]
    assert mach.vm_read(tasks[1], a + off, 12) == b"written on 1"
    assert p1.stats["requests"] == req                            # still a reader: no request
    mach.vm_write(tasks[1], a + off, b"W")                        # writing again asks
    assert p1.stats["requests"] == req + 1
    assert holders(mgr, off) == {1: RW}
    assert mach.vm_read(tasks[0], a + off, 12) == b"Written on 1"
    assert c3.audit() == []


def test_X4_12_reads_while_another_node_writes(c3):
    """Node 1 rewrites a whole page over and over (each time one byte value); nodes 0
    and 2 read it concurrently: every read is one of node 1's writes, never a torn or
    older page than one already seen."""
    tasks, a, mgr = share3(c3)
    off, rounds = 5 * PAGE, 150
    seen = {0: [], 2: []}

    def writer():
        for v in range(1, rounds + 1):
            mach.vm_write(tasks[1], a + off, bytes([v]) * PAGE)

    def reader(n):
        def run():
            last = 0
            while last < rounds:
                page = mach.vm_read(tasks[n], a + off, PAGE)
                assert page == bytes([page[0]]) * PAGE, f"node {n}: torn page"
                assert page[0] >= last, f"node {n}: saw {page[0]} after {last}"
                last = page[0]
                seen[n].append(last)
        return run

    run_threads([writer, reader(0), reader(2)])
    for n in (0, 2):
        assert seen[n][-1] == rounds
    assert holders(mgr, off)[1] & READ
    assert c3.audit() == []


def test_X4_13_write_fault_without_data_flushes_every_holder(c3):
    tasks, a, mgr = share3(c3, init=bytes(range(256)) * (NPAGES * PAGE // 256))
    off = 3 * PAGE
    orig = mach.vm_read(tasks[0], a + off, PAGE)
    mach.vm_read(tasks[1], a + off, 1)
    assert holders(mgr, off) == {0: READ, 1: READ}
    assert node_access(c3, 2, mgr, off) == 0
    locks = mgr.stats["locks"]
    mach.vm_write(tasks[2], a + off + 100, b"\xff\xfe")           # node 2 has no data
    assert mgr.stats["locks"] == locks + 2                        # both readers flushed
    assert holders(mgr, off) == {2: RW}
    assert node_access(c3, 0, mgr, off) == 0 and node_access(c3, 1, mgr, off) == 0
    want = orig[:100] + b"\xff\xfe" + orig[102:]
    assert resident_frame(c3, 2, mgr, off)[2] == want             # it got the page's data
    # a writer elsewhere: its dirty data goes to the new writer (X4.13)
    mach.vm_write(tasks[0], a + off + 200, b"zero")
    assert holders(mgr, off) == {0: RW}
    mach.vm_write(tasks[1], a + off + 300, b"one")                # node 1 has no data
    assert holders(mgr, off) == {1: RW}
    want = want[:200] + b"zero" + want[204:300] + b"one" + want[303:]
    assert off not in mgr.store                                   # the writer's copy is the only one
    for t in tasks:
        assert mach.vm_read(t, a + off, PAGE) == want
    assert c3.audit() == []


def test_X4_14_upgrade_keeps_the_readers_data(c3):
    tasks, a, mgr = share3(c3, init=b"R" * (NPAGES * PAGE))
    off = PAGE
    for t in tasks:
        mach.vm_read(t, a + off, 1)
    page, frame, content = resident_frame(c3, 1, mgr, off)
    p1 = pager(c3, 1, mgr)
    pages_in, reads, writes = p1.stats["pages_in"], mgr.stats["reads"], mgr.stats["writes"]
    mach.vm_write(tasks[1], a + off + 7, b"u")
    page2, frame2, content2 = resident_frame(c3, 1, mgr, off)
    assert page2 is page and frame2 == frame                      # same page, same frame
    assert content2 == content[:7] + b"u" + content[8:]
    assert p1.stats["pages_in"] == pages_in                       # no data transfer
    assert (mgr.stats["reads"], mgr.stats["writes"]) == (reads, writes + 1)
    assert holders(mgr, off) == {1: RW}                           # the others flushed
    assert node_access(c3, 0, mgr, off) == 0 and node_access(c3, 2, mgr, off) == 0
    assert mach.vm_read(tasks[2], a + off + 6, 3) == b"RuR"
    assert c3.audit() == []


@pytest.mark.parametrize("nthreads", [3, 6])
def test_X4_requests_for_one_page_are_serialised(c3, nthreads):
    """Many threads on three nodes write the same page at once: each its own slot
    without any lock (false sharing) and one shared counter under a lock.  Every
    thread always reads back its own last write, sees others' slots only grow, and
    at the end every node sees every slot's last value and the exact counter."""
    tasks, a, mgr = share3(c3)
    off, rounds = 6 * PAGE, 60
    counter = a + off + 4000
    lock = threading.Lock()
    restarts = sum(k.stats.fault_restarts for k in c3.kernels)

    def slot(i):
        return a + off + 16 + 64 * i

    def worker(i):
        t = tasks[i % 3]

        def run():
            last = [0] * nthreads
            for v in range(1, rounds + 1):
                put_word(t, slot(i), v)
                page = mach.vm_read(t, a + off, PAGE)
                vals = [int.from_bytes(page[16 + 64 * j:24 + 64 * j], "little")
                        for j in range(nthreads)]
                assert vals[i] == v, f"thread {i}: wrote {v}, read back {vals[i]}"
                for j in range(nthreads):
                    assert vals[j] >= last[j], f"thread {i}: slot {j} went back"
                last = vals
                with lock:
                    put_word(t, counter, word(t, counter) + 1)
        return run

    run_threads([worker(i) for i in range(nthreads)])
    for t in tasks:
        for i in range(nthreads):
            assert word(t, slot(i)) == rounds
        assert word(t, counter) == nthreads * rounds
    st_ = mgr.pages[off]
    assert not st_.busy
    assert mgr.stats["writes"] >= rounds                          # the page really moved
    assert sum(k.stats.fault_restarts for k in c3.kernels) > restarts
    assert c3.audit() == []


# -- copies (X4.20-X4.23) ------------------------------------------------------------------------

def _pattern(tag, i):
    return f"{tag}:{i}:".encode().ljust(16, b".")


@pytest.mark.parametrize("src", [0, 1], ids=["from-manager-node", "from-clone"])
@pytest.mark.parametrize("snap_node", [0, 1, 2])
def test_X4_20_X4_22_snapshot_sees_the_values_at_creation(c3, src, snap_node):
    tasks, a, mgr = share3(c3, npages=4)
    mach.vm_inherit(tasks[0], a, 4 * PAGE, VMInherit.COPY)
    for i in range(4):
        mach.vm_write(tasks[1], a + i * PAGE, _pattern("before", i))
    pushes, copies = mgr.stats["pushes"], mgr.stats["copies"]
    snap = mach.norma_task_create(tasks[src], True, snap_node)
    assert snap.node == snap_node
    assert mgr.stats["copies"] == copies + 1                      # X4.20: asked the manager
    assert holders(mgr, 0).get(1, 0) != RW                        # X4.21: writer demoted
    mach.vm_write(tasks[1], a, _pattern("after", 0))              # clone writes
    mach.vm_write(tasks[0], a + PAGE, _pattern("after", 1))       # manager node writes
    mach.vm_write(tasks[2], a + 2 * PAGE, _pattern("after", 2))   # third node writes
    assert mgr.stats["pushes"] == pushes + 3                      # X4.22: pushed before writing
    for i in range(4):
        assert mach.vm_read(snap, a + i * PAGE, 16) == _pattern("before", i), f"page {i}"
    for t in tasks:
        for i in range(3):
            assert mach.vm_read(t, a + i * PAGE, 16) == _pattern("after", i)
        assert mach.vm_read(t, a + 3 * PAGE, 16) == _pattern("before", 3)
    mach.vm_write(tasks[2], a, _pattern("again", 0))              # already pushed: no push
    assert mgr.stats["pushes"] == pushes + 3
    assert mach.vm_read(snap, a, 16) == _pattern("before", 0)
    mach.vm_write(snap, a + 3 * PAGE, _pattern("snap", 3))        # the snapshot is private
    for t in tasks:
        assert mach.vm_read(t, a + 3 * PAGE, 16) == _pattern("before", 3)
    mach.vm_write(tasks[0], a + 3 * PAGE, _pattern("after", 3))
    assert mach.vm_read(snap, a + 3 * PAGE, 16) == _pattern("snap", 3)
    assert c3.audit() == []


def test_X4_20_successive_snapshots_each_keep_their_moment(c3):
    tasks, a, mgr = share3(c3, npages=2)
    snaps = []
    for gen in range(4):
        mach.vm_write(tasks[gen % 3], a, _pattern("gen", gen))
        mach.vm_write(tasks[(gen + 1) % 3], a + PAGE, _pattern("gen", gen))
        snaps.append(mach.norma_task_create(tasks[gen % 2], True, 2 - gen % 3))
    mach.vm_write(tasks[1], a, _pattern("last", 0))
    for gen, s in enumerate(snaps):
        assert mach.vm_read(s, a, 16) == _pattern("gen", gen), f"snapshot {gen}"
        assert mach.vm_read(s, a + PAGE, 16) == _pattern("gen", gen), f"snapshot {gen}"
    for t in tasks:
        assert mach.vm_read(t, a, 16) == _pattern("last", 0)
    assert mgr.stats["copies"] == 4
    assert c3.audit() == []


def test_X4_20_snapshot_unchanged_by_reads_made_before_the_writes(c3):
    """The snapshot reads a page through the original (it has no version of it yet),
    then the original is written: the snapshot keeps the old value."""
    tasks, a, _mgr = share3(c3, npages=2)
    mach.vm_write(tasks[2], a, b"v1")
    snap = mach.norma_task_create(tasks[0], True, 1)
    assert mach.vm_read(snap, a, 2) == b"v1"
    mach.vm_write(tasks[2], a, b"v2")
    mach.vm_write(tasks[1], a, b"v3")
    assert mach.vm_read(snap, a, 2) == b"v1"
    assert mach.vm_read(tasks[0], a, 2) == b"v3"
    assert c3.audit() == []


def test_X4_23_snapshot_reads_race_with_pushes(c3):
    """Node 1 keeps writing every page while the snapshot on node 2 reads them: the
    snapshot must only ever see the values at its creation (a read-through that
    finds the page pushed meanwhile must use the pushed copy)."""
    n = 6
    tasks, a, mgr = share3(c3, npages=n)
    for i in range(n):
        mach.vm_write(tasks[0], a + i * PAGE, _pattern("orig", i))
    snap = mach.norma_task_create(tasks[0], True, 2)
    pushes = mgr.stats["pushes"]
    stop = threading.Event()

    def writer():
        try:
            for r in range(40):
                for i in range(n):
                    mach.vm_write(tasks[1 + (r + i) % 2], a + i * PAGE, _pattern(f"w{r}", i))
        finally:
            stop.set()

    def reader():
        k = 0
        while not stop.is_set() or k < 3:
            for i in range(n):
                assert mach.vm_read(snap, a + i * PAGE, 16) == _pattern("orig", i), f"page {i}"
            k += 1

    run_threads([writer, reader])
    assert mgr.stats["pushes"] == pushes + n                      # each page pushed once
    for t in tasks:
        assert mach.vm_read(t, a, 16) == _pattern("w39", 0)
    assert c3.audit() == []


# -- life and death of the shared object (X4.26) --------------------------------------------------

ORDERS = [(0, 1, 2), (2, 1, 0), (1, 0, 2)]


@pytest.mark.parametrize("with_snapshot", [False, True], ids=["plain", "snapshot"])
@pytest.mark.parametrize("order", ORDERS, ids=lambda o: "".join(map(str, o)))
def test_X4_26_object_destroyed_with_its_last_user(c3, order, with_snapshot):
    tasks, a, _mgr = share3(c3, npages=4)
    for i in range(4):
        mach.vm_write(tasks[i % 3], a + i * PAGE, _pattern("x", i))
    snap = None
    if with_snapshot:
        snap = mach.norma_task_create(tasks[1], True, 2)
        mach.vm_write(tasks[0], a, _pattern("y", 0))
        assert mach.vm_read(snap, a, 16) == _pattern("x", 0)
    alive = list(range(3))
    for n in order[:-1]:                     # temporary termination disabled: data survives
        mach.task_terminate(tasks[n])
        alive.remove(n)
        settle(c3)
        for m_ in alive:
            assert mach.vm_read(tasks[m_], a + 3 * PAGE, 16) == _pattern("x", 3)
            assert mach.vm_read(tasks[m_], a + PAGE, 16) == _pattern("x", 1)
        assert c3.audit() == []
    mach.task_terminate(tasks[order[-1]])
    if snap is not None:
        settle(c3)
        assert mach.vm_read(snap, a, 16) == _pattern("x", 0)     # the snapshot outlives them
        assert mach.vm_read(snap, a + 2 * PAGE, 16) == _pattern("x", 2)
        mach.task_terminate(snap)
    settle(c3)
    for k in c3.kernels:
        assert k.xmm.managers == {}, f"node {k.node}: {k.xmm.managers}"
        assert k.xmm.pagers == {}, f"node {k.node}: {k.xmm.pagers}"
    assert c3.audit() == []


def test_X4_26_chain_of_clones_shares_one_manager(c3):
    """A clone of a clone (node 1 -> node 2) and a clone back onto the manager's node
    all use the single manager of the object (X4.3)."""
    t0 = c3.task_create(node=0)
    a = mach.vm_allocate(t0, 0, 2 * PAGE, True)
    mach.vm_write(t0, a, b"zero")
    t1 = mach.norma_task_clone(t0, True, 1)
    t2 = mach.norma_task_clone(t1, True, 2)
    t3 = mach.norma_task_clone(t2, True, 0)
    mgr = manager(c3)
    assert not c3.kernels[1].xmm.managers and not c3.kernels[2].xmm.managers
    for i, t in enumerate((t0, t1, t2, t3)):
        mach.vm_write(t, a + 4 + i, bytes([0x41 + i]))
    for t in (t0, t1, t2, t3):
        assert mach.vm_read(t, a, 8) == b"zeroABCD"
    assert set(holders(mgr, 0)) == {0, 1, 2}
    for t in (t0, t1, t2, t3):
        mach.task_terminate(t)
    settle(c3)
    assert all(not k.xmm.managers and not k.xmm.pagers for k in c3.kernels)
    assert c3.audit() == []


def test_X4_19_remote_writer_pages_out():
    """A clone on node 1 (48 frames) writes 64 pages of the shared region: a kernel
    paging out a written page returns it (X4.19); nothing fails and nothing is lost."""
    c = Cluster(nodes=2, phys_bytes=48 * PAGE)
    try:
        t0 = c.task_create(node=0)
        a = mach.vm_allocate(t0, 0, 64 * PAGE, True)
        t1 = mach.norma_task_clone(t0, True, 1)
        for i in range(64):
            mach.vm_write(t0, a + i * PAGE, b"a%02d" % i)        # fine on the manager's node
        for i in range(64):
            mach.vm_write(t1, a + i * PAGE, b"b%02d" % i)        # KERN_RESOURCE_SHORTAGE at 47
        for i in range(64):
            assert mach.vm_read(t0, a + i * PAGE, 3) == b"b%02d" % i
        assert c.audit() == []
    finally:
        problems = shutdown(c)
    assert problems == []


# -- crossing messages and late releases (X4.15, X4.11) -------------------------------------------

def test_X4_15_lock_crossing_its_grant_waits_for_it(c3):
    """Node 1's read is answered, but before node 1 installs the grant the manager
    already serves node 2's write and sends node 1 the lock revoking that grant.  The
    lock must apply to the grant (not to the state before it): afterwards node 1 holds
    nothing, node 2 is the only writer, and node 1 then reads node 2's data."""
    tasks, a, mgr = share3(c3, npages=2)
    mach.vm_write(tasks[0], a, b"old!")
    k1 = c3.kernels[1]
    x1 = k1.xmm
    answered, lock_arrived = threading.Event(), threading.Event()
    crossing = {}
    orig_request, orig_handle = x1.request, x1.handle

    def request(xid, offset, *args, **kw):          # hold the grant back (lock released)
        r = orig_request(xid, offset, *args, **kw)
        if offset == 0 and not answered.is_set():
            answered.set()
            k1.lock.release()
            try:
                assert lock_arrived.wait(5)
                wait_until(lambda: blocked_in(crossing["thread"], "lock"),
                           "the lock to wait for the grant")
            finally:
                k1.lock.acquire()
        return r

    def handle(sender, msg):
        if msg.name == "xmm_lock" and msg.offset == 0:
            with k1.lock:
                crossing["installed"] = x1.pagers[mgr.xid].installed.get(0, 0)
                crossing["seq"] = msg.seq
                crossing["thread"] = threading.current_thread()
            lock_arrived.set()
        return orig_handle(sender, msg)

    x1.request, x1.handle = request, handle
    got = {}

    def reader():
        got["r"] = mach.vm_read(tasks[1], a, 4)

    def writer():
        assert answered.wait(5)
        mach.vm_write(tasks[2], a, b"new!")

    run_threads([reader, writer])
    x1.request, x1.handle = orig_request, orig_handle
    assert x1.pagers[mgr.xid].stats.get("grants_missed", 0) == 0   # it waited for the grant
    assert crossing["installed"] < crossing["seq"]   # it really crossed its grant
    assert got["r"] in (b"old!", b"new!")
    assert holders(mgr, 0) == {2: RW}
    assert node_access(c3, 1, mgr, 0) == 0
    assert mach.vm_read(tasks[1], a, 4) == b"new!"
    assert c3.audit() == []


def _gate_release(c, node):
    """Delay node `node`'s background release (as a busy background thread would)."""
    x = c.kernels[node].xmm
    gate = threading.Event()
    orig = x._release

    def gated(*args):
        gate.wait(10)
        return orig(*args)

    x._release = gated
    return gate


def test_X4_11_late_release_keeps_the_new_objects_read_copies():
    """Node 2's task dies; its release is still queued when a new clone lands on node 2
    and reads pages.  The late release must not make the manager forget them: a later
    write elsewhere must flush them (else node 2 reads stale data)."""
    with own_cluster() as c3:
        _late_release_read_copies(c3)


def _late_release_read_copies(c3):
    tasks, a, mgr = share3(c3, npages=4)
    mach.vm_write(tasks[2], a, b"old0")
    gate = _gate_release(c3, 2)
    try:
        mach.task_terminate(tasks[2])
        t2b = mach.norma_task_clone(tasks[0], True, 2)
        assert mach.vm_read(t2b, a + 3 * PAGE, 4) == bytes(4)
        assert holders(mgr, 3 * PAGE) == {2: READ}
    finally:
        gate.set()
        settle(c3)
    assert holders(mgr, 3 * PAGE) == {2: READ}           # observed: {} (forgotten)
    mach.vm_write(tasks[0], a + 3 * PAGE, b"new3")
    assert mach.vm_read(t2b, a + 3 * PAGE, 4) == b"new3"  # observed: stale zeros
    assert mach.vm_read(t2b, a, 4) == b"old0"
    assert c3.audit() == []


def test_X4_11_late_release_does_not_undo_a_new_write():
    """Node 2's release (carrying its dead object's written page) is delayed in flight
    while a new clone on node 2 writes that page again.  When the release arrives, the
    new write must stay the page's content and node 2 its only writer (X4.6, X4.11)."""
    with own_cluster() as c3:
        _late_release_new_write(c3)


def _late_release_new_write(c3):
    tasks, a, mgr = share3(c3, npages=2)
    mach.vm_write(tasks[2], a, b"old!")
    x0 = c3.kernels[0].xmm
    gate, arrived = threading.Event(), threading.Event()
    orig = x0.handle

    def handle(sender, msg):                        # the release reaches node 0 late
        if msg.name == "xmm_release":
            arrived.set()
            gate.wait(10)
        return orig(sender, msg)

    x0.handle = handle
    try:
        mach.task_terminate(tasks[2])
        assert arrived.wait(5)
        t2b = mach.norma_task_clone(tasks[0], True, 2)
        mach.vm_write(t2b, a, b"new!")
        assert holders(mgr, 0) == {2: RW}
    finally:
        gate.set()
        settle(c3)
        x0.handle = orig
    assert holders(mgr, 0) == {2: RW}                     # observed: {}
    assert mach.vm_read(tasks[1], a, 4) == b"new!"        # observed: b"old!"
    assert c3.audit() == []


def test_X4_11_reclone_after_release(c3):
    """A node whose task died maps the object again (a new attach generation) after its
    release went through: it sees the latest data and takes part in coherence."""
    tasks, a, mgr = share3(c3, npages=2)
    mach.vm_write(tasks[2], a, b"r0")
    for r in range(6):
        mach.task_terminate(tasks[2])
        settle(c3)
        assert 2 not in mgr.clients
        tasks[2] = mach.norma_task_clone(tasks[r % 2], True, 2)
        assert mach.vm_read(tasks[2], a, 2) == b"r%d" % r
        mach.vm_read(tasks[2], a + PAGE, 1)
        mach.vm_write(tasks[r % 2], a + PAGE, b"x%d" % r)
        assert mach.vm_read(tasks[2], a + PAGE, 2) == b"x%d" % r
        mach.vm_write(tasks[2], a, b"r%d" % (r + 1))
        assert mach.vm_read(tasks[1], a, 2) == b"r%d" % (r + 1)
        assert c3.audit() == []


def test_X4_11_partial_deallocation_by_the_writer(c3):
    tasks, a, mgr = share3(c3, npages=4)
    for i in range(4):
        mach.vm_write(tasks[1], a + i * PAGE, b"q%d" % i)
    mach.vm_deallocate(tasks[1], a + PAGE, 2 * PAGE)            # the object stays mapped
    settle(c3)
    assert [mach.vm_read(tasks[2], a + i * PAGE, 2) for i in range(4)] == [b"q0", b"q1", b"q2", b"q3"]
    mach.vm_write(tasks[2], a, b"Z0")
    assert mach.vm_read(tasks[1], a, 2) == b"Z0"
    with pytest.raises(KernError) as e:
        mach.vm_read(tasks[1], a + PAGE, 1)
    assert e.value.code == K.KERN_INVALID_ADDRESS
    mach.vm_write(tasks[1], a + 3 * PAGE, b"W3")
    mach.vm_deallocate(tasks[1], a, PAGE)
    mach.vm_deallocate(tasks[1], a + 3 * PAGE, PAGE)             # now it is gone from node 1
    settle(c3)
    assert 1 not in mgr.clients and mgr.xid not in c3.kernels[1].xmm.pagers
    assert mach.vm_read(tasks[0], a + 3 * PAGE, 2) == b"W3"
    assert mach.vm_read(tasks[2], a + 3 * PAGE, 2) == b"W3"
    assert c3.audit() == []


def test_X4_11_writer_terminated_while_others_read(c3):
    """Repeatedly: a fresh clone on node 2 writes every page, then is terminated while
    tasks on nodes 0 and 1 are reading: every read sees the dead task's writes."""
    n = 6
    tasks, a, mgr = share3(c3, npages=n)
    for r in range(12):
        w = mach.norma_task_clone(tasks[0], True, 2)
        tag = b"round%03d" % r
        for i in range(n):
            mach.vm_write(w, a + i * PAGE + 8, tag)
        go = threading.Event()

        def reader(t, go=go, tag=tag):
            def run():
                go.wait(5)
                for _ in range(2):
                    for i in range(n):
                        assert mach.vm_read(t, a + i * PAGE + 8, 8) == tag, (t.node, i)
            return run

        def killer(go=go, w=w):
            go.set()
            mach.task_terminate(w)

        run_threads([reader(tasks[0]), reader(tasks[1]), killer])
        assert c3.audit() == []
    settle(c3)
    assert mgr.clients == {1: 1, 2: mgr.clients[2]} and len(mgr.clients) == 2
    assert c3.audit() == []


# -- more copies: shadow chains, offsets, local copies, concurrent snapshots ----------------------

def test_X4_25_snapshot_of_a_snapshot_and_clone_of_a_snapshot(c3):
    tasks, a, _mgr = share3(c3, npages=3)
    for i in range(3):
        mach.vm_write(tasks[1], a + i * PAGE, b"orig%d" % i)
    s = mach.norma_task_create(tasks[0], True, 2)
    mach.vm_write(s, a, b"snap0")                        # s shadows the copy object
    mach.vm_write(tasks[1], a + PAGE, b"aft1!")
    s2 = mach.norma_task_create(s, True, 1)              # a snapshot of the snapshot
    sc = mach.norma_task_clone(s, True, 0)               # shares s's memory on node 0
    for t in (s, s2, sc):
        assert [mach.vm_read(t, a + i * PAGE, 5) for i in range(3)] == [b"snap0", b"orig1", b"orig2"]
    mach.vm_write(sc, a + 2 * PAGE, b"scw2!")
    assert mach.vm_read(s, a + 2 * PAGE, 5) == b"scw2!"          # the clone shares with s
    mach.vm_write(s, a, b"sw00!")
    assert mach.vm_read(sc, a, 5) == b"sw00!"
    assert mach.vm_read(s2, a, 5) == b"snap0"                    # s2 keeps its moment
    assert mach.vm_read(s2, a + 2 * PAGE, 5) == b"orig2"
    mach.vm_write(tasks[0], a + 2 * PAGE, b"t0w2!")
    assert mach.vm_read(s2, a + 2 * PAGE, 5) == b"orig2"
    assert mach.vm_read(s, a + 2 * PAGE, 5) == b"scw2!"
    for t in tasks:
        assert [mach.vm_read(t, a + i * PAGE, 5) for i in range(3)] == [b"orig0", b"aft1!", b"t0w2!"]
    assert c3.audit() == []


def test_X4_22_local_copy_made_before_the_export_gets_pushes(c3):
    """A local COW fork of node 0's memory exists before the memory is shared with node
    1: a write on node 1 must first push the old content into that local copy."""
    t0 = c3.task_create(node=0)
    a = mach.vm_allocate(t0, 0, 2 * PAGE, True)
    mach.vm_write(t0, a, b"v1")
    mach.vm_inherit(t0, a, 2 * PAGE, VMInherit.SHARE)
    shared = mach.task_create(t0, True)                  # local SHARE child
    mach.vm_inherit(t0, a, 2 * PAGE, VMInherit.COPY)
    fork = mach.task_create(t0, True)                    # local COPY child
    t1 = mach.norma_task_clone(t0, True, 1)
    mach.vm_write(t1, a, b"v2")
    assert mach.vm_read(fork, a, 2) == b"v1"
    assert mach.vm_read(t0, a, 2) == b"v2" and mach.vm_read(shared, a, 2) == b"v2"
    mach.vm_write(shared, a + PAGE, b"s1")
    assert mach.vm_read(t1, a + PAGE, 2) == b"s1"
    assert mach.vm_read(fork, a + PAGE, 2) == bytes(2)
    mach.vm_write(fork, a, b"f1")
    assert mach.vm_read(t1, a, 2) == b"v2" and mach.vm_read(t0, a, 2) == b"v2"
    assert c3.audit() == []


def test_X4_20_region_at_an_object_offset(c3):
    t0 = c3.task_create(node=0)
    a = mach.vm_allocate(t0, 0, 4 * PAGE, True)
    for i in range(4):
        mach.vm_write(t0, a + i * PAGE, b"p%d" % i)
    mach.vm_deallocate(t0, a, PAGE)                       # the entry now starts at offset PAGE
    t1 = mach.norma_task_clone(t0, True, 1)
    assert [mach.vm_read(t1, a + i * PAGE, 2) for i in (1, 2, 3)] == [b"p1", b"p2", b"p3"]
    mach.vm_write(t1, a + 2 * PAGE, b"X2")
    mgr = manager(c3)
    assert holders(mgr, 2 * PAGE) == {1: RW}              # object offsets, not addresses
    assert holders(mgr, PAGE) == {0: READ, 1: READ}
    assert mach.vm_read(t0, a + 2 * PAGE, 2) == b"X2"
    s = mach.norma_task_create(t1, True, 2)
    mach.vm_write(t0, a + 3 * PAGE, b"Y3")
    assert [mach.vm_read(s, a + i * PAGE, 2) for i in (1, 2, 3)] == [b"p1", b"X2", b"p3"]
    assert c3.audit() == []


def test_X4_21_snapshots_taken_while_nodes_write(c3):
    """Nodes 1 and 2 keep incrementing their own counter while snapshots are taken from
    every node: each snapshot never changes afterwards, and successive snapshots never
    go back in time."""
    tasks, a, mgr = share3(c3, npages=2)
    stop = threading.Event()
    snaps = []

    def writer(i):
        def run():
            v = 0
            while not stop.is_set():
                v += 1
                put_word(tasks[i], a + 8 * i, v)
                put_word(tasks[i], a + PAGE + 8 * i, v)
        return run

    def snapper():
        try:
            for k in range(12):
                s = mach.norma_task_create(tasks[k % 3], True, (k + 1) % 3)
                snaps.append((s, [word(s, a + 8 * i) for i in (1, 2)],
                              [word(s, a + PAGE + 8 * i) for i in (1, 2)]))
                seen = [word(tasks[0], a + 8 * i) for i in (1, 2)]
                wait_until(lambda seen=seen: all(word(tasks[0], a + 8 * i) > v        # both wrote
                                                 for i, v in zip((1, 2), seen)), "the writers")
        finally:
            stop.set()

    run_threads([writer(1), writer(2), snapper])
    final = [word(tasks[0], a + 8 * i) for i in (1, 2)]
    prev = [0, 0]
    for s, v0, v1 in snaps:
        assert [word(s, a + 8 * i) for i in (1, 2)] == v0
        assert [word(s, a + PAGE + 8 * i) for i in (1, 2)] == v1
        assert all(x >= y for x, y in zip(v0, prev)), (v0, prev)
        prev = v0
    assert all(x <= y for x, y in zip(prev, final))
    assert final[0] > 0 and final[1] > 0 and mgr.stats["pushes"] > 0
    assert c3.audit() == []


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_X4_26_snapshot_chain_dies_in_any_order(c3, seed):
    """Four successive snapshots (some written privately) and the three sharers end
    in a random order: every surviving snapshot keeps its moment meanwhile, and once
    all are gone no manager or pager is left on any node."""
    rnd = random.Random(seed)
    tasks, a, _mgr = share3(c3, npages=2)
    snaps = []
    for gen in range(4):
        mach.vm_write(tasks[gen % 3], a, _pattern("gen", gen))
        snaps.append(mach.norma_task_create(tasks[gen % 2], True, 2 - gen % 3))
        if gen % 2:
            mach.vm_write(snaps[-1], a + PAGE, b"own")
    assert len(c3.kernels[0].xmm.managers) > 1                   # copy objects exist
    everyone = tasks + snaps
    rnd.shuffle(everyone)
    for i, t in enumerate(everyone):
        mach.task_terminate(t)
        settle(c3)
        for g, s in enumerate(snaps):
            if s not in everyone[:i + 1]:
                assert mach.vm_read(s, a, 16) == _pattern("gen", g), f"snapshot {g}"
                assert mach.vm_read(s, a + PAGE, 3) == (b"own" if g % 2 else bytes(3))
        assert c3.audit() == []
    settle(c3)
    for k in c3.kernels:
        assert k.xmm.managers == {} and k.xmm.pagers == {}, f"node {k.node}"
    assert c3.audit() == []


def test_X4_1_manager_lives_where_the_object_was_first_shared(c3):
    """A region allocated by the clone on node 1 and shared from there is managed on
    node 1; nodes 0 and 2 are its clients, and it is as coherent as any other."""
    tasks, a, mgr0 = share3(c3, npages=2)
    b = mach.vm_allocate(tasks[1], 0, 4 * PAGE, True)
    mach.vm_write(tasks[1], b, b"made on 1")
    u2 = mach.norma_task_clone(tasks[1], True, 2)
    u0 = mach.norma_task_clone(tasks[1], True, 0)
    mgr1 = manager(c3, node=1)
    assert mgr1.xid[0] == 1 and set(mgr1.clients) == {0, 2}
    assert manager(c3, node=0) is mgr0 and not c3.kernels[2].xmm.managers
    users = [u0, tasks[1], u2]
    model = random_model(c3, users, b, mgr1, 4, 150, 0xB0B, init=b"made on 1")
    assert mgr1.stats["writes"] > 10
    for t in users:                       # the other region is still shared as before
        mach.vm_write(t, a, b"%d" % t.node)
        assert mach.vm_read(tasks[(t.node + 1) % 3], a, 1) == b"%d" % t.node
    assert mach.vm_read(u2, b, 4 * PAGE) == bytes(model)
    assert c3.audit() == []


def test_X4_1_pages_paged_out_before_the_export_are_served():
    """Node 0 (48 frames) writes 64 pages before sharing them, so many are at its
    default pager when the object is exported: readers on the other nodes get them."""
    with own_cluster(phys_bytes=48 * PAGE) as c:
        t0 = c.task_create(node=0)
        a = mach.vm_allocate(t0, 0, 64 * PAGE, True)
        for i in range(64):
            mach.vm_write(t0, a + i * PAGE + 9, b"pg%02d" % i)
        assert c.kernels[0].stats.pageouts > 0
        t1 = mach.norma_task_clone(t0, True, 1)
        t2 = mach.norma_task_clone(t0, True, 2)
        for t in (t1, t2, t0):
            for i in range(64):
                assert mach.vm_read(t, a + i * PAGE + 9, 4) == b"pg%02d" % i, (t.node, i)
        mach.vm_write(t2, a + 5 * PAGE, b"two")
        assert mach.vm_read(t1, a + 5 * PAGE, 3) == b"two"
        assert c.audit() == []


def test_X4_11_writer_giving_back_more_than_one_message_holds_loses_nothing():
    """A node that wrote 20 MiB of shared memory (more than one transport frame may
    carry) and whose task ends gives every page back to the manager, in several
    messages: the parent then reads every byte the clone wrote."""
    c = Cluster(nodes=2, phys_bytes=64 << 20)
    try:
        size = 20 << 20
        t = c.task_create(node=0)
        a = mach.vm_allocate(t, 0, size, True)
        clone = mach.norma_task_clone(t, True, 1)
        chunk = bytes(range(256)) * 4096                       # 1 MiB
        for off in range(0, size, len(chunk)):
            mach.vm_write(clone, a + off, chunk[off >> 20:] + chunk[:off >> 20])
        mach.task_terminate(clone)
        for k in c.kernels:
            k.xmm.flush_background()
        for off in range(0, size, len(chunk)):
            assert mach.vm_read(t, a + off, len(chunk)) == chunk[off >> 20:] + chunk[:off >> 20]
        assert all(k.xmm.stats.get("errors", 0) == 0 for k in c.kernels)
        assert c.audit() == []
    finally:
        c.close()
