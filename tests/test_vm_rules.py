"""Address-space inheritance rules V2.1-V2.9 (spec §2.1-2.3, §9.13).

Each test is named after the rule it checks.  Memory is observed only through
the public routines (vm_read / vm_write / vm_region); the `cluster` fixture
audits the kernel's invariants after every test.
"""

import random

import pytest

from normach import KernError, KernReturn, VMInherit, VMProt, mach

K = KernReturn
P = 4096


# -- helpers -------------------------------------------------------------------------------

from vmhelp import alloc, code_of, page_data  # noqa: E402  (shared helpers)


def assert_pages(t, a: int, npages: int, tag: str | None):
    for i in range(npages):
        want = bytes(P) if tag is None else page_data(tag, i)
        assert mach.vm_read(t, a + i * P, P) == want, f"page {i} of {a:#x} is not {tag!r}"


def regions(t) -> list:
    out, addr = [], 0
    while True:
        try:
            r = mach.vm_region(t, addr)
        except KernError as e:
            assert e.code == K.KERN_NO_SPACE
            return out
        out.append(r)
        addr = r.address + r.size


def layout(t) -> list:
    return [(r.address, r.size) for r in regions(t)]


def fork(t, inherit=True):
    return mach.task_create(t, inherit)


# -- V2.1 ------------------------------------------------------------------------------------

@pytest.mark.parametrize("inh", [VMInherit.SHARE, VMInherit.COPY, VMInherit.NONE])
def test_V2_1_vm_inherit_accepts_share_copy_none(task, inh):
    a = alloc(task, 1)
    mach.vm_inherit(task, a, P, inh)
    assert mach.vm_region(task, a).inheritance == inh


@pytest.mark.parametrize("inh", [3, 4, 99, 2**32, -1])
def test_V2_1_vm_inherit_value_above_2_is_invalid_argument(task, inh):
    a = alloc(task, 1)
    assert code_of(mach.vm_inherit, task, a, P, inh) == K.KERN_INVALID_ARGUMENT
    assert mach.vm_region(task, a).inheritance == VMInherit.COPY


def test_V2_1_vm_inherit_donate_copy_is_invalid_argument(task):
    a = alloc(task, 1)
    assert code_of(mach.vm_inherit, task, a, P, VMInherit.DONATE_COPY) == K.KERN_INVALID_ARGUMENT


def test_V2_1_vm_inherit_on_terminated_task_is_invalid_argument(cluster):
    t = cluster.task_create()
    a = alloc(t, 1)
    mach.task_terminate(t)
    assert code_of(mach.vm_inherit, t, a, P, VMInherit.SHARE) == K.KERN_INVALID_ARGUMENT


# -- V2.2 ------------------------------------------------------------------------------------

def test_V2_2_range_rounded_outward_inside_one_page(task):
    a = alloc(task, 4)
    mach.vm_inherit(task, a + P + 100, 10, VMInherit.SHARE)
    rs = regions(task)
    assert [(r.address - a, r.size, r.inheritance) for r in rs] == [
        (0, P, VMInherit.COPY), (P, P, VMInherit.SHARE), (2 * P, 2 * P, VMInherit.COPY)]


def test_V2_2_range_rounded_outward_across_page_boundary(task):
    a = alloc(task, 4)
    mach.vm_inherit(task, a + P - 1, 2, VMInherit.NONE)   # touches pages 0 and 1
    rs = regions(task)
    assert [(r.address - a, r.size, r.inheritance) for r in rs] == [
        (0, 2 * P, VMInherit.NONE), (2 * P, 2 * P, VMInherit.COPY)]


def test_V2_2_entries_split_at_both_boundaries(task):
    a = alloc(task, 5, "x")
    mach.vm_inherit(task, a + 2 * P, P, VMInherit.SHARE)
    assert layout(task) == [(a, 2 * P), (a + 2 * P, P), (a + 3 * P, 2 * P)]
    # splitting changes nothing of the contents
    assert_pages(task, a, 5, "x")


def test_V2_2_split_takes_effect_in_the_child(task):
    a = alloc(task, 3, "p")
    mach.vm_inherit(task, a + P, P, VMInherit.NONE)
    child = fork(task)
    assert layout(child) == [(a, P), (a + 2 * P, P)]
    assert mach.vm_read(child, a, P) == page_data("p", 0)
    assert mach.vm_read(child, a + 2 * P, P) == page_data("p", 2)
    assert code_of(mach.vm_read, child, a + P, 1) == K.KERN_INVALID_ADDRESS


