"""Error codes of the VM routines (spec §3.1, §3.3 E3.1, §3.4 rows for vm_*),
bad input, resource limits, and the pageout path when physical memory runs short.
"""

import pytest

from normach import Cluster, KernError, KernReturn, VMInherit, VMProt, mach

K = KernReturn
P = 4096
USER_END = 0x7FFF_FFFF_F000          # end of the 47-bit user range (param.VM_MAX_ADDRESS)


from vmhelp import alloc, code_of, page_data  # noqa: E402  (shared helpers)


def regions(t):
    out, addr = [], 0
    while True:
        try:
            r = mach.vm_region(t, addr)
        except KernError as e:
            assert e.code == K.KERN_NO_SPACE
            return out
        out.append((r.address, r.size))
        addr = r.address + r.size


@pytest.fixture
def dead_task(cluster):
    t = cluster.task_create()
    mach.vm_allocate(t, 0x2000_0000, 4 * P, False)
    mach.task_terminate(t)
    return t


# -- vm_allocate ----------------------------------------------------------------------------

def test_vm_allocate_size_zero_succeeds_with_address_zero(task):
    assert mach.vm_allocate(task, 0, 0, True) == 0
    assert mach.vm_allocate(task, 0x2000_0000, 0, False) == 0
    assert regions(task) == []


def test_vm_allocate_fixed_address_in_use_is_no_space(task):
    a = mach.vm_allocate(task, 0x2000_0000, 4 * P, False)
    assert code_of(mach.vm_allocate, task, a, P, False) == K.KERN_NO_SPACE
    assert code_of(mach.vm_allocate, task, a + 3 * P, 2 * P, False) == K.KERN_NO_SPACE
    assert code_of(mach.vm_allocate, task, a - P, 2 * P, False) == K.KERN_NO_SPACE
    assert regions(task) == [(a, 4 * P)]


def test_vm_allocate_fixed_address_below_map_is_invalid_address(task):
    assert code_of(mach.vm_allocate, task, 0, P, False) == K.KERN_INVALID_ADDRESS


def test_vm_allocate_fixed_address_beyond_user_range_is_invalid_address(task):
    assert code_of(mach.vm_allocate, task, USER_END, P, False) == K.KERN_INVALID_ADDRESS
    assert code_of(mach.vm_allocate, task, 0x8000_0000_0000, P, False) == K.KERN_INVALID_ADDRESS
    assert code_of(mach.vm_allocate, task, 0xFFFF_8000_0000_0000, P, False) == \
        K.KERN_INVALID_ADDRESS
    # a range that starts inside but ends outside
    assert code_of(mach.vm_allocate, task, USER_END - P, 2 * P, False) == K.KERN_INVALID_ADDRESS
    assert regions(task) == []


def test_vm_allocate_last_user_page_succeeds(task):
    assert mach.vm_allocate(task, USER_END - P, P, False) == USER_END - P


def test_vm_allocate_no_hole_is_no_space(task):
    mach.task_set_limits(task, max_vm=1 << 50)
    big = 1 << 46
    mach.vm_allocate(task, 0, big, True)
    assert code_of(mach.vm_allocate, task, 0, big, True) == K.KERN_NO_SPACE


def test_vm_allocate_larger_than_address_space_is_no_space(task):
    mach.task_set_limits(task, max_vm=1 << 63)
    assert code_of(mach.vm_allocate, task, 0, 1 << 48, True) == K.KERN_NO_SPACE
    assert code_of(mach.vm_allocate, task, 0, (1 << 64) - P, True) == K.KERN_NO_SPACE


@pytest.mark.parametrize("size", [1 << 64, (1 << 64) + P, 1 << 80])
def test_vm_allocate_size_not_64_bit_is_invalid_argument(task, size):
    assert code_of(mach.vm_allocate, task, 0, size, True) == K.KERN_INVALID_ARGUMENT


@pytest.mark.parametrize("size", [-1, -P])
def test_vm_allocate_negative_size_is_invalid_argument(task, size):
    assert code_of(mach.vm_allocate, task, 0, size, True) == K.KERN_INVALID_ARGUMENT
    assert code_of(mach.vm_allocate, task, 0x2000_0000, size, False) == K.KERN_INVALID_ARGUMENT


@pytest.mark.parametrize("size", ["4096", 4096.0, None, b"\x00\x10", True])
def test_vm_allocate_non_integer_size_is_invalid_argument(task, size):
    assert code_of(mach.vm_allocate, task, 0, size, True) == K.KERN_INVALID_ARGUMENT
    assert regions(task) == []


