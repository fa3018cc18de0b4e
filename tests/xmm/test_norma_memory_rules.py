"""Address spaces given to children on other nodes (spec §0, §1.4-1.6, §2.3-2.4).

norma_task_create / norma_task_clone / norma_task_teleport with inherit_memory
TRUE and a remote child node: what the child's map holds (V2.4, V2.10), which
regions stay shared and which become copy-on-write snapshots (the table of
§2.4, V2.11, V2.12), and the error cases (N1.9, §0.5).  Every test ends with
`finish`: the XMM coherence audit, then every task terminated and every node's
XMM left with no manager and no pager (X4.26: shared objects die with their last
user).
"""

from __future__ import annotations

import collections

import pytest

from normach import Cluster, KernError, KernReturn, VMInherit, VMProt, mach

K = KernReturn
P = 4096
RW = VMProt.READ | VMProt.WRITE
CALLS = [mach.norma_task_create, mach.norma_task_clone, mach.norma_task_teleport]
MODES = {"create": mach.norma_task_create, "clone": mach.norma_task_clone,
         "teleport": mach.norma_task_teleport}

# vm_region's fields, in order: a task on another node answers with a list of them
REGION_FIELDS = ("address", "size", "protection", "max_protection", "inheritance", "shared",
                 "offset", "reserved")
Reg = collections.namedtuple("Reg", REGION_FIELDS)


# -- helpers -----------------------------------------------------------------------------------

@pytest.fixture
def c3():
    c = Cluster(nodes=3, phys_bytes=16 << 20)
    yield c
    c.close()