def test_V2_2_holes_are_skipped_without_error(task):
    base = alloc(task, 5)
    mach.vm_deallocate(task, base + P, P)          # hole at page 1
    mach.vm_deallocate(task, base + 3 * P, P)      # hole at page 3
    mach.vm_inherit(task, base, 5 * P, VMInherit.SHARE)
    rs = regions(task)
    assert [(r.address - base, r.size) for r in rs] == [(0, P), (2 * P, P), (4 * P, P)]
    assert all(r.inheritance == VMInherit.SHARE for r in rs)
    # the holes stay holes
    assert code_of(mach.vm_read, task, base + P, 1) == K.KERN_INVALID_ADDRESS


def test_V2_2_wholly_unmapped_range_succeeds(task):
    mach.vm_inherit(task, 0x5000_0000, 16 * P, VMInherit.NONE)
    assert regions(task) == []


def test_V2_2_partly_unmapped_range_changes_only_mapped_part(task):
    a = alloc(task, 2)
    mach.vm_inherit(task, a - 8 * P, 20 * P, VMInherit.NONE)
    assert [(r.address, r.size, r.inheritance) for r in regions(task)] == [
        (a, 2 * P, VMInherit.NONE)]


def test_V2_2_size_zero_changes_nothing(task):
    a = alloc(task, 2)
    mach.vm_inherit(task, a, 0, VMInherit.NONE)
    assert [(r.address, r.size, r.inheritance) for r in regions(task)] == [
        (a, 2 * P, VMInherit.COPY)]


# -- V2.3 ------------------------------------------------------------------------------------

def test_V2_3_vm_allocate_region_defaults(task):
    a = alloc(task, 3)
    r = mach.vm_region(task, a)
    assert (r.address, r.size) == (a, 3 * P)
    assert r.protection == VMProt.DEFAULT == VMProt.READ | VMProt.WRITE
    assert r.max_protection == VMProt.ALL
    assert r.inheritance == VMInherit.COPY == VMInherit.DEFAULT
    assert r.shared is False


def test_V2_3_vm_allocate_fixed_region_defaults(task):
    a = mach.vm_allocate(task, 0x2000_0000, 2 * P, False)
    assert a == 0x2000_0000
    r = mach.vm_region(task, a)
    assert (r.protection, r.max_protection, r.inheritance) == (
        VMProt.DEFAULT, VMProt.ALL, VMInherit.COPY)


def test_V2_3_vm_map_with_default_arguments(task):
    a = mach.vm_map(task, 0, 2 * P, 0, True, None, 0, False,
                    VMProt.DEFAULT, VMProt.ALL, VMInherit.DEFAULT)
    r = mach.vm_region(task, a)
    assert (r.address, r.size, r.protection, r.max_protection, r.inheritance) == (
        a, 2 * P, VMProt.DEFAULT, VMProt.ALL, VMInherit.COPY)


def test_V2_3_vm_map_records_given_attributes(task):
    a = mach.vm_map(task, 0, P, 0, True, None, 0, False,
                    VMProt.READ, VMProt.READ | VMProt.WRITE, VMInherit.SHARE)
    r = mach.vm_region(task, a)
    assert (r.protection, r.max_protection, r.inheritance) == (
        VMProt.READ, VMProt.READ | VMProt.WRITE, VMInherit.SHARE)


def test_V2_3_new_memory_is_zero_filled(task):
    a = alloc(task, 3)
    assert mach.vm_read(task, a, 3 * P) == bytes(3 * P)


def test_V2_3_size_rounded_up_to_pages(task):
    a = mach.vm_allocate(task, 0, 1, True)
    assert mach.vm_region(task, a).size == P
    b = mach.vm_allocate(task, 0, P + 1, True)
    assert mach.vm_region(task, b).size == 2 * P


# -- V2.4 ------------------------------------------------------------------------------------

def test_V2_4_child_regions_at_same_addresses_and_sizes(task):
    mach.vm_allocate(task, 0x1000, P, False)                # lowest user page
    mach.vm_allocate(task, 0x3000_0000, 7 * P, False)
    alloc(task, 3, "a")
    alloc(task, 1)
    mach.vm_allocate(task, 0x7FFF_FFFF_E000, P, False)      # last user page
    want = layout(task)
    child = fork(task)
    assert layout(child) == want


def test_V2_4_child_regions_keep_split_boundaries(task):
    a = alloc(task, 6)
    mach.vm_protect(task, a + P, P, False, VMProt.READ)
    mach.vm_inherit(task, a + 3 * P, 2 * P, VMInherit.SHARE)
    child = fork(task)
    assert layout(child) == layout(task)


def test_V2_4_child_map_has_same_bounds(task):
    child = fork(task)
    # the whole user range is usable in the child, as in the parent
    assert mach.vm_allocate(child, 0x1000, P, False) == 0x1000
    assert mach.vm_allocate(child, 0x7FFF_FFFF_E000, P, False) == 0x7FFF_FFFF_E000
    assert code_of(mach.vm_allocate, child, 0x7FFF_FFFF_F000, P, False) == K.KERN_INVALID_ADDRESS