@pytest.mark.parametrize("address", [-1, -P, 1 << 64])
def test_vm_allocate_fixed_address_out_of_64_bit_is_invalid_argument(task, address):
    assert code_of(mach.vm_allocate, task, address, P, False) == K.KERN_INVALID_ARGUMENT


@pytest.mark.parametrize("address", ["0x20000000", 1.5, None])
def test_vm_allocate_fixed_non_integer_address_is_invalid_argument(task, address):
    assert code_of(mach.vm_allocate, task, address, P, False) == K.KERN_INVALID_ARGUMENT


@pytest.mark.parametrize("address", ["0x20000000", 1.5, None, -1])
def test_vm_allocate_anywhere_bad_address_argument_is_invalid_argument(task, address):
    """The address is an IN/OUT 64-bit integer even when `anywhere` (routines.py: "int");
    a non-integer or negative value is a bad argument on every path."""
    assert code_of(mach.vm_allocate, task, address, P, True) == K.KERN_INVALID_ARGUMENT
    assert regions(task) == []


def test_vm_allocate_unaligned_size_rounded_up(task):
    a = mach.vm_allocate(task, 0, P + 1, True)
    assert regions(task) == [(a, 2 * P)]


def test_vm_allocate_fixed_unaligned_address_truncated(task):
    a = mach.vm_allocate(task, 0x2000_0123, 16, False)
    assert a == 0x2000_0000
    assert mach.vm_read(task, 0x2000_0123, 16) == bytes(16)


def test_vm_allocate_anywhere_returns_page_aligned_distinct_ranges(task):
    addrs = [mach.vm_allocate(task, 0, 3 * P + 5, True) for _ in range(5)]
    assert all(a % P == 0 for a in addrs)
    spans = sorted((a, a + 4 * P) for a in addrs)
    assert all(e1 <= s2 for (_s1, e1), (s2, _e2) in zip(spans, spans[1:]))


def test_vm_allocate_on_terminated_task_is_invalid_argument(dead_task):
    assert code_of(mach.vm_allocate, dead_task, 0, P, True) == K.KERN_INVALID_ARGUMENT


# -- vm_map arguments -----------------------------------------------------------------------

@pytest.mark.parametrize("inh", [3, 99, -1])
def test_vm_map_bad_inheritance_is_invalid_argument(task, inh):
    assert code_of(mach.vm_map, task, 0, P, 0, True, None, 0, False,
                   VMProt.DEFAULT, VMProt.ALL, inh) == K.KERN_INVALID_ARGUMENT


@pytest.mark.parametrize("prot", [8, 0x10, 0x100, 0xFF, -1])
def test_vm_map_protection_bits_outside_all_is_invalid_argument(task, prot):
    assert code_of(mach.vm_map, task, 0, P, 0, True, None, 0, False,
                   prot, VMProt.ALL, VMInherit.COPY) == K.KERN_INVALID_ARGUMENT
    assert code_of(mach.vm_map, task, 0, P, 0, True, None, 0, False,
                   VMProt.NONE, prot, VMInherit.COPY) == K.KERN_INVALID_ARGUMENT
    assert regions(task) == []


def test_vm_map_current_above_max_is_invalid_argument(task):
    assert code_of(mach.vm_map, task, 0, P, 0, True, None, 0, False,
                   VMProt.ALL, VMProt.READ, VMInherit.COPY) == K.KERN_INVALID_ARGUMENT


def test_vm_map_mask_aligns_address(task):
    a = mach.vm_map(task, 0, P, 0xFFFF, True, None, 0, False,
                    VMProt.DEFAULT, VMProt.ALL, VMInherit.COPY)
    assert a & 0xFFFF == 0


# -- vm_deallocate --------------------------------------------------------------------------

def test_vm_deallocate_size_zero_succeeds(task):
    a = alloc(task, 1)
    mach.vm_deallocate(task, a, 0)
    mach.vm_deallocate(task, 0x1234_5678, 0)
    assert regions(task) == [(a, P)]


def test_vm_deallocate_holes_ignored(task):
    a = alloc(task, 5)
    mach.vm_deallocate(task, a + P, P)
    mach.vm_deallocate(task, a, 5 * P)
    assert regions(task) == []


def test_vm_deallocate_unmapped_range_succeeds(task):
    mach.vm_deallocate(task, 0x3000_0000, 100 * P)


