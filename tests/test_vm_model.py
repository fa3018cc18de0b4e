"""Model-based tests of the VM routines and of task_create's address-space inheritance.

Spec: /work/shared/spec/mach-semantics.md §2 (V2.1-V2.9), §3.4 (vm_* error matrix)
and §9.13 (a COPY region whose *max* protection lacks READ is omitted from a child).

A hypothesis `RuleBasedStateMachine` drives random sequences of vm_allocate,
vm_deallocate, vm_protect (current and maximum), vm_inherit, vm_write, vm_read,
vm_copy, task_create (inherit_memory TRUE/FALSE, from any live task) and
task_terminate over up to five live tasks, all acting on a small window of
16 pages so that the operations overlap.  Every call is checked against a
reference model:

* each task maps page numbers to `PageRec`s (protection, max protection,
  inheritance, and a `Cell`);
* a `Cell` is the memory itself (a shared mutable 4 KiB bytearray).  SHARE
  inheritance gives the child the *same* cell; COPY gives it a *new* cell holding
  a snapshot of the bytes at creation time; NONE leaves the page out.  vm_write
  writes into the cell, so every task sharing it sees the write; vm_copy reads
  the whole source first, then writes; vm_allocate makes fresh zero cells;
  vm_deallocate drops the mapping (the cell lives on in the tasks sharing it).

After every step, for every live task and every mapped page: vm_read of the page
(when readable) equals the model cell, vm_region reports the model's protection,
max protection and inheritance (and no region spans a model hole), a page shared
with another live task is reported `shared` (V2.6), unmapped pages are reported
as such, and `Cluster.audit()` is empty.

A second machine runs the same rules on a 48-frame physical pool, 44 frames of
which a bystander task has touched (and re-reads from time to time), so that
pageout and page-in happen in the middle of the random sequences.

Regression tests at the end keep the shrunk examples of the two kernel bugs the
machines found: vm_protect(set_maximum=TRUE) could raise the maximum protection
(spec §3.4), and a write that copied a page up into a *shared* top object left
the other sharers' translations of the old page in place (V2.6; audit rule
"a translation maps the page the fault path would find").

Error precedence (spec §3.4 gives the codes, not their order): the model follows
normach/vm/user.py — for vm_read / vm_write / vm_copy a hole anywhere in the
page-rounded range (KERN_INVALID_ADDRESS) wins over a protection failure, and for
vm_copy the source range is checked (hole, then protection) before the
destination; for vm_protect a hole wins over a protection failure.

vm_protect with set_maximum: the spec's matrix says "new prot exceeds max → 2"
for vm_protect without restricting it to set_maximum == FALSE, and Mach's
vm_map_protect checks `(new_prot & max_protection) != new_prot` for both forms,
so the maximum protection can only be lowered.  The model follows the spec
(see test_S3_4_vm_protect_set_maximum_cannot_raise_max_protection).
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from normach import Cluster, KernError, KernReturn, VMInherit, VMProt, mach

K = KernReturn
PAGE = 4096
BASE = 0x1000_0000
WINDOW = 16                      # pages in the window every operation targets
MAX_TASKS = 5
READ, WRITE = int(VMProt.READ), int(VMProt.WRITE)

SETTINGS = settings(max_examples=60, stateful_step_count=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.filter_too_much],
                    print_blob=True)
SMALL_POOL_SETTINGS = SETTINGS


# -- helpers ---------------------------------------------------------------------------------

def audit(c: Cluster) -> list[str]:
    """Every kernel invariant of the cluster (frames, objects, pmaps, IPC); [] when all hold."""
    return c.audit()


def call(expected_code, fn, *args):
    """Call fn(*args); expect success (expected_code None) or KernError(expected_code)."""
    try:
        result = fn(*args)
    except KernError as exc:
        assert expected_code is not None, (
            f"{fn.__name__}{args[1:]} failed with {K(exc.code).name}, model expects success")
        assert exc.code == expected_code, (
            f"{fn.__name__}{args[1:]} failed with {K(exc.code).name}, "
            f"model expects {K(expected_code).name}")
        return None
    assert expected_code is None, (
        f"{fn.__name__}{args[1:]} succeeded, model expects {K(expected_code).name}")
    return result


def pages_of(addr: int, size: int) -> range:
    """Page numbers (relative to BASE) of the page-rounded range [addr, addr+size)."""
    first = (addr - BASE) // PAGE
    last = (addr + size - 1 - BASE) // PAGE
    return range(first, last + 1)


class Cell:
    """The memory of one page: shared by every task that maps it with SHARE."""

    __slots__ = ("data",)

    def __init__(self, data: bytes | None = None):
        self.data = bytearray(PAGE) if data is None else bytearray(data)


class PageRec:
    __slots__ = ("cell", "prot", "maxp", "inh")

    def __init__(self, cell, prot=int(VMProt.DEFAULT), maxp=int(VMProt.ALL),
                 inh=int(VMInherit.COPY)):
        self.cell, self.prot, self.maxp, self.inh = cell, prot, maxp, inh


class ModelTask:
    def __init__(self, handle, name):
        self.h = handle
        self.name = name
        self.pages: dict[int, PageRec] = {}

    # byte-level access through the cells (callers have checked the range is mapped)
    def read(self, addr: int, n: int) -> bytes:
        out = bytearray()
        while n:
            pn, off = divmod(addr - BASE, PAGE)
            k = min(n, PAGE - off)
            out += self.pages[pn].cell.data[off:off + k]
            addr, n = addr + k, n - k
        return bytes(out)

    def write(self, addr: int, data: bytes) -> None:
        pos = 0
        while pos < len(data):
            pn, off = divmod(addr + pos - BASE, PAGE)
            k = min(len(data) - pos, PAGE - off)
            self.pages[pn].cell.data[off:off + k] = data[pos:pos + k]
            pos += k

    def access_error(self, addr: int, size: int, need: int):
        """The code vm_read/vm_write/vm_copy must give for [addr, addr+size), or None."""
        pns = pages_of(addr, size)
        if any(pn not in self.pages for pn in pns):
            return K.KERN_INVALID_ADDRESS
        if any(need & ~self.pages[pn].prot for pn in pns):
            return K.KERN_PROTECTION_FAILURE
        return None


# strategies
task_ix = st.integers(0, MAX_TASKS - 1)
first_page = st.integers(0, WINDOW - 1)
npages = st.integers(1, 4)
prots = st.one_of(st.sampled_from([1, 3, 7]), st.integers(0, 7))
inherits = st.sampled_from([VMInherit.SHARE, VMInherit.COPY, VMInherit.NONE])
offsets = st.one_of(st.integers(0, WINDOW - 1).map(lambda pn: pn * PAGE + PAGE - 8),
                    st.integers(0, WINDOW * PAGE - 1))
lengths = st.one_of(st.integers(1, 64), st.integers(1, 2 * PAGE + 16))
# the window's initial layout: (pages, mapped?) chunks
layouts = st.lists(st.tuples(st.integers(1, 4), st.sampled_from([True, True, True, False])),
                   min_size=1, max_size=WINDOW)
seeds = st.integers(0, 2 ** 32 - 1)


class VMModel(RuleBasedStateMachine):
    """Random VM operations over up to five tasks, checked against the cell model."""

    PHYS_BYTES = 16 << 20
    BALLAST_PAGES = 0            # touched pages of a bystander task, to create memory pressure

    def __init__(self):
        super().__init__()
        self.c = Cluster(nodes=1, phys_bytes=self.PHYS_BYTES)
        self.tasks = [ModelTask(self.c.task_create(node=0), "root")]
        self.serial = 0
        self.ballast = None
        if self.BALLAST_PAGES:
            self.ballast = self.c.task_create(node=0, name="ballast")
            mach.vm_allocate(self.ballast, BASE, self.BALLAST_PAGES * PAGE, False)
            mach.vm_write(self.ballast, BASE, self.ballast_data())

    def ballast_data(self) -> bytes:
        return random.Random(7).randbytes(self.BALLAST_PAGES * PAGE)

    def teardown(self):
        try:
            if self.ballast is not None:     # the bystander's memory survived the paging
                got = mach.vm_read(self.ballast, BASE, self.BALLAST_PAGES * PAGE)
                assert got == self.ballast_data(), "ballast task's memory changed"
            problems = audit(self.c)
            self.c.close()
            problems += audit(self.c)
            assert problems == [], "\n".join(problems)
        finally:
            self.c.close()

    @initialize(layout=layouts, seed=seeds)
    def populate(self, layout, seed):
        """Map most of the window in the root task, in regions of 1-4 pages, with random data."""
        t, pn, rnd = self.tasks[0], 0, random.Random(seed)
        for n, mapped in layout:
            n = min(n, WINDOW - pn)
            if n <= 0:
                break
            if mapped:
                addr = BASE + pn * PAGE
                assert mach.vm_allocate(t.h, addr, n * PAGE, False) == addr
                data = rnd.randbytes(n * PAGE)
                mach.vm_write(t.h, addr, data)
                for k in range(n):
                    t.pages[pn + k] = PageRec(Cell(data[k * PAGE:(k + 1) * PAGE]))
            pn += n
        if self.ballast is not None:
            self.touch_ballast()            # push the window's fresh pages out to the pager

    def task(self, i: int) -> ModelTask:
        return self.tasks[i % len(self.tasks)]

    # -- vm_allocate (V2.3, §3.4) -----------------------------------------------------------
    @rule(i=task_ix, first=first_page, n=npages, slack=st.sampled_from([0, 1, PAGE - 1]))
    def allocate(self, i, first, n, slack):
        t = self.task(i)
        addr, size = BASE + first * PAGE, n * PAGE - slack
        pns = pages_of(addr, size)
        expected = K.KERN_NO_SPACE if any(pn in t.pages for pn in pns) else None
        got = call(expected, mach.vm_allocate, t.h, addr, size, False)
        if expected is None:
            assert got == addr
            for pn in pns:
                t.pages[pn] = PageRec(Cell())

    # -- vm_deallocate (holes ignored) -------------------------------------------------------
    @rule(i=task_ix, first=first_page, n=st.integers(1, 2))
    def deallocate(self, i, first, n):
        t = self.task(i)
        addr, size = BASE + first * PAGE, n * PAGE
        call(None, mach.vm_deallocate, t.h, addr, size)
        for pn in pages_of(addr, size):
            t.pages.pop(pn, None)

    # -- vm_protect (§3.4: hole → 1; new protection above max → 2) -----------------------
    @rule(i=task_ix, first=first_page, n=npages, set_max=st.booleans(), prot=prots)
    def protect(self, i, first, n, set_max, prot):
        t = self.task(i)
        addr, size = BASE + first * PAGE, n * PAGE
        pns = pages_of(addr, size)
        if any(pn not in t.pages for pn in pns):
            expected = K.KERN_INVALID_ADDRESS
        elif any(prot & ~t.pages[pn].maxp for pn in pns):
            expected = K.KERN_PROTECTION_FAILURE
        else:
            expected = None
        call(expected, mach.vm_protect, t.h, addr, size, set_max, prot)
        if expected is None:
            for pn in pns:
                p = t.pages[pn]
                if set_max:
                    p.maxp = prot
                    p.prot &= prot
                else:
                    p.prot = prot

    # -- vm_inherit (V2.2: holes skipped) ----------------------------------------------------
    @rule(i=task_ix, first=first_page, n=npages, inh=inherits)
    def inherit(self, i, first, n, inh):
        t = self.task(i)
        addr, size = BASE + first * PAGE, n * PAGE
        call(None, mach.vm_inherit, t.h, addr, size, int(inh))
        for pn in pages_of(addr, size):
            if pn in t.pages:
                t.pages[pn].inh = int(inh)

    # -- vm_write / vm_read / vm_copy (§3.4) -------------------------------------------------
    @rule(i=task_ix, off=offsets, n=lengths, seed=seeds)
    def write(self, i, off, n, seed):
        t = self.task(i)
        addr = BASE + off
        data = random.Random(seed).randbytes(n)
        expected = t.access_error(addr, n, WRITE)
        call(expected, mach.vm_write, t.h, addr, data)
        if expected is None:
            t.write(addr, data)

    @rule(i=task_ix, off=offsets, n=lengths)
    def read(self, i, off, n):
        t = self.task(i)
        addr = BASE + off
        expected = t.access_error(addr, n, READ)
        got = call(expected, mach.vm_read, t.h, addr, n)
        if expected is None:
            assert got == t.read(addr, n), f"vm_read({addr:#x}, {n}) differs from the model"

    @rule(i=task_ix, src=offsets, n=lengths, dst=offsets)
    def copy(self, i, src, n, dst):
        t = self.task(i)
        s, d = BASE + src, BASE + dst
        expected = t.access_error(s, n, READ) or t.access_error(d, n, WRITE)
        call(expected, mach.vm_copy, t.h, s, n, d)
        if expected is None:
            t.write(d, t.read(s, n))

    # -- task_create (V2.4-V2.9, §9.13) / task_terminate -----------------------------------
    @precondition(lambda self: len(self.tasks) < MAX_TASKS)
    @rule(i=task_ix, inherit_memory=st.sampled_from([True, True, True, False]))
    def fork(self, i, inherit_memory):
        parent = self.task(i)
        handle = call(None, mach.task_create, parent.h, inherit_memory)
        self.serial += 1
        child = ModelTask(handle, f"{parent.name}.{self.serial}")
        if inherit_memory:
            for pn, p in parent.pages.items():
                if p.inh == VMInherit.SHARE:
                    child.pages[pn] = PageRec(p.cell, p.prot, p.maxp, p.inh)
                elif p.inh == VMInherit.COPY and p.maxp & READ:
                    child.pages[pn] = PageRec(Cell(p.cell.data), p.prot, p.maxp, p.inh)
        self.tasks.append(child)

    @precondition(lambda self: len(self.tasks) > 1)
    @rule(i=task_ix)
    def terminate(self, i):
        victim = self.tasks[1 + i % (len(self.tasks) - 1)]
        call(None, mach.task_terminate, victim.h)
        self.tasks.remove(victim)

    # -- memory pressure (small pool only) ---------------------------------------------------
    @precondition(lambda self: self.ballast is not None)
    @rule()
    def touch_ballast(self):
        """Page the bystander's memory back in: the window's pages are paged out meanwhile."""
        got = mach.vm_read(self.ballast, BASE, self.BALLAST_PAGES * PAGE)
        assert got == self.ballast_data(), "ballast task's memory changed"

    # -- invariants ----------------------------------------------------------------------------
    @invariant()
    def memory_matches_model(self):
        for t in self.tasks:
            for pn, p in sorted(t.pages.items()):
                if not p.prot & READ:
                    continue                  # unreadable: the contents cannot be observed
                got = mach.vm_read(t.h, BASE + pn * PAGE, PAGE)
                if got != bytes(p.cell.data):
                    diff = next(k for k in range(PAGE) if got[k] != p.cell.data[k])
                    raise AssertionError(
                        f"task {t.name} page {pn} ({BASE + pn * PAGE:#x}): byte {diff} is "
                        f"{got[diff]:#x}, model {p.cell.data[diff]:#x}")

    @invariant()
    def regions_match_model(self):
        users = {}
        for t in self.tasks:
            for p in t.pages.values():
                users[id(p.cell)] = users.get(id(p.cell), 0) + 1
        for t in self.tasks:
            # nothing is mapped below the window (V2.9: a child without memory is empty)
            if t.pages:
                assert mach.vm_region(t.h, 0).address == BASE + min(t.pages) * PAGE, t.name
            else:
                call(K.KERN_NO_SPACE, mach.vm_region, t.h, 0)
            for pn in range(WINDOW):
                addr = BASE + pn * PAGE
                p = t.pages.get(pn)
                above = [q for q in t.pages if q >= pn]
                if not above:
                    call(K.KERN_NO_SPACE, mach.vm_region, t.h, addr)
                    continue
                r = mach.vm_region(t.h, addr)
                where = f"task {t.name} page {pn} ({addr:#x}): {r}"
                if p is None:
                    assert r.address == BASE + min(above) * PAGE, where
                    continue
                assert r.address <= addr < r.address + r.size, where
                attrs = (p.prot, p.maxp, p.inh)
                assert (r.protection, r.max_protection, r.inheritance) == attrs, \
                    f"{where}: model prot/max/inh {attrs}"
                for q in range((r.address - BASE) // PAGE, (r.address + r.size - BASE) // PAGE):
                    m = t.pages.get(q)
                    assert m is not None, f"{where}: region covers unmapped page {q}"
                    assert (m.prot, m.maxp, m.inh) == attrs, \
                        f"{where}: region spans page {q} with other attributes"
                if users[id(p.cell)] > 1:
                    assert r.shared, f"{where}: shared with another task, not reported shared"

    @invariant()
    def kernel_audit_is_clean(self):
        problems = audit(self.c)
        assert problems == [], "\n".join(problems)


class VMModelSmallPool(VMModel):
    """The same rules on a 48-frame node, 44 frames of which a bystander task has
    touched first: pageout and page-in happen inside the sequences."""

    PHYS_BYTES = 48 * PAGE
    BALLAST_PAGES = 44


def test_V2_2_to_V2_9_random_sequences_match_reference_model():
    run_state_machine_as_test(VMModel, settings=SETTINGS)


def test_V2_4_to_V2_9_random_sequences_match_reference_model_under_pageout():
    run_state_machine_as_test(VMModelSmallPool, settings=SMALL_POOL_SETTINGS)


# -- deterministic tests -----------------------------------------------------------------------

@pytest.fixture
def small():
    c = Cluster(nodes=1, phys_bytes=48 * PAGE)
    yield c
    problems = audit(c)
    c.close()
    problems += audit(c)
    assert problems == [], "\n".join(problems)


def pattern(tag: int, pn: int) -> bytes:
    return random.Random(tag * 1000 + pn).randbytes(PAGE)


def test_V2_6_V2_7_share_and_copy_survive_pageout_and_pagein(small):
    """64 pages in a 48-frame pool: contents, SHARE coherence and COPY snapshots survive."""
    n = 64
    t = small.task_create(node=0)
    base = mach.vm_allocate(t, BASE, n * PAGE, False)
    for pn in range(n):
        mach.vm_write(t, base + pn * PAGE, pattern(1, pn))
    half = n // 2 * PAGE
    mach.vm_inherit(t, base, half, VMInherit.SHARE)            # low half shared, high half copied
    child = mach.task_create(t, True)
    for pn in range(n):                                         # parent rewrites everything
        mach.vm_write(t, base + pn * PAGE, pattern(2, pn))
    for pn in range(n):
        addr = base + pn * PAGE
        want_child = pattern(2, pn) if pn < n // 2 else pattern(1, pn)
        assert mach.vm_read(child, addr, PAGE) == want_child, f"child page {pn}"
        assert mach.vm_read(t, addr, PAGE) == pattern(2, pn), f"parent page {pn}"
    for pn in range(0, n // 2):                                 # child writes the shared half
        mach.vm_write(child, base + pn * PAGE + 7, b"child")
    for pn in range(n):
        got = mach.vm_read(t, base + pn * PAGE + 7, 5)
        assert got == (b"child" if pn < n // 2 else pattern(2, pn)[7:12]), f"page {pn}"
    stats = mach.vm_statistics(t)
    assert stats["pageouts"] > 0
    assert stats["pageins"] > 0
    mach.task_terminate(child)


# -- regression tests: rules the random sequences found broken ---------------------------------

def test_S3_4_vm_protect_set_maximum_cannot_raise_max_protection(small):
    """Spec §3.4 "vm_protect: new prot exceeds max → 2" (Mach vm_map_protect checks
    `(new_prot & max_protection) != new_prot` for set_maximum too): max protection
    can only be lowered."""
    t = small.task_create(node=0)
    mach.vm_allocate(t, BASE, PAGE, False)
    mach.vm_protect(t, BASE, PAGE, True, VMProt.READ)
    with pytest.raises(KernError) as exc:
        mach.vm_protect(t, BASE, PAGE, True, VMProt.ALL)
    assert exc.value.code == K.KERN_PROTECTION_FAILURE
    r = mach.vm_region(t, BASE)
    assert (r.protection, r.max_protection) == (VMProt.READ, VMProt.READ)


def test_V2_6_write_copying_up_into_shared_object_revokes_sharers_translations():
    """V2.6 (SHARE: a write by either sharer is what the other sees) and the audit rule
    "every translation maps the page the fault path would find".

    A region that is both copy-on-write (needs_copy, from an earlier COPY child) and
    then shared gets a shadow object that the sharers map; its pages still live in the
    shadowed object.  A sharer's read maps the lower page read-only; the other
    sharer's write copies the page up into the shared top object, but the reader's
    translation of the lower frame is not revoked (Mach's vm_fault flushes every
    mapping of the original page with pmap_page_protect(VM_PROT_NONE) here), so
    the reader's pmap keeps showing the old data.
    """
    c = Cluster(nodes=1, phys_bytes=1 << 20)
    try:
        a = c.task_create(node=0)
        mach.vm_allocate(a, BASE, PAGE, False)
        mach.vm_write(a, BASE, b"old")
        mach.task_create(a, True)                       # COPY child: a's entry needs_copy
        mach.vm_inherit(a, BASE, PAGE, VMInherit.SHARE)
        s = mach.task_create(a, True)                   # SHARE child: both map a new shadow
        assert mach.vm_read(s, BASE, 3) == b"old"       # s maps the lower page read-only
        assert audit(c) == []
        mach.vm_write(a, BASE, b"new")                  # copy-up into the shared shadow
        assert audit(c) == []
        assert mach.vm_read(s, BASE, 3) == b"new"
    finally:
        c.close()