def test_V2_4_child_contents_equal_parent_at_fork(task):
    a = alloc(task, 8, "fork")
    child = fork(task)
    assert_pages(child, a, 8, "fork")


# -- V2.5 ------------------------------------------------------------------------------------

def test_V2_5_none_region_absent_vm_read_invalid_address(task):
    a = alloc(task, 2, "n")
    mach.vm_inherit(task, a, 2 * P, VMInherit.NONE)
    child = fork(task)
    assert code_of(mach.vm_read, child, a, P) == K.KERN_INVALID_ADDRESS
    assert code_of(mach.vm_write, child, a, b"z") == K.KERN_INVALID_ADDRESS


def test_V2_5_none_region_skipped_by_vm_region(task):
    a = alloc(task, 2)
    b = alloc(task, 3)
    mach.vm_inherit(task, a, 2 * P, VMInherit.NONE)
    child = fork(task)
    r = mach.vm_region(child, a)
    assert (r.address, r.size) == (b, 3 * P)


def test_V2_5_only_none_region_child_vm_region_no_space(task):
    a = alloc(task, 1)
    mach.vm_inherit(task, a, P, VMInherit.NONE)
    child = fork(task)
    assert code_of(mach.vm_region, child, 0) == K.KERN_NO_SPACE


def test_V2_5_none_range_free_for_allocation_in_child(task):
    a = alloc(task, 2, "n")
    mach.vm_inherit(task, a, 2 * P, VMInherit.NONE)
    child = fork(task)
    assert mach.vm_allocate(child, a, 2 * P, False) == a
    assert mach.vm_read(child, a, 2 * P) == bytes(2 * P)
    # the parent keeps its memory
    assert_pages(task, a, 2, "n")


def test_V2_5_none_region_stays_in_parent(task):
    a = alloc(task, 1, "keep")
    mach.vm_inherit(task, a, P, VMInherit.NONE)
    fork(task)
    assert_pages(task, a, 1, "keep")
    assert mach.vm_region(task, a).inheritance == VMInherit.NONE


# -- V2.6 ------------------------------------------------------------------------------------

def test_V2_6_share_region_writes_visible_both_ways(task):
    a = alloc(task, 2, "before")
    mach.vm_inherit(task, a, 2 * P, VMInherit.SHARE)
    child = fork(task)
    assert_pages(child, a, 2, "before")
    mach.vm_write(child, a, b"from child")
    assert mach.vm_read(task, a, 10) == b"from child"
    mach.vm_write(task, a + P + 5, b"from parent")
    assert mach.vm_read(child, a + P + 5, 11) == b"from parent"


def test_V2_6_share_visible_forever_over_many_writes(task):
    a = alloc(task, 4)
    mach.vm_inherit(task, a, 4 * P, VMInherit.SHARE)
    child = fork(task)
    rng = random.Random(6)
    for n in range(200):
        writer, reader = (task, child) if n % 2 else (child, task)
        off = rng.randrange(0, 4 * P - 8)
        data = n.to_bytes(8, "little")
        mach.vm_write(writer, a + off, data)
        assert mach.vm_read(reader, a + off, 8) == data


def test_V2_6_never_touched_region_shared_then_written_by_child(task):
    a = alloc(task, 3)                      # never touched
    mach.vm_inherit(task, a, 3 * P, VMInherit.SHARE)
    child = fork(task)
    mach.vm_write(child, a + 2 * P, b"child wrote first")
    assert mach.vm_read(task, a + 2 * P, 17) == b"child wrote first"
    mach.vm_write(task, a, b"then parent")
    assert mach.vm_read(child, a, 11) == b"then parent"


def test_V2_6_never_touched_region_shared_then_written_by_parent(task):
    a = alloc(task, 1)
    mach.vm_inherit(task, a, P, VMInherit.SHARE)
    child = fork(task)
    mach.vm_write(task, a, b"parent first")
    assert mach.vm_read(child, a, 12) == b"parent first"


def test_V2_6_both_entries_marked_shared(task):
    a = alloc(task, 1)
    mach.vm_inherit(task, a, P, VMInherit.SHARE)
    child = fork(task)
    assert mach.vm_region(task, a).shared is True
    assert mach.vm_region(child, a).shared is True