def test_vm_deallocate_splits_region(task):
    a = alloc(task, 3, "d")
    mach.vm_deallocate(task, a + P, P)
    assert regions(task) == [(a, P), (a + 2 * P, P)]
    assert mach.vm_read(task, a + 2 * P, P) == page_data("d", 2)
    assert code_of(mach.vm_read, task, a + P, 1) == K.KERN_INVALID_ADDRESS


def test_vm_deallocate_rounds_outward(task):
    a = alloc(task, 3)
    mach.vm_deallocate(task, a + P + 10, 1)
    assert regions(task) == [(a, P), (a + 2 * P, P)]


def test_vm_deallocate_range_past_user_range_succeeds(task):
    """§3.4: vm_deallocate fails only for a null map; holes (here: beyond the map) are ignored."""
    a = mach.vm_allocate(task, USER_END - P, P, False)
    mach.vm_deallocate(task, a, 4 * P)
    assert regions(task) == []


@pytest.mark.parametrize("args", [(-P, P), (0x2000_0000, -1), ("x", P), (0x2000_0000, 1.0),
                                  (1 << 64, P), (0x2000_0000, 1 << 64)])
def test_vm_deallocate_bad_numbers_are_invalid_argument(task, args):
    assert code_of(mach.vm_deallocate, task, *args) == K.KERN_INVALID_ARGUMENT


def test_vm_deallocate_on_terminated_task_is_invalid_argument(dead_task):
    assert code_of(mach.vm_deallocate, dead_task, 0x2000_0000, P) == K.KERN_INVALID_ARGUMENT


def test_vm_deallocate_frees_memory_for_reuse(task):
    a = mach.vm_allocate(task, 0x2000_0000, 2 * P, False)
    mach.vm_write(task, a, b"old")
    mach.vm_deallocate(task, a, 2 * P)
    assert mach.vm_allocate(task, a, 2 * P, False) == a
    assert mach.vm_read(task, a, 3) == bytes(3)


# -- vm_protect -----------------------------------------------------------------------------

@pytest.mark.parametrize("prot", [8, 0x10, 0x100, 0xF, -1, 1 << 64])
def test_vm_protect_bits_outside_all_is_invalid_argument(task, prot):
    a = alloc(task, 1)
    assert code_of(mach.vm_protect, task, a, P, False, prot) == K.KERN_INVALID_ARGUMENT
    assert code_of(mach.vm_protect, task, a, P, True, prot) == K.KERN_INVALID_ARGUMENT


def test_vm_protect_range_with_hole_is_invalid_address(task):
    a = alloc(task, 3)
    mach.vm_deallocate(task, a + P, P)
    assert code_of(mach.vm_protect, task, a, 3 * P, False, VMProt.READ) == K.KERN_INVALID_ADDRESS
    # nothing changed
    assert mach.vm_region(task, a).protection == VMProt.DEFAULT


def test_vm_protect_unmapped_range_is_invalid_address(task):
    assert code_of(mach.vm_protect, task, 0x3000_0000, P, False, VMProt.READ) == \
        K.KERN_INVALID_ADDRESS


def test_vm_protect_range_beyond_user_range_is_invalid_address(task):
    a = mach.vm_allocate(task, USER_END - P, P, False)
    assert code_of(mach.vm_protect, task, a, 2 * P, False, VMProt.READ) == K.KERN_INVALID_ADDRESS


def test_vm_protect_above_max_is_protection_failure(task):
    a = alloc(task, 1)
    mach.vm_protect(task, a, P, True, VMProt.READ)
    assert code_of(mach.vm_protect, task, a, P, False, VMProt.READ | VMProt.WRITE) == \
        K.KERN_PROTECTION_FAILURE
    assert mach.vm_region(task, a).protection == VMProt.READ


def test_vm_protect_above_max_in_part_of_range_changes_nothing(task):
    a = alloc(task, 2)
    mach.vm_protect(task, a + P, P, True, VMProt.READ)
    assert code_of(mach.vm_protect, task, a, 2 * P, False, VMProt.ALL) == \
        K.KERN_PROTECTION_FAILURE
    assert mach.vm_region(task, a).protection == VMProt.DEFAULT


def test_vm_protect_set_maximum_cannot_raise_max(task):
    """The maximum protection can only be lowered: raising it is 'new prot exceeds max' → 2."""
    a = alloc(task, 1)
    mach.vm_protect(task, a, P, True, VMProt.READ)
    assert code_of(mach.vm_protect, task, a, P, True, VMProt.ALL) == K.KERN_PROTECTION_FAILURE
    r = mach.vm_region(task, a)
    assert r.max_protection == VMProt.READ


