"""Helpers shared by the VM tests: error codes, recognisable page contents, allocation."""

import pytest

from normach import KernError, mach

P = 4096


def code_of(fn, *args):
    """The kern_return_t `fn(*args)` raises (the call must fail)."""
    with pytest.raises(KernError) as ei:
        fn(*args)
    return ei.value.code


def page_data(tag: str, i: int) -> bytes:
    """Distinct, recognisable content for page i."""
    unit = f"<{tag}:{i:05d}>".encode()
    return (unit * (P // len(unit) + 1))[:P]


def alloc(t, npages: int, tag: str | None = None) -> int:
    """vm_allocate anywhere; with `tag`, each page filled with page_data(tag, i)."""
    a = mach.vm_allocate(t, 0, npages * P, True)
    if tag is not None:
        for i in range(npages):
            mach.vm_write(t, a + i * P, page_data(tag, i))
    return a