def test_V2_6_grandchild_inheriting_share_sees_all_writes(task):
    a = alloc(task, 2)
    mach.vm_inherit(task, a, 2 * P, VMInherit.SHARE)
    child = fork(task)
    grandchild = fork(child)
    assert mach.vm_region(grandchild, a).inheritance == VMInherit.SHARE
    mach.vm_write(grandchild, a, b"gc")
    assert mach.vm_read(task, a, 2) == b"gc"
    assert mach.vm_read(child, a, 2) == b"gc"
    mach.vm_write(task, a + P, b"root")
    assert mach.vm_read(grandchild, a + P, 4) == b"root"
    mach.vm_write(child, a + 100, b"mid")
    assert mach.vm_read(grandchild, a + 100, 3) == b"mid"
    assert mach.vm_read(task, a + 100, 3) == b"mid"


def test_V2_6_share_after_earlier_copy_fork_keeps_copy_child_isolated(task):
    a = alloc(task, 2, "orig")
    copy_child = fork(task)                 # COPY snapshot
    mach.vm_inherit(task, a, 2 * P, VMInherit.SHARE)
    sharer = fork(task)
    mach.vm_write(sharer, a, b"sharer")
    assert mach.vm_read(task, a, 6) == b"sharer"
    mach.vm_write(task, a + P, b"parent")
    assert mach.vm_read(sharer, a + P, 6) == b"parent"
    assert_pages(copy_child, a, 2, "orig")


def test_V2_6_share_after_parent_wrote_its_cow_copy(task):
    a = alloc(task, 1, "orig")
    copy_child = fork(task)
    mach.vm_write(task, a, b"PARENT")       # parent now has a private shadow
    mach.vm_inherit(task, a, P, VMInherit.SHARE)
    sharer = fork(task)
    assert mach.vm_read(sharer, a, 6) == b"PARENT"
    mach.vm_write(sharer, a, b"SHARER")
    assert mach.vm_read(task, a, 6) == b"SHARER"
    assert mach.vm_read(copy_child, a, P) == page_data("orig", 0)


def test_V2_6_share_part_of_region(task):
    a = alloc(task, 3, "s")
    mach.vm_inherit(task, a + P, P, VMInherit.SHARE)
    child = fork(task)
    mach.vm_write(child, a, b"private0")
    mach.vm_write(child, a + P, b"shared1")
    mach.vm_write(child, a + 2 * P, b"private2")
    assert mach.vm_read(task, a, P) == page_data("s", 0)
    assert mach.vm_read(task, a + P, 7) == b"shared1"
    assert mach.vm_read(task, a + 2 * P, P) == page_data("s", 2)


def test_V2_6_share_with_several_children(task):
    a = alloc(task, 1)
    mach.vm_inherit(task, a, P, VMInherit.SHARE)
    kids = [fork(task) for _ in range(4)]
    for i, k in enumerate(kids):
        mach.vm_write(k, a + 8 * i, bytes([i + 1]) * 8)
    want = b"".join(bytes([i + 1]) * 8 for i in range(4))
    for t in [task, *kids]:
        assert mach.vm_read(t, a, 32) == want


def test_V2_6_vm_copy_into_shared_region_visible_to_sharer(task):
    a = alloc(task, 1)
    src = alloc(task, 1, "src")
    mach.vm_inherit(task, a, P, VMInherit.SHARE)
    child = fork(task)
    mach.vm_copy(task, src, P, a)
    assert mach.vm_read(child, a, P) == page_data("src", 0)


# -- V2.7 ------------------------------------------------------------------------------------

def test_V2_7_copy_child_sees_snapshot_at_creation(task):
    a = alloc(task, 2, "snap")
    child = fork(task)
    mach.vm_write(task, a, b"later")
    assert_pages(child, a, 2, "snap")


def test_V2_7_child_writes_private(task):
    a = alloc(task, 2, "snap")
    child = fork(task)
    mach.vm_write(child, a + P, b"child")
    assert_pages(task, a, 2, "snap")
    assert mach.vm_read(child, a + P, 5) == b"child"


def test_V2_7_writes_private_on_both_sides_same_page(task):
    a = alloc(task, 1, "snap")
    child = fork(task)
    mach.vm_write(task, a, b"PARENT")
    mach.vm_write(child, a, b"CHILD!")
    assert mach.vm_read(task, a, 6) == b"PARENT"
    assert mach.vm_read(child, a, 6) == b"CHILD!"
    assert mach.vm_read(task, a + 6, P - 6) == page_data("snap", 0)[6:]
    assert mach.vm_read(child, a + 6, P - 6) == page_data("snap", 0)[6:]


def test_V2_7_many_pages_both_sides_private(task):
    n = 64
    a = alloc(task, n, "base")
    child = fork(task)
    for i in range(0, n, 2):
        mach.vm_write(task, a + i * P, page_data("parent", i))
    for i in range(1, n, 3):
        mach.vm_write(child, a + i * P, page_data("child", i))
    for i in range(n):
        pw = i % 2 == 0
        cw = i % 3 == 1
        assert mach.vm_read(task, a + i * P, P) == page_data("parent" if pw else "base", i)
        assert mach.vm_read(child, a + i * P, P) == page_data("child" if cw else "base", i)