def test_vm_protect_set_maximum_lowers_current(task):
    a = alloc(task, 1)
    mach.vm_protect(task, a, P, True, VMProt.READ)
    r = mach.vm_region(task, a)
    assert (r.protection, r.max_protection) == (VMProt.READ, VMProt.READ)
    assert code_of(mach.vm_write, task, a, b"x") == K.KERN_PROTECTION_FAILURE


def test_vm_protect_none_then_read_keeps_data(task):
    a = alloc(task, 1, "p")
    mach.vm_protect(task, a, P, False, VMProt.NONE)
    assert code_of(mach.vm_read, task, a, 1) == K.KERN_PROTECTION_FAILURE
    mach.vm_protect(task, a, P, False, VMProt.READ)
    assert mach.vm_read(task, a, P) == page_data("p", 0)


def test_vm_protect_size_zero_succeeds_anywhere(task):
    mach.vm_protect(task, 0x3000_0000, 0, False, VMProt.READ)


def test_vm_protect_on_terminated_task_is_invalid_argument(dead_task):
    assert code_of(mach.vm_protect, dead_task, 0x2000_0000, P, False, VMProt.READ) == \
        K.KERN_INVALID_ARGUMENT


# -- vm_inherit -----------------------------------------------------------------------------

@pytest.mark.parametrize("inh", [3, 99, -1, 1 << 64, "1", 1.0, None])
def test_vm_inherit_bad_value_is_invalid_argument(task, inh):
    a = alloc(task, 1)
    assert code_of(mach.vm_inherit, task, a, P, inh) == K.KERN_INVALID_ARGUMENT


def test_vm_inherit_on_terminated_task_is_invalid_argument(dead_task):
    assert code_of(mach.vm_inherit, dead_task, 0x2000_0000, P, VMInherit.SHARE) == \
        K.KERN_INVALID_ARGUMENT


def test_vm_inherit_range_past_user_range_succeeds(task):
    """§3.4 / V2.2: vm_inherit fails only for a null map or a bad value; the part of the
    range outside the map is a hole and is skipped."""
    a = mach.vm_allocate(task, USER_END - P, P, False)
    mach.vm_inherit(task, a, 4 * P, VMInherit.NONE)
    assert mach.vm_region(task, a).inheritance == VMInherit.NONE


@pytest.mark.parametrize("args", [(-P, P), (0x2000_0000, -1), ("x", P), (0x2000_0000, 2.0)])
def test_vm_inherit_bad_numbers_are_invalid_argument(task, args):
    assert code_of(mach.vm_inherit, task, *args, VMInherit.SHARE) == K.KERN_INVALID_ARGUMENT


# -- vm_read --------------------------------------------------------------------------------

def test_vm_read_unmapped_is_invalid_address(task):
    assert code_of(mach.vm_read, task, 0x3000_0000, 1) == K.KERN_INVALID_ADDRESS


def test_vm_read_running_into_hole_is_invalid_address(task):
    a = alloc(task, 2)
    mach.vm_deallocate(task, a + P, P)
    assert code_of(mach.vm_read, task, a + P - 1, 2) == K.KERN_INVALID_ADDRESS
    assert code_of(mach.vm_read, task, a, 2 * P) == K.KERN_INVALID_ADDRESS


def test_vm_read_beyond_user_range_is_invalid_address(task):
    assert code_of(mach.vm_read, task, 0x8000_0000_0000, 1) == K.KERN_INVALID_ADDRESS
    a = mach.vm_allocate(task, USER_END - P, P, False)
    assert code_of(mach.vm_read, task, a, P + 1) == K.KERN_INVALID_ADDRESS
    assert mach.vm_read(task, a, P) == bytes(P)


def test_vm_read_unreadable_is_protection_failure(task):
    a = alloc(task, 1)
    mach.vm_protect(task, a, P, False, VMProt.WRITE)
    assert code_of(mach.vm_read, task, a, 1) == K.KERN_PROTECTION_FAILURE
    mach.vm_protect(task, a, P, False, VMProt.NONE)
    assert code_of(mach.vm_read, task, a, 1) == K.KERN_PROTECTION_FAILURE


def test_vm_read_spanning_unreadable_part_is_protection_failure(task):
    a = alloc(task, 2)
    mach.vm_protect(task, a + P, P, False, VMProt.NONE)
    assert code_of(mach.vm_read, task, a, 2 * P) == K.KERN_PROTECTION_FAILURE


def test_vm_read_size_zero_is_empty(task):
    assert mach.vm_read(task, 0x3000_0000, 0) == b""


