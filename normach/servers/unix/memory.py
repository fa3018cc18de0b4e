"""Memory calls of a Linux process, on its task's Mach VM (V2.x): the heap (brk),
mappings (mmap, munmap, mremap), protections (mprotect) and advice (madvise).

Linux's PROT_READ/WRITE/EXEC are Mach's VM_PROT bits.  A private mapping is
inherited by copy (a forked child gets its own), a shared anonymous one by
sharing (VM_INHERIT_SHARE), as a Linux fork leaves them.  A file mapping is its
bytes copied in at mmap time (private semantics, also for MAP_SHARED: a store is
not written back to the file).
"""

from __future__ import annotations

import errno

from ... import mach
from ...errors import KernError
from ...mach_types import VMInherit
from .table import syscall

PAGE = 4096
PROT_MASK = 7
MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS = 0x1, 0x2, 0x10, 0x20
MAP_FIXED_NOREPLACE = 0x100000
MREMAP_MAYMOVE, MREMAP_FIXED = 1, 2
MADV_DONTNEED = 4
USER_TOP = 1 << 47
MAP_CHUNK = 1 << 20          # bytes of a file mapping the server reads at a time


def _up(n: int) -> int:
    return (n + PAGE - 1) & ~(PAGE - 1)


def _allocate(task, addr: int, size: int, fixed: bool) -> int:
    if fixed:
        mach.vm_allocate(task, addr, size, False)
        return addr
    if addr:
        try:
            mach.vm_allocate(task, addr, size, False)
            return addr
        except KernError:
            pass
    return mach.vm_allocate(task, 0, size, True)


@syscall(12, "brk")
def sys_brk(call):
    proc, want = call.proc, call.args[0]
    if want < proc.brk_start or want >= USER_TOP:
        return proc.brk
    old_end, new_end = _up(proc.brk), _up(want)
    try:
        if new_end > old_end:
            mach.vm_allocate(call.task, old_end, new_end - old_end, False)
        elif new_end < old_end:
            mach.vm_deallocate(call.task, new_end, old_end - new_end)
    except KernError:
        return proc.brk                       # Linux: the old break means "no memory"
    proc.brk = want
    return want


@syscall(9, "mmap")
def sys_mmap(call):
    addr, length, prot, flags, fd, off = call.args
    fd = fd - (1 << 64) if fd >> 63 else fd
    if length == 0 or length >= USER_TOP or off % PAGE or addr % PAGE or prot & ~PROT_MASK:
        return -errno.EINVAL
    if not flags & (MAP_SHARED | MAP_PRIVATE):
        return -errno.EINVAL
    size = _up(length)
    f = None
    if not flags & MAP_ANONYMOUS:
        if off >> 63:
            return -errno.EOVERFLOW
        f = call.proc.fds.get(fd)
        f.pread(0, off)                       # a file that can be mapped: OSError if not
    fixed = bool(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE))
    if fixed and (addr == 0 or addr + size > USER_TOP):
        return -errno.EINVAL
    task = call.task
    if flags & MAP_FIXED:
        _unmap_quietly(task, addr, size)
    try:
        where = _allocate(task, addr, size, fixed)
    except KernError:
        return -errno.EEXIST if flags & MAP_FIXED_NOREPLACE else -errno.ENOMEM
    if f is not None:
        try:
            _copy_in(task, f, where, size, off)
        except (OSError, KernError):
            _unmap_quietly(task, where, size)
            raise
    if flags & MAP_SHARED and f is None:
        mach.vm_inherit(task, where, size, VMInherit.SHARE)
    mach.vm_protect(task, where, size, False, prot)
    return where


def _copy_in(task, f, where: int, size: int, off: int) -> None:
    """The file's bytes from `off` into the mapping at `where`, MAP_CHUNK at a time (the
    server never holds more), up to `size` or the file's end."""
    done = 0
    while done < size:
        data = f.pread(min(MAP_CHUNK, size - done), off + done)
        if not data:
            return
        mach.vm_write(task, where + done, data)
        done += len(data)


def _unmap_quietly(task, addr: int, size: int) -> None:
    try:
        mach.vm_deallocate(task, addr, size)
    except KernError:
        pass


@syscall(11, "munmap")
def sys_munmap(call):
    addr, length = call.args[0], call.args[1]
    if addr % PAGE or length == 0 or addr + length > USER_TOP:
        return -errno.EINVAL
    mach.vm_deallocate(call.task, addr, _up(length))
    return 0


@syscall(10, "mprotect")
def sys_mprotect(call):
    addr, length, prot = call.args[0], call.args[1], call.args[2]
    if addr % PAGE or prot & ~PROT_MASK & ~0x3000000:     # PROT_GROWSDOWN/UP ignored
        return -errno.EINVAL
    if length == 0:
        return 0
    try:
        mach.vm_protect(call.task, addr, _up(length), False, prot & PROT_MASK)
    except KernError:
        return -errno.ENOMEM
    return 0


@syscall(25, "mremap")
def sys_mremap(call):
    old, old_size, new_size, flags, new_addr = call.args[:5]
    if old % PAGE or new_size == 0 or flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED):
        return -errno.EINVAL
    old_size, new_size = _up(old_size), _up(new_size)
    task = call.task
    if new_size <= old_size:
        if new_size < old_size:
            mach.vm_deallocate(task, old + new_size, old_size - new_size)
        return old
    prot = _prot_at(task, old)
    try:
        mach.vm_allocate(task, old + old_size, new_size - old_size, False)
        mach.vm_protect(task, old + old_size, new_size - old_size, False, prot)
        return old
    except KernError:
        if not flags & MREMAP_MAYMOVE:
            return -errno.ENOMEM
    try:
        where = mach.vm_allocate(task, 0, new_size, True)
    except KernError:
        return -errno.ENOMEM
    mach.vm_copy(task, old, old_size, where)
    mach.vm_protect(task, where, new_size, False, prot)
    mach.vm_deallocate(task, old, old_size)
    return where


def _prot_at(task, addr: int) -> int:
    try:
        region = mach.vm_region(task, addr)
        return int(getattr(region, "protection", 3))
    except KernError:
        return 3


@syscall(28, "madvise")
def sys_madvise(call):
    addr, length, advice = call.args[0], call.args[1], call.args[2]
    if addr % PAGE:
        return -errno.EINVAL
    if advice == MADV_DONTNEED and length:
        size = _up(length)
        prot = _prot_at(call.task, addr)
        try:
            mach.vm_deallocate(call.task, addr, size)
            mach.vm_allocate(call.task, addr, size, False)
            mach.vm_protect(call.task, addr, size, False, prot)
        except KernError:
            return -errno.ENOMEM
    return 0