def test_V2_7_never_touched_copy_region(task):
    a = alloc(task, 2)
    child = fork(task)
    mach.vm_write(task, a, b"parent")
    assert mach.vm_read(child, a, 2 * P) == bytes(2 * P)
    mach.vm_write(child, a + P, b"child")
    assert mach.vm_read(task, a + P, 5) == bytes(5)
    assert mach.vm_read(task, a, 6) == b"parent"


def test_V2_7_partially_touched_copy_region(task):
    a = alloc(task, 4)
    mach.vm_write(task, a + P, b"one")
    child = fork(task)
    mach.vm_write(task, a + 3 * P, b"three")
    assert mach.vm_read(child, a + P, 3) == b"one"
    assert mach.vm_read(child, a + 3 * P, 5) == bytes(5)
    assert mach.vm_read(child, a, P) == bytes(P)


def test_V2_7_share_region_set_to_copy_snapshot_stable_while_sharer_writes(task):
    n = 8
    a = alloc(task, n, "v0")
    mach.vm_inherit(task, a, n * P, VMInherit.SHARE)
    sharer = fork(task)
    mach.vm_inherit(task, a, n * P, VMInherit.COPY)
    snap = fork(task)
    # the sharer keeps writing every page; the parent writes some too
    for i in range(n):
        mach.vm_write(sharer, a + i * P, page_data("v1", i))
    for i in range(0, n, 2):
        mach.vm_write(task, a + i * P, page_data("v2", i))
    assert_pages(snap, a, n, "v0")
    # parent and sharer still share
    for i in range(n):
        want = page_data("v2" if i % 2 == 0 else "v1", i)
        assert mach.vm_read(task, a + i * P, P) == want
        assert mach.vm_read(sharer, a + i * P, P) == want


def test_V2_7_share_then_copy_snapshot_child_writes_stay_private(task):
    a = alloc(task, 2, "v0")
    mach.vm_inherit(task, a, 2 * P, VMInherit.SHARE)
    sharer = fork(task)
    mach.vm_inherit(task, a, 2 * P, VMInherit.COPY)
    snap = fork(task)
    mach.vm_write(snap, a, b"snap-private")
    mach.vm_write(sharer, a, b"sharer")
    mach.vm_write(sharer, a + P, b"sharer")
    assert mach.vm_read(snap, a, 12) == b"snap-private"
    assert mach.vm_read(snap, a + 12, P - 12) == page_data("v0", 0)[12:]
    assert mach.vm_read(snap, a + P, P) == page_data("v0", 1)
    assert mach.vm_read(task, a, 6) == b"sharer"


def test_V2_7_sharer_forks_copy_while_parent_writes(task):
    a = alloc(task, 3, "v0")
    mach.vm_inherit(task, a, 3 * P, VMInherit.SHARE)
    sharer = fork(task)
    mach.vm_inherit(sharer, a, 3 * P, VMInherit.COPY)
    snap = fork(sharer)
    for i in range(3):
        mach.vm_write(task, a + i * P, page_data("v1", i))
    assert_pages(snap, a, 3, "v0")
    assert_pages(sharer, a, 3, "v1")


def test_V2_7_repeated_snapshots_of_shared_region(task):
    n = 4
    a = alloc(task, n, "v0")
    mach.vm_inherit(task, a, n * P, VMInherit.SHARE)
    sharer = fork(task)
    mach.vm_inherit(task, a, n * P, VMInherit.COPY)
    s0a = fork(task)
    s0b = fork(task)                         # nothing changed in between
    mach.vm_write(sharer, a, page_data("v1", 0))
    s1 = fork(task)
    mach.vm_write(sharer, a, page_data("v2", 0))
    mach.vm_write(sharer, a + P, page_data("v2", 1))
    s2 = fork(task)
    for i in range(n):
        mach.vm_write(sharer, a + i * P, page_data("v3", i))
    assert_pages(s0a, a, n, "v0")
    assert_pages(s0b, a, n, "v0")
    assert mach.vm_read(s1, a, P) == page_data("v1", 0)
    assert mach.vm_read(s1, a + P, P) == page_data("v0", 1)
    assert mach.vm_read(s2, a, P) == page_data("v2", 0)
    assert mach.vm_read(s2, a + P, P) == page_data("v2", 1)
    assert mach.vm_read(s2, a + 2 * P, P) == page_data("v0", 2)
    assert_pages(task, a, n, "v3")