def test_vm_read_unaligned_across_pages(task):
    a = alloc(task, 2, "r")
    want = (page_data("r", 0) + page_data("r", 1))[P - 7:P + 9]
    assert mach.vm_read(task, a + P - 7, 16) == want


@pytest.mark.parametrize("args", [(-1, 1), (0x2000_0000, -1), ("x", 1), (0x2000_0000, 1.0),
                                  (1 << 64, 1), (0x2000_0000, 1 << 64)])
def test_vm_read_bad_numbers_are_invalid_argument(task, args):
    assert code_of(mach.vm_read, task, *args) == K.KERN_INVALID_ARGUMENT


def test_vm_read_on_terminated_task_is_invalid_argument(dead_task):
    assert code_of(mach.vm_read, dead_task, 0x2000_0000, 1) == K.KERN_INVALID_ARGUMENT


# -- vm_write -------------------------------------------------------------------------------

def test_vm_write_unmapped_is_invalid_address(task):
    assert code_of(mach.vm_write, task, 0x3000_0000, b"x") == K.KERN_INVALID_ADDRESS


def test_vm_write_running_into_hole_is_invalid_address_and_writes_nothing(task):
    a = alloc(task, 1)
    assert code_of(mach.vm_write, task, a + P - 2, b"abcd") == K.KERN_INVALID_ADDRESS
    assert mach.vm_read(task, a, P) == bytes(P)


def test_vm_write_beyond_user_range_is_invalid_address(task):
    assert code_of(mach.vm_write, task, 0x8000_0000_0000, b"x") == K.KERN_INVALID_ADDRESS
    a = mach.vm_allocate(task, USER_END - P, P, False)
    assert code_of(mach.vm_write, task, a + P - 1, b"xy") == K.KERN_INVALID_ADDRESS


def test_vm_write_not_writable_is_protection_failure(task):
    a = alloc(task, 1)
    mach.vm_protect(task, a, P, False, VMProt.READ)
    assert code_of(mach.vm_write, task, a, b"x") == K.KERN_PROTECTION_FAILURE
    assert mach.vm_read(task, a, 1) == b"\x00"


def test_vm_write_partly_read_only_writes_nothing(task):
    a = alloc(task, 2)
    mach.vm_protect(task, a + P, P, False, VMProt.READ)
    assert code_of(mach.vm_write, task, a + P - 2, b"abcd") == K.KERN_PROTECTION_FAILURE
    assert mach.vm_read(task, a + P - 2, 2) == bytes(2)


def test_vm_write_write_only_region_succeeds(task):
    a = alloc(task, 1)
    mach.vm_protect(task, a, P, False, VMProt.WRITE)
    mach.vm_write(task, a, b"wo")
    mach.vm_protect(task, a, P, False, VMProt.READ)
    assert mach.vm_read(task, a, 2) == b"wo"


@pytest.mark.parametrize("data", ["text", 5, None, [1, 2]])
def test_vm_write_non_bytes_is_invalid_argument(task, data):
    a = alloc(task, 1)
    assert code_of(mach.vm_write, task, a, data) == K.KERN_INVALID_ARGUMENT


@pytest.mark.parametrize("address", [-1, 1 << 64, "x", 1.0])
def test_vm_write_bad_address_is_invalid_argument(task, address):
    assert code_of(mach.vm_write, task, address, b"x") == K.KERN_INVALID_ARGUMENT


def test_vm_write_accepts_bytearray_and_memoryview(task):
    a = alloc(task, 1)
    mach.vm_write(task, a, bytearray(b"ba"))
    mach.vm_write(task, a + 2, memoryview(b"mv"))
    assert mach.vm_read(task, a, 4) == b"bamv"


def test_vm_write_empty_data_succeeds(task):
    mach.vm_write(task, 0x3000_0000, b"")


def test_vm_write_on_terminated_task_is_invalid_argument(dead_task):
    assert code_of(mach.vm_write, dead_task, 0x2000_0000, b"x") == K.KERN_INVALID_ARGUMENT


# -- vm_copy --------------------------------------------------------------------------------

def test_vm_copy_source_unmapped_is_invalid_address(task):
    d = alloc(task, 1)
    assert code_of(mach.vm_copy, task, 0x3000_0000, P, d) == K.KERN_INVALID_ADDRESS


def test_vm_copy_dest_unmapped_is_invalid_address(task):
    s = alloc(task, 1, "s")
    assert code_of(mach.vm_copy, task, s, P, 0x3000_0000) == K.KERN_INVALID_ADDRESS