def data(tag: str, i: int) -> bytes:
    """Distinct, recognisable content for page i."""
    unit = f"<{tag}:{i:04d}>".encode()
    return (unit * (P // len(unit) + 1))[:P]


ZERO = bytes(P)


def code_of(fn, *args) -> int:
    with pytest.raises(KernError) as e:
        fn(*args)
    return e.value.code


def region(task, addr) -> Reg:
    r = mach.vm_region(task, addr)
    if isinstance(r, list):                        # remote record: its fields in order
        return Reg(*r)
    return Reg(*(getattr(r, f) for f in REGION_FIELDS))


def layout(task) -> list:
    """Every region of `task`: (address, size, protection, max_protection, inheritance)."""
    out, addr = [], 0
    while True:
        try:
            r = region(task, addr)
        except KernError as e:
            assert e.code == K.KERN_NO_SPACE
            return out
        out.append((r.address, r.size, r.protection, r.max_protection, r.inheritance))
        addr = r.address + r.size


def pages(task, addr, n) -> list:
    blob = mach.vm_read(task, addr, n * P)
    return [blob[i * P:(i + 1) * P] for i in range(n)]


def xmm_objects(c) -> dict:
    """{node: (manager xids, pager xids)} of every node."""
    return {k.node: (sorted(k.xmm.managers), sorted(k.xmm.pagers)) for k in c.kernels}


def flush(c, rounds: int = 3) -> None:
    for _ in range(rounds):
        for k in c.kernels:
            assert k.xmm.flush_background()


def finish(c, *live) -> None:
    """Audit; terminate `live` (every task still alive); nothing may be left behind."""
    problems = c.audit()
    assert problems == [], "\n".join(problems)
    for t in live:
        mach.task_terminate(t)
    assert c.tasks() == [], "a task was left behind"
    flush(c)
    assert xmm_objects(c) == {n: ([], []) for n in range(3)}, "XMM objects left behind (X4.26)"
    problems = c.audit()
    assert problems == [], "\n".join(problems)


class Parent:
    """A task on `node` with one region per inheritance value, plus a read-only one.

    share: 3 pages SHARE, all written.      copy: 4 pages COPY, pages 0-2 written,
    none: 2 pages NONE, both written.        page 3 never touched.
    ro: 1 page COPY, written then protected READ (max protection stays ALL).
    idle: 2 pages COPY, never touched at all (no memory object yet).
    `mem` is the expected content {address of a page: bytes}.
    """

    SPEC = (("share", 3, VMInherit.SHARE), ("copy", 4, VMInherit.COPY),
            ("none", 2, VMInherit.NONE), ("ro", 1, VMInherit.COPY),
            ("idle", 2, VMInherit.COPY))

    def __init__(self, c, node: int = 0):
        self.t = c.task_create(node=node)
        self.addr, self.npages, self.mem = {}, {}, {}
        for name, n, inh in self.SPEC:
            a = mach.vm_allocate(self.t, 0, n * P, True)
            self.addr[name], self.npages[name] = a, n
            mach.vm_inherit(self.t, a, n * P, inh)
            for i in range(n):
                self.mem[a + i * P] = ZERO
        for name in ("share", "copy", "none", "ro"):
            written = 3 if name == "copy" else self.npages[name]
            for i in range(written):
                self.write(self.t, name, i, data(f"{name}-0", i))
        mach.vm_protect(self.t, self.addr["ro"], P, False, VMProt.READ)

    def page(self, name: str, i: int = 0) -> int:
        return self.addr[name] + i * P

    def write(self, task, name: str, i: int, content: bytes, mem=None) -> None:
        mach.vm_write(task, self.page(name, i), content)
        (self.mem if mem is None else mem)[self.page(name, i)] = content

    def check(self, task, names=None, mem=None) -> None:
        mem = self.mem if mem is None else mem
        for name in names or self.addr:
            got = pages(task, self.addr[name], self.npages[name])
            want = [mem[self.page(name, i)] for i in range(self.npages[name])]
            for i, (g, w) in enumerate(zip(got, want)):
                assert g == w, f"{task}: region {name} page {i}: {g[:16]!r} != {w[:16]!r}"


# -- N1.9 / §0.5: errors leave everything as it was --------------------------------------------

@pytest.mark.parametrize("shared_before", [False, True], ids=["private", "shared"])
@pytest.mark.parametrize("node", [-1, 3])
@pytest.mark.parametrize("call", CALLS, ids=lambda f: f.__name__)
def test_N1_9_invalid_node_with_inherit_memory_changes_nothing(c3, call, node, shared_before):
    p = Parent(c3)
    before = layout(p.t)
    clone = mach.norma_task_clone(p.t, True, 1) if shared_before else None
    objects = xmm_objects(c3)
    tasks = len(c3.tasks())
    assert code_of(call, p.t, True, node) == K.KERN_INVALID_ARGUMENT
    assert len(c3.tasks()) == tasks                                  # no child, parent alive
    assert xmm_objects(c3) == objects                                 # nothing exported
    if not shared_before:
        assert objects == {n: ([], []) for n in range(3)}
    assert layout(p.t) == before
    p.check(p.t)
    if clone is not None:                                             # sharing unaffected
        p.write(clone, "copy", 3, data("after", 3))
        p.write(p.t, "none", 0, data("after", 0))
        p.check(p.t)
        p.check(clone)
    finish(c3, *[x for x in (p.t, clone) if x is not None])


@pytest.mark.parametrize("call", CALLS, ids=lambda f: f.__name__)
def test_0_5_terminated_parent_with_inherit_memory_is_invalid_argument(c3, call):
    p = Parent(c3)
    clone = mach.norma_task_clone(p.t, True, 1)          # the memory outlives the parent
    mach.task_terminate(p.t)
    objects = xmm_objects(c3)
    assert code_of(call, p.t, True, 2) == K.KERN_INVALID_ARGUMENT
    assert c3.tasks(2) == [] and len(c3.tasks()) == 1
    assert xmm_objects(c3) == objects
    p.check(clone)
    finish(c3, clone)


# -- N1.14 / V2.11: clone ----------------------------------------------------------------------

def test_N1_14_clone_child_sees_parent_memory(c3):
    p = Parent(c3)
    child = mach.norma_task_clone(p.t, True, 2)
    assert child.node == 2 and mach.norma_port_location_hint(p.t, child) == 2   # N1.16
    assert mach.task_threads(child) == []                                      # N1.17
    assert layout(child) == layout(p.t)                                        # V2.4
    p.check(child)                             # every region, NONE and COPY too (§0.7)
    p.check(p.t)
    finish(c3, p.t, child)


def test_V2_11_clone_writes_are_visible_both_ways_ping_pong(c3):
    """Partial writes at varying offsets, alternately on each side, in every writable
    region: after each round both sides read exactly the same (no write lost)."""
    p = Parent(c3)
    child = mach.norma_task_clone(p.t, True, 2)
    names = ("share", "copy", "none", "idle")
    for rnd in range(6):
        writer, reader = (p.t, child) if rnd % 2 == 0 else (child, p.t)
        for name in names:
            for i in range(p.npages[name]):
                off = (rnd * 517 + i * 97) % (P - 32)
                chunk = f"[r{rnd} {name} {i}]".encode()
                mach.vm_write(writer, p.page(name, i) + off, chunk)
                old = p.mem[p.page(name, i)]
                p.mem[p.page(name, i)] = old[:off] + chunk + old[off + len(chunk):]
        p.check(reader, names)
        p.check(writer, names)
        assert c3.audit() == []
    finish(c3, p.t, child)


def test_V2_11_clone_many_pages_each_side_writes_alternate_pages(c3):
    t = c3.task_create(node=0)
    n = 32
    a = mach.vm_allocate(t, 0, n * P, True)
    mach.vm_inherit(t, a, n * P, VMInherit.NONE)
    for i in range(n):
        mach.vm_write(t, a + i * P, data("parent", i))
    child = mach.norma_task_clone(t, True, 1)
    for i in range(0, n, 2):
        mach.vm_write(child, a + i * P, data("child", i))
    want = [data("child" if i % 2 == 0 else "parent", i) for i in range(n)]
    assert pages(t, a, n) == want
    assert pages(child, a, n) == want
    for i in range(1, n, 2):
        mach.vm_write(t, a + i * P, data("parent2", i))
        want[i] = data("parent2", i)
    assert pages(child, a, n) == want
    assert pages(t, a, n) == want
    finish(c3, t, child)


# -- N1.15 / V2.12: teleport ---------------------------------------------------------------------

def test_N1_15_V2_12_teleport_child_sees_parent_last_memory(c3):
    p = Parent(c3)
    before = layout(p.t)
    for name in ("share", "copy", "none"):                           # the last contents
        p.write(p.t, name, 1, data(f"{name}-last", 1))
    child = mach.norma_task_teleport(p.t, True, 2)
    assert c3.tasks(0) == []                                          # N1.15: parent gone
    assert code_of(mach.vm_read, p.t, p.page("share"), 8) == K.KERN_INVALID_ARGUMENT
    assert child.node == 2 and mach.norma_port_location_hint(child, child) == 2   # N1.16
    assert mach.task_threads(child) == []                                           # N1.17
    assert layout(child) == before                                    # V2.4, V2.10
    p.check(child)                                                     # NONE regions too
    for name in ("share", "copy", "none", "idle"):                    # the child's own now
        p.write(child, name, 0, data(f"{name}-child", 0))
    p.check(child)
    flush(c3)                                                          # pages pushed to node 2
    p.check(child)
    finish(c3, child)


def test_N1_15_teleport_256_pages(c3):
    t = c3.task_create(node=0)
    n = 256
    a = mach.vm_allocate(t, 0, n * P, True)
    want = [data("big", i) for i in range(n)]
    for i in range(n):
        mach.vm_write(t, a + i * P, want[i])
    child = mach.norma_task_teleport(t, True, 2)
    assert c3.tasks(0) == []
    assert region(child, a)[:2] == (a, n * P)
    got = pages(child, a, n)
    for i in range(n):
        assert got[i] == want[i], f"page {i}"
    for i in range(0, n, 7):                           # writes while the pages move over
        mach.vm_write(child, a + i * P, data("moved", i))
        want[i] = data("moved", i)
    flush(c3)
    assert pages(child, a, n) == want
    finish(c3, child)


@pytest.mark.parametrize("third_node", [0, 1], ids=["local-task_create", "norma_task_create"])
def test_V2_12_teleport_keeps_sharing_with_a_third_task(c3, third_node):
    """A SHARE region of the parent also mapped by a third task stays shared between
    that task and the teleported child; COPY regions of the third task stay private."""
    p = Parent(c3)
    if third_node == 0:
        third = mach.task_create(p.t, True)
    else:
        third = mach.norma_task_create(p.t, True, 1)
    assert third.node == third_node
    third_mem = dict(p.mem)
    for a in (p.page("none", 0), p.page("none", 1)):
        del third_mem[a]
    p.write(third, "share", 2, data("third-before", 2))               # before the teleport
    third_mem[p.page("share", 2)] = p.mem[p.page("share", 2)]
    child = mach.norma_task_teleport(p.t, True, 2)
    assert len(c3.tasks(0)) == (1 if third_node == 0 else 0)            # the parent is gone
    assert len(c3.tasks()) == 2
    p.check(child)
    for rnd in range(3):
        for i in range(3):
            writer = child if (rnd + i) % 2 else third
            p.write(writer, "share", i, data(f"share-{rnd}", i))
            third_mem[p.page("share", i)] = p.mem[p.page("share", i)]
        p.check(child, ["share"])
        p.check(third, ["share"], third_mem)
        if rnd == 1:
            flush(c3)                                   # background pushes change nothing
    p.write(child, "copy", 0, data("child-private", 0))               # COPY: the third's own
    p.write(third, "copy", 1, data("third-private", 1), third_mem)
    p.check(child)
    p.check(third, ["share", "copy", "ro", "idle"], third_mem)
    assert code_of(mach.vm_read, third, p.page("none"), 8) == K.KERN_INVALID_ADDRESS
    finish(c3, child, third)


def test_V2_12_teleport_to_the_node_of_an_existing_clone(c3):
    p = Parent(c3)
    clone = mach.norma_task_clone(p.t, True, 2)
    p.write(clone, "none", 1, data("clone", 1))
    child = mach.norma_task_teleport(p.t, True, 2)
    p.check(child)
    for rnd in range(2):
        p.write(child, "copy", 3, data(f"child-{rnd}", 3))
        p.write(clone, "share", 0, data(f"clone-{rnd}", 0))
        p.check(clone)
        p.check(child)
        flush(c3)                                        # node 0 hands the objects over
    finish(c3, child, clone)


# -- norma_task_create: the inheritance table of §2.4 --------------------------------------------

def test_V2_6_create_SHARE_region_is_shared_both_ways(c3):
    p = Parent(c3)
    child = mach.norma_task_create(p.t, True, 2)
    child_mem = {a: v for a, v in p.mem.items() if a not in (p.page("none", 0), p.page("none", 1))}
    p.check(child, ["share", "copy", "ro", "idle"], child_mem)
    for rnd in range(4):
        for i in range(3):
            writer = p.t if (rnd + i) % 2 else child
            p.write(writer, "share", i, data(f"s{rnd}", i))
            child_mem[p.page("share", i)] = p.mem[p.page("share", i)]
        p.check(p.t, ["share"])
        p.check(child, ["share"], child_mem)
    finish(c3, p.t, child)


@pytest.mark.parametrize("creator", ["parent", "clone"])
def test_V2_7_V2_14_create_COPY_region_is_a_snapshot(c3, creator):
    """The snapshot holds what was there at creation (also a page a clone on node 1
    wrote, and untouched pages); later writes on either side stay private, whichever
    side writes a page first.  `creator`: the task norma_task_create is called on
    (the parent on the objects' manager node, or its clone on node 1)."""
    p = Parent(c3)
    clone = mach.norma_task_clone(p.t, True, 1)
    p.write(clone, "copy", 2, data("clone-before", 2))                 # written on node 1
    p.write(clone, "idle", 1, data("clone-before", 1))
    src = p.t if creator == "parent" else clone
    snap = {a: v for a, v in p.mem.items() if a not in (p.page("none", 0), p.page("none", 1))}
    child = mach.norma_task_create(src, True, 2)
    p.check(child, ["share", "copy", "ro", "idle"], snap)
    # pages 0 and 2: the parent side writes first; pages 1 and 3: the child first
    p.write(p.t, "copy", 0, data("parent-after", 0))
    p.write(clone, "copy", 2, data("clone-after", 2))
    p.write(child, "copy", 1, data("child-after", 1), snap)
    p.write(child, "copy", 3, data("child-after", 3), snap)            # never touched before
    p.write(p.t, "idle", 0, data("parent-after", 0))
    p.write(child, "idle", 1, data("child-after", 1), snap)
    p.check(child, ["copy", "idle"], snap)
    p.check(p.t, ["copy", "idle"])
    p.check(clone, ["copy", "idle"])
    p.write(child, "copy", 0, data("child-after", 0), snap)
    p.write(child, "copy", 2, data("child-after", 2), snap)
    p.write(clone, "copy", 1, data("clone-after", 1))
    p.write(p.t, "copy", 3, data("parent-after", 3))
    p.write(clone, "idle", 0, data("clone-after2", 0))
    p.write(child, "idle", 0, data("child-after2", 0), snap)
    for task, mem in ((child, snap), (p.t, None), (clone, None)):
        p.check(task, ["copy", "idle"], mem)
    for i in range(4):                                      # and again: nothing leaks late
        p.write(p.t, "copy", i, data("parent-late", i))
    p.check(child, ["copy", "idle", "share", "ro"], snap)
    p.check(clone)
    finish(c3, p.t, clone, child)


def test_V2_7_create_COPY_region_untouched_everywhere_is_private(c3):
    t = c3.task_create(node=0)
    a = mach.vm_allocate(t, 0, 3 * P, True)                     # never touched: no object
    child = mach.norma_task_create(t, True, 1)
    assert pages(child, a, 3) == [ZERO] * 3
    mach.vm_write(t, a, data("parent", 0))
    mach.vm_write(child, a + P, data("child", 1))
    assert pages(t, a, 3) == [data("parent", 0), ZERO, ZERO]
    assert pages(child, a, 3) == [ZERO, data("child", 1), ZERO]
    finish(c3, t, child)


def test_V2_5_create_NONE_region_is_absent(c3):
    p = Parent(c3)
    child = mach.norma_task_create(p.t, True, 2)
    a = p.addr["none"]
    for addr in (a, a + P):
        assert code_of(mach.vm_read, child, addr, 8) == K.KERN_INVALID_ADDRESS
        assert code_of(mach.vm_write, child, addr, b"x") == K.KERN_INVALID_ADDRESS
    try:
        nxt = region(child, a).address                   # vm_region: the next region up
    except KernError as e:
        assert e.code == K.KERN_NO_SPACE
    else:
        assert nxt >= a + 2 * P
    assert a not in [r[0] for r in layout(child)]
    # the hole is really free in the child: fill it, the parent's region is unaffected
    assert mach.vm_allocate(child, a, 2 * P, False) == a
    assert pages(child, a, 2) == [ZERO, ZERO]
    mach.vm_write(child, a, data("child", 0))
    p.check(p.t)
    finish(c3, p.t, child)


# -- V2.4 / V2.10: the child's map -----------------------------------------------------------------

def _attribute_parent(c):
    """A task with regions of assorted protection / max protection / inheritance,
    some made by splitting one allocation, one at a fixed address.  Returns
    (task, {address: content}, read-only addresses, addresses whose max is READ)."""
    t = c.task_create(node=0)
    a = mach.vm_allocate(t, 0, 6 * P, True)
    b = mach.vm_allocate(t, 0x40000000, 2 * P, False)
    content = {}
    for i, addr in enumerate([a + j * P for j in range(6)] + [b, b + P]):
        content[addr] = data("attr", i)
        mach.vm_write(t, addr, content[addr])
    mach.vm_inherit(t, a, P, VMInherit.SHARE)                        # RW / ALL / SHARE
    mach.vm_protect(t, a + P, P, False, VMProt.READ)                 # R / ALL / COPY
    mach.vm_inherit(t, a + 2 * P, P, VMInherit.SHARE)                # R / R / SHARE
    mach.vm_protect(t, a + 2 * P, P, True, VMProt.READ)
    mach.vm_protect(t, a + 2 * P, P, False, VMProt.READ)
    mach.vm_protect(t, a + 3 * P, P, True, RW)                       # RW / RW / NONE
    mach.vm_inherit(t, a + 3 * P, P, VMInherit.NONE)
    mach.vm_protect(t, a + 4 * P, P, False, VMProt.READ | VMProt.EXECUTE)   # RX / ALL / COPY
    mach.vm_protect(t, a + 5 * P, P, False, VMProt.READ)             # R / ALL / NONE
    mach.vm_inherit(t, a + 5 * P, P, VMInherit.NONE)
    mach.vm_inherit(t, b, 2 * P, VMInherit.SHARE)                    # RW / ALL / SHARE, fixed
    return t, content, [a + P, a + 2 * P, a + 4 * P, a + 5 * P], [a + 2 * P]


@pytest.mark.parametrize("mode", list(MODES))
def test_V2_10_child_entries_keep_inheritance_and_protection(c3, mode):
    t, content, readonly, max_read = _attribute_parent(c3)
    parent_layout = layout(t)
    assert len(parent_layout) == 7
    child = MODES[mode](t, True, 2)
    want = [r for r in parent_layout if mode != "create" or r[4] != VMInherit.NONE]
    assert layout(child) == want
    present = {r[0] for r in want}
    for addr in readonly:
        if addr not in present:
            continue
        assert mach.vm_read(child, addr, P) == content[addr]
        assert code_of(mach.vm_write, child, addr, b"w") == K.KERN_PROTECTION_FAILURE
    for addr in max_read:                                 # max protection is real too
        assert code_of(mach.vm_protect, child, addr, P, False, RW) == K.KERN_PROTECTION_FAILURE
    ro_all = readonly[0]                                  # R / ALL: may be raised
    mach.vm_protect(child, ro_all, P, False, RW)
    mach.vm_write(child, ro_all, b"raised")
    if mode == "clone":                                   # shared: the parent sees it
        assert mach.vm_read(t, ro_all, 6) == b"raised"
    elif mode == "create":                                # a COPY region: private
        assert mach.vm_read(t, ro_all, 6) == content[ro_all][:6]
    live = [child] + ([] if mode == "teleport" else [t])
    finish(c3, *live)


@pytest.mark.parametrize("mode", list(MODES))
def test_V2_4_same_addresses_and_sizes(c3, mode):
    t, content, _ro, _mr = _attribute_parent(c3)
    extra = mach.vm_allocate(t, 0, 17 * P, True)          # a bigger one, split in three
    mach.vm_inherit(t, extra + 5 * P, 4 * P, VMInherit.SHARE)
    mach.vm_write(t, extra + 16 * P, b"last page")
    parent_layout = layout(t)
    child = MODES[mode](t, True, 1)
    child_layout = layout(child)
    want = [r for r in parent_layout if mode != "create" or r[4] != VMInherit.NONE]
    assert [r[:2] for r in child_layout] == [r[:2] for r in want]
    assert (extra + 5 * P, 4 * P) in [r[:2] for r in child_layout]
    assert mach.vm_read(child, extra + 16 * P, 9) == b"last page"
    for addr, value in content.items():
        if any(r[0] <= addr < r[0] + r[1] for r in want):
            assert mach.vm_read(child, addr, P) == value
    finish(c3, child, *([] if mode == "teleport" else [t]))


# -- N1.18: inherit_memory FALSE -------------------------------------------------------------------

@pytest.mark.parametrize("mode", list(MODES))
def test_N1_18_inherit_false_gives_an_empty_map(c3, mode):
    p = Parent(c3)
    child = MODES[mode](p.t, False, 2)
    assert code_of(mach.vm_region, child, 0) == K.KERN_NO_SPACE
    assert code_of(mach.vm_read, child, p.page("share"), 8) == K.KERN_INVALID_ADDRESS
    assert xmm_objects(c3) == {n: ([], []) for n in range(3)}        # nothing shared
    live = [child]
    if mode != "teleport":
        p.check(p.t)
        live.append(p.t)
    else:
        assert c3.tasks(0) == []
    finish(c3, *live)


# -- chains of children -------------------------------------------------------------------------

@pytest.mark.parametrize("hops", [("clone", "clone"), ("clone", "teleport"),
                                  ("teleport", "clone"), ("teleport", "teleport"),
                                  ("clone", "clone", "clone")],
                         ids="-".join)
def test_N1_14_V2_11_chain_of_children_shares_memory(c3, hops):
    """node 0 -> node 1 -> node 2 (-> node 0 again): the last child sees the data,
    and a write by any live task is seen by every other one.  After a teleport the
    background jobs (the pages pushed to the child) are let finish before the next hop:
    the immediate case is test_N1_14_teleported_child_given_away_at_once_keeps_memory."""
    p = Parent(c3)
    tasks = [p.t]
    for n, hop in enumerate(hops):
        child = MODES[hop](tasks[-1], True, (n + 1) % 3)
        assert mach.norma_port_location_hint(child, child) == (n + 1) % 3
        if hop == "teleport":
            tasks.pop()
            flush(c3)
        tasks.append(child)
    p.check(tasks[-1])
    for rnd in range(2):
        for w, writer in enumerate(tasks):
            for name in ("share", "copy", "none", "idle"):
                i = (w + rnd) % p.npages[name]
                p.write(writer, name, i, data(f"{name}-w{w}-r{rnd}", i))
            for task in tasks:
                p.check(task)
    finish(c3, *tasks)


@pytest.mark.parametrize("second", list(MODES))
def test_N1_14_teleported_child_given_away_at_once_keeps_memory(c3, second):
    live = []
    for rnd in range(2):
        t = c3.task_create(node=0)
        a = mach.vm_allocate(t, 0, 2 * P, True)
        mach.vm_inherit(t, a, P, VMInherit.SHARE)                   # page 0 SHARE, 1 COPY
        mach.vm_write(t, a, data("share", rnd))
        mach.vm_write(t, a + P, data("copy", rnd))
        child = mach.norma_task_teleport(t, True, 1)
        grandchild = MODES[second](child, True, (2, 0)[rnd])          # no wait in between
        live += [grandchild] + ([] if second == "teleport" else [child])
        assert pages(grandchild, a, 2) == [data("share", rnd), data("copy", rnd)]
        if second != "teleport":
            mach.vm_write(child, a, data("child", rnd))               # still shared
            assert mach.vm_read(grandchild, a, P) == data("child", rnd)
    finish(c3, *live)


# -- a local fork of memory shared across nodes --------------------------------------------------

@pytest.mark.parametrize("forker", ["remote-child", "parent"])
@pytest.mark.parametrize("how", ["task_create", "norma_task_create-own-node"])
def test_V2_7_local_fork_of_shared_memory_keeps_the_snapshot(c3, forker, how):
    """A clone on node 2 (or its parent on node 0) forks locally: COPY regions of the
    fork are snapshots although the memory is shared with the other node; a write
    from the other node after the fork does not appear in the fork."""
    p = Parent(c3)
    child = mach.norma_task_clone(p.t, True, 2)
    p.write(child, "copy", 1, data("child-before", 1))
    p.write(p.t, "copy", 0, data("parent-before", 0))
    src, other = (child, p.t) if forker == "remote-child" else (p.t, child)
    fork = mach.task_create(src, True) if how == "task_create" else \
        mach.norma_task_create(src, True, src.node)
    assert fork.node == src.node and mach.norma_port_location_hint(p.t, fork) == src.node
    snap = {a: v for a, v in p.mem.items() if a not in (p.page("none", 0), p.page("none", 1))}
    p.check(fork, ["share", "copy", "ro", "idle"], snap)
    assert code_of(mach.vm_read, fork, p.page("none"), 8) == K.KERN_INVALID_ADDRESS
    for i in range(4):                                   # the other node writes after the fork
        p.write(other, "copy", i, data("other-after", i))
    p.write(src, "idle", 0, data("src-after", 0))
    p.write(other, "idle", 1, data("other-after", 1))
    p.check(fork, ["copy", "idle"], snap)
    p.write(fork, "copy", 2, data("fork-after", 2), snap)
    p.write(fork, "idle", 1, data("fork-after", 1), snap)
    p.write(src, "copy", 2, data("src-after", 2))
    for task in (p.t, child):
        p.check(task)
    p.check(fork, ["copy", "idle", "ro"], snap)
    for i in range(3):                                   # SHARE: all three share it
        writer = (p.t, child, fork)[i]
        p.write(writer, "share", i, data("three", i))
        snap[p.page("share", i)] = p.mem[p.page("share", i)]
    for task, mem in ((p.t, None), (child, None), (fork, snap)):
        p.check(task, ["share"], mem)
    finish(c3, p.t, child, fork)


def test_N1_14_clone_of_a_task_that_forked_locally_keeps_its_pmap_coherent(c3):
    t = c3.task_create(node=0)
    a = mach.vm_allocate(t, 0, 2 * P, True)
    mach.vm_write(t, a, b"p0")
    mach.vm_write(t, a + P, b"p1")
    fork = mach.task_create(t, True)
    mach.vm_write(t, a, b"P0")
    child = mach.norma_task_clone(t, True, 1)
    problems = c3.audit()
    assert problems == [], "\n".join(problems)
    mach.vm_write(child, a + P, b"X1")
    assert mach.vm_read(t, a + P, 2) == b"X1"
    assert mach.vm_read(fork, a, 2) == b"p0" and mach.vm_read(fork, a + P, 2) == b"p1"
    finish(c3, t, child, fork)