def test_V2_7_snapshot_of_shared_region_after_snapshot_child_wrote(task):
    a = alloc(task, 2, "v0")
    mach.vm_inherit(task, a, 2 * P, VMInherit.SHARE)
    sharer = fork(task)
    mach.vm_inherit(task, a, 2 * P, VMInherit.COPY)
    s1 = fork(task)
    mach.vm_write(s1, a, b"s1 own")
    mach.vm_write(sharer, a, page_data("v1", 0))
    s2 = fork(task)
    mach.vm_write(sharer, a + P, page_data("v1", 1))
    mach.vm_write(sharer, a, page_data("v2", 0))
    assert mach.vm_read(s1, a, 6) == b"s1 own"
    assert mach.vm_read(s1, a + P, P) == page_data("v0", 1)
    assert mach.vm_read(s2, a, P) == page_data("v1", 0)
    assert mach.vm_read(s2, a + P, P) == page_data("v0", 1)


def test_V2_7_repeated_forks_of_private_region(task):
    a = alloc(task, 2, "g0")
    kids = []
    for g in range(1, 6):
        kids.append(fork(task))
        mach.vm_write(task, a, page_data(f"g{g}", 0))
    for g, k in enumerate(kids):
        assert mach.vm_read(k, a, P) == page_data(f"g{g}", 0)
        assert mach.vm_read(k, a + P, P) == page_data("g0", 1)
    assert mach.vm_read(task, a, P) == page_data("g5", 0)


def test_V2_7_repeated_forks_children_write_independently(task):
    a = alloc(task, 1, "base")
    kids = [fork(task) for _ in range(4)]
    for i, k in enumerate(kids):
        mach.vm_write(k, a, f"kid{i}".encode())
    for i, k in enumerate(kids):
        assert mach.vm_read(k, a, 4) == f"kid{i}".encode()
    assert mach.vm_read(task, a, P) == page_data("base", 0)


def test_V2_7_fork_of_child_of_child(task):
    a = alloc(task, 3, "root")
    child = fork(task)
    mach.vm_write(child, a + P, page_data("child", 1))
    grandchild = fork(child)
    mach.vm_write(child, a + 2 * P, page_data("child", 2))
    mach.vm_write(task, a, page_data("root2", 0))
    ggc = fork(grandchild)
    mach.vm_write(grandchild, a, page_data("gc", 0))
    # each generation sees its own snapshot plus its own writes
    assert mach.vm_read(task, a, P) == page_data("root2", 0)
    assert mach.vm_read(task, a + P, P) == page_data("root", 1)
    assert mach.vm_read(child, a, P) == page_data("root", 0)
    assert mach.vm_read(child, a + P, P) == page_data("child", 1)
    assert mach.vm_read(child, a + 2 * P, P) == page_data("child", 2)
    assert mach.vm_read(grandchild, a, P) == page_data("gc", 0)
    assert mach.vm_read(grandchild, a + P, P) == page_data("child", 1)
    assert mach.vm_read(grandchild, a + 2 * P, P) == page_data("root", 2)
    assert mach.vm_read(ggc, a, P) == page_data("root", 0)
    assert mach.vm_read(ggc, a + P, P) == page_data("child", 1)
    assert mach.vm_read(ggc, a + 2 * P, P) == page_data("root", 2)


def test_V2_7_snapshot_survives_parent_termination(cluster):
    t = cluster.task_create()
    a = alloc(t, 2, "x")
    child = fork(t)
    mach.vm_write(t, a, b"gone")
    mach.task_terminate(t)
    assert_pages(child, a, 2, "x")


def test_V2_7_vm_copy_from_shared_region_is_a_snapshot(task):
    a = alloc(task, 2, "sh")
    mach.vm_inherit(task, a, 2 * P, VMInherit.SHARE)
    sharer = fork(task)
    dst = alloc(task, 2)
    mach.vm_copy(task, a, 2 * P, dst)
    mach.vm_write(sharer, a, page_data("new", 0))
    mach.vm_write(sharer, a + P, page_data("new", 1))
    assert_pages(task, dst, 2, "sh")
    assert_pages(task, a, 2, "new")


def test_V2_7_vm_copy_then_fork_copy_sees_copied_data(task):
    src = alloc(task, 1, "src")
    dst = alloc(task, 1)
    mach.vm_copy(task, src, P, dst)
    child = fork(task)
    mach.vm_write(task, dst, b"after")
    assert mach.vm_read(child, dst, P) == page_data("src", 0)


def test_V2_7_region_with_max_protection_lacking_read_omitted(task):
    a = alloc(task, 1, "secret")
    b = alloc(task, 1, "other")
    mach.vm_protect(task, a, P, True, VMProt.WRITE | VMProt.EXECUTE)
    child = fork(task)
    assert layout(child) == [(b, P)]
    assert code_of(mach.vm_read, child, a, 1) == K.KERN_INVALID_ADDRESS