def test_vm_copy_dest_partly_unmapped_is_invalid_address_and_writes_nothing(task):
    s = alloc(task, 2, "s")
    d = alloc(task, 1)
    assert code_of(mach.vm_copy, task, s, 2 * P, d) == K.KERN_INVALID_ADDRESS
    assert mach.vm_read(task, d, P) == bytes(P)


def test_vm_copy_source_unreadable_is_protection_failure(task):
    s = alloc(task, 1, "s")
    d = alloc(task, 1)
    mach.vm_protect(task, s, P, False, VMProt.WRITE)
    assert code_of(mach.vm_copy, task, s, P, d) == K.KERN_PROTECTION_FAILURE


def test_vm_copy_dest_not_writable_is_protection_failure(task):
    s = alloc(task, 1, "s")
    d = alloc(task, 1)
    mach.vm_protect(task, d, P, False, VMProt.READ)
    assert code_of(mach.vm_copy, task, s, P, d) == K.KERN_PROTECTION_FAILURE
    assert mach.vm_read(task, d, P) == bytes(P)


def test_vm_copy_copies_and_source_is_unchanged(task):
    s = alloc(task, 3, "s")
    d = alloc(task, 3)
    mach.vm_copy(task, s, 3 * P, d)
    for i in range(3):
        assert mach.vm_read(task, d + i * P, P) == page_data("s", i)
    mach.vm_write(task, d, b"dst")
    assert mach.vm_read(task, s, P) == page_data("s", 0)


def test_vm_copy_overlapping_ranges_behave_like_memmove(task):
    a = alloc(task, 3, "o")
    before = mach.vm_read(task, a, 3 * P)
    mach.vm_copy(task, a, 2 * P, a + P)
    assert mach.vm_read(task, a + P, 2 * P) == before[:2 * P]
    assert mach.vm_read(task, a, P) == before[:P]


def test_vm_copy_size_zero_succeeds(task):
    mach.vm_copy(task, 0x3000_0000, 0, 0x4000_0000)


@pytest.mark.parametrize("args", [(-1, P, 0x2000_0000), (0x2000_0000, -1, 0x2000_0000),
                                  (0x2000_0000, P, -1), ("x", P, 0x2000_0000),
                                  (0x2000_0000, P, 1 << 64)])
def test_vm_copy_bad_numbers_are_invalid_argument(task, args):
    assert code_of(mach.vm_copy, task, *args) == K.KERN_INVALID_ARGUMENT


def test_vm_copy_on_terminated_task_is_invalid_argument(dead_task):
    assert code_of(mach.vm_copy, dead_task, 0x2000_0000, P, 0x2000_0000 + P) == \
        K.KERN_INVALID_ARGUMENT


# -- vm_region / vm_statistics ----------------------------------------------------------------

def test_vm_region_above_everything_is_no_space(task):
    alloc(task, 1)
    assert code_of(mach.vm_region, task, 0x7000_0000_0000) == K.KERN_NO_SPACE


@pytest.mark.parametrize("address", [-1, "x", 1.0])
def test_vm_region_bad_address_is_invalid_argument(task, address):
    assert code_of(mach.vm_region, task, address) == K.KERN_INVALID_ARGUMENT


def test_vm_region_and_statistics_on_terminated_task_are_invalid_argument(dead_task):
    assert code_of(mach.vm_region, dead_task, 0) == K.KERN_INVALID_ARGUMENT
    assert code_of(mach.vm_statistics, dead_task) == K.KERN_INVALID_ARGUMENT


# -- targets (E3.1) -------------------------------------------------------------------------

@pytest.mark.parametrize("target", [42, None, "task", object(), 0])
def test_vm_routines_with_non_handle_target_are_send_invalid_dest(target):
    calls = [(mach.vm_allocate, (0, P, True)), (mach.vm_deallocate, (0x2000_0000, P)),
             (mach.vm_protect, (0x2000_0000, P, False, 1)), (mach.vm_inherit, (0x2000_0000, P, 0)),
             (mach.vm_read, (0x2000_0000, 1)), (mach.vm_write, (0x2000_0000, b"x")),
             (mach.vm_copy, (0x2000_0000, P, 0x3000_0000)), (mach.vm_region, (0,)),
             (mach.vm_statistics, ())]
    for fn, args in calls:
        assert code_of(fn, target, *args) == K.MACH_SEND_INVALID_DEST, fn.__name__


def test_vm_routine_on_thread_handle_is_invalid_argument(task):
    th = mach.thread_create(task)
    assert code_of(mach.vm_allocate, th, 0, P, True) == K.KERN_INVALID_ARGUMENT


def test_vm_routine_on_host_handle_is_invalid_argument(cluster):
    assert code_of(mach.vm_allocate, cluster.host(), 0, P, True) == K.KERN_INVALID_ARGUMENT


def test_vm_routine_with_wrong_arity_is_type_error(task):
    with pytest.raises(TypeError):
        mach.vm_allocate(task, 0, P)


# -- ledger ---------------------------------------------------------------------------------

def test_vm_allocate_beyond_ledger_is_resource_shortage(task):
    mach.task_set_limits(task, max_vm=3 * P)
    a = mach.vm_allocate(task, 0, 2 * P, True)
    assert code_of(mach.vm_allocate, task, 0, 2 * P, True) == K.KERN_RESOURCE_SHORTAGE
    assert code_of(mach.vm_allocate, task, 0x2000_0000, 2 * P, False) == \
        K.KERN_RESOURCE_SHORTAGE
    mach.vm_allocate(task, 0, P, True)                       # exactly at the limit
    assert code_of(mach.vm_allocate, task, 0, 1, True) == K.KERN_RESOURCE_SHORTAGE
    mach.vm_deallocate(task, a, 2 * P)
    mach.vm_allocate(task, 0, 2 * P, True)                   # freed space counts again


def test_vm_map_beyond_ledger_is_resource_shortage(task):
    mach.task_set_limits(task, max_vm=P)
    assert code_of(mach.vm_map, task, 0, 2 * P, 0, True, None, 0, False,
                   VMProt.DEFAULT, VMProt.ALL, VMInherit.COPY) == K.KERN_RESOURCE_SHORTAGE
    assert regions(task) == []


def test_vm_ledger_default_limit_is_resource_shortage(task):
    info = mach.task_info(task, 1)
    assert code_of(mach.vm_allocate, task, 0, info["vm_max"] + P, True) == \
        K.KERN_RESOURCE_SHORTAGE


def test_vm_ledger_inherited_by_empty_child(task):
    mach.task_set_limits(task, max_vm=2 * P)
    child = mach.task_create(task, False)
    mach.vm_allocate(child, 0, 2 * P, True)
    assert code_of(mach.vm_allocate, child, 0, P, True) == K.KERN_RESOURCE_SHORTAGE


def test_vm_ledger_inherited_by_forked_child_counts_inherited_memory(task):
    mach.task_set_limits(task, max_vm=3 * P)
    alloc(task, 2, "x")
    child = mach.task_create(task, True)
    mach.vm_allocate(child, 0, P, True)
    assert code_of(mach.vm_allocate, child, 0, P, True) == K.KERN_RESOURCE_SHORTAGE


def test_vm_ledger_inherited_by_grandchild(task):
    mach.task_set_limits(task, max_vm=P)
    gc = mach.task_create(mach.task_create(task, False), False)
    assert code_of(mach.vm_allocate, gc, 0, 2 * P, True) == K.KERN_RESOURCE_SHORTAGE


def test_vm_ledger_set_on_child_does_not_change_parent(task):
    child = mach.task_create(task, False)
    mach.task_set_limits(child, max_vm=P)
    mach.vm_allocate(task, 0, 4 * P, True)


@pytest.mark.parametrize("bad", [-1, "1", 1.5, True])
def test_task_set_limits_bad_value_is_invalid_argument(task, bad):
    assert code_of(mach.task_set_limits, task, bad, None) == K.KERN_INVALID_ARGUMENT


def test_fork_beyond_child_ledger_is_resource_shortage_and_leaves_nothing(cluster):
    """The ledger is lowered below what the parent already maps: the child cannot hold the
    inherited regions.  KERN_RESOURCE_SHORTAGE, no child task, and every page the
    parent held is released when the parent terminates (nothing leaked by the failed fork)."""
    probe = cluster.task_create()
    free_before = mach.vm_statistics(probe)["free_count"]
    t = cluster.task_create()
    a = alloc(t, 4, "f")
    mach.vm_inherit(t, a, P, VMInherit.SHARE)              # one SHARE, one COPY entry
    mach.task_set_limits(t, max_vm=2 * P)
    ntasks = len(cluster.tasks())
    assert code_of(mach.task_create, t, True) == K.KERN_RESOURCE_SHORTAGE
    assert len(cluster.tasks()) == ntasks
    for i in range(4):                                       # the parent is untouched
        assert mach.vm_read(t, a + i * P, P) == page_data("f", i)
    mach.task_terminate(t)
    assert mach.vm_statistics(probe)["free_count"] == free_before