def test_V2_7_region_with_max_protection_none_omitted(task):
    a = alloc(task, 1, "secret")
    mach.vm_protect(task, a, P, True, VMProt.NONE)
    child = fork(task)
    assert regions(child) == []


def test_V2_7_region_with_current_protection_lacking_read_still_copied(task):
    a = alloc(task, 1, "hidden")
    mach.vm_protect(task, a, P, False, VMProt.NONE)     # max stays ALL
    child = fork(task)
    r = mach.vm_region(child, a)
    assert (r.address, r.protection, r.max_protection) == (a, VMProt.NONE, VMProt.ALL)
    mach.vm_protect(child, a, P, False, VMProt.READ)
    assert mach.vm_read(child, a, P) == page_data("hidden", 0)


def test_V2_7_max_protection_without_read_omits_only_that_part(task):
    a = alloc(task, 3, "m")
    mach.vm_protect(task, a + P, P, True, VMProt.WRITE)
    child = fork(task)
    assert layout(child) == [(a, P), (a + 2 * P, P)]
    assert mach.vm_read(child, a + 2 * P, P) == page_data("m", 2)


# -- V2.8 ------------------------------------------------------------------------------------

def test_V2_8_protection_max_and_inheritance_preserved(task):
    combos = [
        (VMProt.READ, VMProt.READ, VMInherit.COPY),
        (VMProt.READ | VMProt.WRITE, VMProt.READ | VMProt.WRITE, VMInherit.SHARE),
        (VMProt.NONE, VMProt.ALL, VMInherit.COPY),
        (VMProt.READ | VMProt.EXECUTE, VMProt.READ | VMProt.EXECUTE, VMInherit.SHARE),
        (VMProt.WRITE, VMProt.WRITE, VMInherit.SHARE),        # SHARE: not subject to §9.13
        (VMProt.ALL, VMProt.ALL, VMInherit.COPY),
    ]
    addrs = []
    for cur, mx, inh in combos:
        a = alloc(task, 1)
        mach.vm_protect(task, a, P, True, mx)
        mach.vm_protect(task, a, P, False, cur)
        mach.vm_inherit(task, a, P, inh)
        addrs.append(a)
    child = fork(task)
    for a, (cur, mx, inh) in zip(addrs, combos):
        r = mach.vm_region(child, a)
        assert (r.address, r.size) == (a, P)
        assert (r.protection, r.max_protection, r.inheritance) == (cur, mx, inh)


def test_V2_8_read_only_region_not_writable_in_child(task):
    a = alloc(task, 1, "ro")
    mach.vm_protect(task, a, P, False, VMProt.READ)
    child = fork(task)
    assert code_of(mach.vm_write, child, a, b"x") == K.KERN_PROTECTION_FAILURE
    assert mach.vm_read(child, a, P) == page_data("ro", 0)


def test_V2_8_child_max_protection_limits_child(task):
    a = alloc(task, 1)
    mach.vm_protect(task, a, P, True, VMProt.READ)
    child = fork(task)
    assert code_of(mach.vm_protect, child, a, P, False, VMProt.DEFAULT) == \
        K.KERN_PROTECTION_FAILURE


def test_V2_8_child_inheritance_used_by_grandchild(task):
    a = alloc(task, 1)
    b = alloc(task, 1)
    mach.vm_inherit(task, b, P, VMInherit.SHARE)
    child = fork(task)
    mach.vm_inherit(child, a, P, VMInherit.NONE)
    grandchild = fork(child)
    assert layout(grandchild) == [(b, P)]
    mach.vm_write(grandchild, b, b"all three")
    assert mach.vm_read(task, b, 9) == b"all three"


def test_V2_8_child_changes_do_not_affect_parent_attributes(task):
    a = alloc(task, 1)
    child = fork(task)
    mach.vm_protect(child, a, P, False, VMProt.READ)
    mach.vm_inherit(child, a, P, VMInherit.NONE)
    r = mach.vm_region(task, a)
    assert (r.protection, r.inheritance) == (VMProt.DEFAULT, VMInherit.COPY)


# -- V2.9 ------------------------------------------------------------------------------------

def test_V2_9_inherit_memory_false_gives_empty_map(task):
    alloc(task, 4, "p")
    a = alloc(task, 1)
    mach.vm_inherit(task, a, P, VMInherit.SHARE)
    child = fork(task, False)
    assert code_of(mach.vm_region, child, 0) == K.KERN_NO_SPACE
    assert code_of(mach.vm_read, child, a, 1) == K.KERN_INVALID_ADDRESS