def test_fork_beyond_child_ledger_copy_region_leaves_nothing(cluster):
    probe = cluster.task_create()
    free_before = mach.vm_statistics(probe)["free_count"]
    t = cluster.task_create()
    alloc(t, 1, "a")
    alloc(t, 1, "b")
    mach.task_set_limits(t, max_vm=P)
    assert code_of(mach.task_create, t, True) == K.KERN_RESOURCE_SHORTAGE
    mach.task_terminate(t)
    assert mach.vm_statistics(probe)["free_count"] == free_before


# -- physical memory runs short ---------------------------------------------------------------

def _small_cluster():
    return Cluster(nodes=1, phys_bytes=64 * P)


def test_pageout_300_pages_round_trip_through_default_pager():
    c = _small_cluster()
    try:
        t = c.task_create()
        n = 300
        a = mach.vm_allocate(t, 0, n * P, True)
        for i in range(n):
            mach.vm_write(t, a + i * P, page_data("po", i))
        for i in range(n):
            assert mach.vm_read(t, a + i * P, P) == page_data("po", i), f"page {i}"
        # and in reverse order (the oldest pages are now on the pager)
        for i in reversed(range(n)):
            assert mach.vm_read(t, a + i * P, P) == page_data("po", i), f"page {i}"
        st = mach.vm_statistics(t)
        assert st["pageouts"] > 0
        assert st["pageins"] > 0
        assert c.audit() == []
    finally:
        c.close()
    assert c.audit() == []


def test_pageout_untouched_pages_still_read_zero():
    c = _small_cluster()
    try:
        t = c.task_create()
        a = mach.vm_allocate(t, 0, 200 * P, True)
        for i in range(0, 200, 2):
            mach.vm_write(t, a + i * P, page_data("e", i))
        for i in range(200):
            want = page_data("e", i) if i % 2 == 0 else bytes(P)
            assert mach.vm_read(t, a + i * P, P) == want
        assert mach.vm_statistics(t)["pageouts"] > 0
        assert c.audit() == []
    finally:
        c.close()


def test_pageout_copy_fork_snapshot_intact():
    c = _small_cluster()
    try:
        t = c.task_create()
        n = 120
        a = mach.vm_allocate(t, 0, n * P, True)
        for i in range(n):
            mach.vm_write(t, a + i * P, page_data("v0", i))
        child = mach.task_create(t, True)
        for i in range(n):
            mach.vm_write(t, a + i * P, page_data("v1", i))
        for i in range(0, n, 3):
            mach.vm_write(child, a + i * P, page_data("c", i))
        for i in range(n):
            assert mach.vm_read(t, a + i * P, P) == page_data("v1", i)
            assert mach.vm_read(child, a + i * P, P) == page_data("c" if i % 3 == 0 else "v0", i)
        assert mach.vm_statistics(t)["pageouts"] > 0
        assert c.audit() == []
    finally:
        c.close()


def test_pageout_shared_region_and_snapshot_intact():
    c = _small_cluster()
    try:
        t = c.task_create()
        n = 100
        a = mach.vm_allocate(t, 0, n * P, True)
        for i in range(n):
            mach.vm_write(t, a + i * P, page_data("v0", i))
        mach.vm_inherit(t, a, n * P, VMInherit.SHARE)
        sharer = mach.task_create(t, True)
        mach.vm_inherit(t, a, n * P, VMInherit.COPY)
        snap = mach.task_create(t, True)
        for i in range(n):
            mach.vm_write(sharer, a + i * P, page_data("v1", i))
        for i in range(n):
            assert mach.vm_read(t, a + i * P, P) == page_data("v1", i)
            assert mach.vm_read(snap, a + i * P, P) == page_data("v0", i)
        assert mach.vm_statistics(t)["pageouts"] > 0
        assert c.audit() == []
    finally:
        c.close()


def test_pageout_memory_released_when_tasks_terminate():
    c = _small_cluster()
    try:
        probe = c.task_create()
        free0 = mach.vm_statistics(probe)["free_count"]
        t = c.task_create()
        a = mach.vm_allocate(t, 0, 150 * P, True)
        for i in range(150):
            mach.vm_write(t, a + i * P, page_data("r", i))
        mach.task_terminate(t)
        assert mach.vm_statistics(probe)["free_count"] == free0
        k = c.kernels[0]
        assert k.default_pager.store == {}                  # pager copies dropped too
        assert c.audit() == []
    finally:
        c.close()