def test_V2_9_empty_child_map_covers_standard_user_range(task):
    child = fork(task, False)
    assert mach.vm_allocate(child, 0x1000, P, False) == 0x1000
    assert mach.vm_allocate(child, 0x7FFF_FFFF_E000, P, False) == 0x7FFF_FFFF_E000
    assert code_of(mach.vm_allocate, child, 0, P, False) == K.KERN_INVALID_ADDRESS
    assert code_of(mach.vm_allocate, child, 0x7FFF_FFFF_F000, P, False) == \
        K.KERN_INVALID_ADDRESS


def test_V2_9_empty_child_is_independent_of_parent(task):
    a = alloc(task, 1, "p")
    child = fork(task, False)
    b = mach.vm_allocate(child, a, P, False)
    mach.vm_write(child, b, b"child")
    assert mach.vm_read(task, a, P) == page_data("p", 0)


# -- V2.6 + V2.7: random operations against a reference model ----------------------------------

class _Cell:
    __slots__ = ("data",)

    def __init__(self, data=bytes(P)):
        self.data = data


def _run_model(cluster, seed: int, steps: int = 120, inherit_choices=None):
    """Random allocate / write / inherit / fork / copy / terminate vs a per-page model.

    Model: each task maps page address -> (cell, inheritance); SHARE children get
    the same cell, COPY children a new cell with the current data, NONE nothing.
    """
    rng = random.Random(seed)
    tasks = {}                                      # handle -> {addr: [cell, inh]}
    root = cluster.task_create()
    tasks[root] = {}
    serial = 0

    def check(t):
        for addr, (cell, _inh) in tasks[t].items():
            assert mach.vm_read(t, addr, P) == cell.data, f"seed {seed}: page {addr:#x}"

    for step in range(steps):
        t = rng.choice(list(tasks))
        m = tasks[t]
        op = rng.random()
        if op < 0.12 or not m:
            n = rng.randint(1, 4)
            a = mach.vm_allocate(t, 0, n * P, True)
            for i in range(n):
                m[a + i * P] = [_Cell(), VMInherit.COPY]
        elif op < 0.55:
            addr = rng.choice(list(m))
            serial += 1
            data = page_data(f"s{serial}", addr // P % 100000)
            mach.vm_write(t, addr, data)
            m[addr][0].data = data
        elif op < 0.70:
            addr = rng.choice(list(m))
            inh = rng.choice(inherit_choices or
                             [VMInherit.SHARE, VMInherit.COPY, VMInherit.COPY, VMInherit.NONE])
            mach.vm_inherit(t, addr, P, inh)
            m[addr][1] = inh
        elif op < 0.82 and len(tasks) < 8:
            child = mach.task_create(t, True)
            cm = {}
            for addr, (cell, inh) in m.items():
                if inh == VMInherit.SHARE:
                    cm[addr] = [cell, inh]
                elif inh == VMInherit.COPY:
                    cm[addr] = [_Cell(cell.data), inh]
            tasks[child] = cm
        elif op < 0.90:
            src, dst = rng.choice(list(m)), rng.choice(list(m))
            mach.vm_copy(t, src, P, dst)
            m[dst][0].data = m[src][0].data
        elif op < 0.95 and len(tasks) > 1:
            mach.task_terminate(t)
            del tasks[t]
        else:
            addr = rng.choice(list(m))
            mach.vm_deallocate(t, addr, P)
            del m[addr]
        if step % 10 == 0:
            for t2 in tasks:
                check(t2)
    for t2 in tasks:
        check(t2)


@pytest.mark.parametrize("seed", range(25))
def test_V2_6_V2_7_random_share_copy_sequences_match_model(cluster, seed):
    _run_model(cluster, seed)


@pytest.mark.parametrize("seed", range(15))
def test_V2_6_V2_7_random_sequences_share_then_copy_heavy(cluster, seed):
    """Regions flip between SHARE and COPY often: snapshots of shared memory (copy objects)."""
    _run_model(cluster, 500 + seed, steps=160,
               inherit_choices=[VMInherit.SHARE, VMInherit.SHARE, VMInherit.COPY])


@pytest.mark.parametrize("seed", range(8))
def test_V2_6_V2_7_random_sequences_under_memory_pressure(seed):
    from normach import Cluster
    c = Cluster(nodes=1, phys_bytes=24 * P)
    try:
        _run_model(c, 1000 + seed, steps=150,
                   inherit_choices=None if seed % 2 else [VMInherit.SHARE, VMInherit.COPY])
        assert mach.vm_statistics(c.task_create())["pageouts"] > 0
        assert c.audit() == []
    finally:
        c.close()
    assert c.audit() == []
