"""The file space: a process's "/" is a host directory (`Process.root`, a realpath)
and every path a guest names is resolved inside it, never above it.

`resolve` walks a path component by component on the host: `..` stops at the
root, an absolute path starts at the root, and a symbolic link is followed by
splicing its target (as stored) into the rest of the path, an absolute target
starting again at the root; more than MAXSYMLINKS links is ELOOP.  The result is
the path inside the root, without links but perhaps the last one (lstat,
unlink, O_NOFOLLOW ...), whose host path (`host_of`) the call then acts on with
O_NOFOLLOW, so no host lookup follows a link the server has not checked.

Open regular files are `HostFile`s on a host descriptor; open directories are
`DirFile`s, which keep their path inside the root for the *at calls and fchdir,
and list themselves for getdents64.  Nothing else is opened: a FIFO or a device inside
the root is -ENXIO (the host open never waits, O_NONBLOCK; O_PATH names them).
Every host error is the guest's -errno.
"""

from __future__ import annotations

import errno
import os
import stat as statmod
import struct
import time

from .files import O_ACCMODE, O_APPEND, O_CLOEXEC, O_RDONLY, O_WRONLY, File, StatInfo
from .table import syscall

MAXSYMLINKS = 40
PATH_MAX = 4096

# Linux x86-64 open flags
O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC = 0o100, 0o200, 0o400, 0o1000
O_DIRECTORY, O_NOFOLLOW, O_PATH, O_TMPFILE = 0o200000, 0o400000, 0o10000000, 0o20000000

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, AT_EMPTY_PATH = 0x100, 0x200, 0x400, 0x1000
AT_EACCESS = 0x200
RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT = 1, 2, 4
UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2
STATX_BASIC_STATS = 0x7FF

DT_UNKNOWN, DT_FIFO, DT_CHR, DT_DIR, DT_BLK, DT_REG, DT_LNK, DT_SOCK = 0, 1, 2, 4, 6, 8, 10, 12


# -- paths --------------------------------------------------------------------------------

def host_of(root: str, path: str) -> str:
    """The host path of `path`, an absolute path inside `root` (as `resolve` gives)."""
    parts = [p for p in path.split("/") if p]
    return os.path.join(root, *parts) if parts else root


def resolve(root: str, base: str, path: str, follow: bool = True) -> str:
    """The absolute path inside `root` that `path` names, relative to `base` (an absolute
    path inside the root) unless absolute.  Links are followed inside the root, the
    last component's only if `follow` (or the path ends with "/").  The last component
    need not exist.  Raises OSError: ENOENT (empty path, a missing directory on the
    way), ENOTDIR, ELOOP (more than MAXSYMLINKS links), ENAMETOOLONG."""
    if not path:
        raise OSError(errno.ENOENT, "empty path")
    if len(path) >= PATH_MAX:
        raise OSError(errno.ENAMETOOLONG, "path too long")
    if path.endswith("/"):
        follow = True
    cur = [] if path.startswith("/") else [p for p in base.split("/") if p]
    pending = [p for p in path.split("/") if p]
    pending.reverse()                           # a stack: the next component last
    links = 0
    must_dir = path.endswith("/")
    while pending:
        c = pending.pop()
        if c == ".":
            continue
        if c == "..":
            if cur:
                cur.pop()
            continue
        last = not pending
        cand = cur + [c]
        host = os.path.join(root, *cand)
        try:
            st = os.lstat(host)
        except FileNotFoundError:
            if not last:
                raise OSError(errno.ENOENT, "no such file or directory") from None
            return "/" + "/".join(cand)
        if statmod.S_ISLNK(st.st_mode) and (follow or not last):
            links += 1
            if links > MAXSYMLINKS:
                raise OSError(errno.ELOOP, "too many levels of symbolic links")
            target = os.readlink(host)
            if not target:
                raise OSError(errno.ENOENT, "empty link")
            if target.startswith("/"):
                cur = []
            more = [p for p in target.split("/") if p]
            if target.endswith("/") and last:
                must_dir = True
            pending.extend(reversed(more))
            continue
        if not statmod.S_ISDIR(st.st_mode) and not statmod.S_ISLNK(st.st_mode) and (not last or must_dir):
            raise OSError(errno.ENOTDIR, "not a directory")
        cur = cand
    return "/" + "/".join(cur)


def host_path(proc, path: str, follow: bool = True) -> str:
    """The host path of `path` (absolute inside `proc`'s root, or relative to its cwd),
    links resolved inside the root (for execve and any call that must open a file by
    name).  Raises OSError (ENOENT, ENOTDIR, ELOOP ...)."""
    return host_of(proc.root, resolve(proc.root, proc.cwd, path, follow))


def _at(call, dirfd: int, path: str, follow: bool = True) -> tuple[str, str]:
    """(path inside the root, host path) of `path` relative to `dirfd`."""
    proc = call.proc
    base = proc.cwd
    if not path.startswith("/") and not _is_cwd(dirfd):
        f = proc.fds.get(_fd(dirfd))
        if not isinstance(f, DirFile):
            raise OSError(errno.ENOTDIR, "dirfd is not a directory")
        base = f.path
    inside = resolve(proc.root, base, path, follow)
    return inside, host_of(proc.root, inside)


def _is_cwd(dirfd: int) -> bool:
    return dirfd & 0xFFFFFFFF == AT_FDCWD & 0xFFFFFFFF


def _fd(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _path(call, addr: int) -> str:
    if addr == 0:
        raise OSError(errno.EFAULT, "bad address")
    return os.fsdecode(call.cstring(addr, PATH_MAX))


def _not_root(inside: str) -> None:
    if inside == "/":
        raise OSError(errno.EBUSY, "the root")


class HostStat(StatInfo):
    """A host file's stat, packed with its times to the nanosecond and its own st_blocks."""

    def __init__(self, st):
        base = StatInfo.of(st)
        super().__init__(base.mode, base.size, base.ino, base.nlink, base.uid, base.gid, base.dev,
                         base.rdev, base.atime, base.mtime, base.ctime, st.st_blksize)
        self.ns = (st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns)
        self.blocks = st.st_blocks

    def pack(self) -> bytes:
        times = [v for ns in self.ns for v in divmod(ns, 1_000_000_000)]
        return struct.pack("<QQQIIIIQqqq" "qq" "qq" "qq" "24x",
                           self.dev, self.ino, self.nlink, self.mode, self.uid, self.gid, 0,
                           self.rdev, self.size, self.blksize, self.blocks, *times)


# -- open files ---------------------------------------------------------------------------

class HostFile(File):
    """A regular file (or other non-directory) open on the host: `hfd`."""

    kind = "host"

    def __init__(self, hfd: int, flags: int, path: str = ""):
        super().__init__(flags)
        self.hfd, self.path = hfd, path

    def _check(self):
        if self.hfd < 0 or self.flags & O_PATH:
            raise OSError(errno.EBADF, "closed")

    def read(self, size: int) -> bytes:
        self._check()
        return os.read(self.hfd, size)

    def write(self, data: bytes, call=None) -> int:
        self._check()
        if self.flags & O_APPEND:
            os.lseek(self.hfd, 0, os.SEEK_END)
        return os.write(self.hfd, data)

    def pread(self, size: int, offset: int) -> bytes:
        self._check()
        return os.pread(self.hfd, size, offset)

    def pwrite(self, data: bytes, offset: int) -> int:
        self._check()
        return os.pwrite(self.hfd, data, offset)

    def lseek(self, offset: int, whence: int) -> int:
        self._check()
        return os.lseek(self.hfd, offset, whence)

    def stat(self) -> StatInfo:
        return HostStat(os.fstat(self.hfd))

    def host_stat(self):
        return os.fstat(self.hfd)

    def truncate(self, length: int) -> None:
        self._check()
        if not self.writable():
            raise OSError(errno.EINVAL, "not open for writing")
        os.ftruncate(self.hfd, length)

    def fsync(self) -> None:
        self._check()
        os.fsync(self.hfd)

    def chmod(self, mode: int) -> None:
        os.fchmod(self.hfd, mode)

    def ioctl(self, call, request: int, arg: int) -> int:
        return -errno.ENOTTY

    def release(self) -> None:
        if self.hfd >= 0:
            try:
                os.close(self.hfd)
            except OSError:
                pass
            self.hfd = -1


class DirFile(HostFile):
    """An open directory: its path inside the root (for dirfd-relative paths and
    fchdir) and its entries, read at the first getdents64 (again after a seek to 0)."""

    kind = "dir"

    def __init__(self, hfd: int, flags: int, path: str, root: str):
        super().__init__(hfd, flags, path)
        self.root = root
        self.entries = None             # [(ino, d_type, name bytes)]
        self.pos = 0

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def read(self, size: int) -> bytes:
        raise OSError(errno.EISDIR, "is a directory")

    def write(self, data: bytes, call=None) -> int:
        raise OSError(errno.EBADF, "is a directory")

    def pread(self, size: int, offset: int) -> bytes:
        raise OSError(errno.EISDIR, "is a directory")

    def pwrite(self, data: bytes, offset: int) -> int:
        raise OSError(errno.EBADF, "is a directory")

    def truncate(self, length: int) -> None:
        raise OSError(errno.EINVAL, "is a directory")

    def lseek(self, offset: int, whence: int) -> int:
        if whence == os.SEEK_SET:
            pos = offset
        elif whence == os.SEEK_CUR:
            pos = self.pos + offset
        else:
            raise OSError(errno.EINVAL, "SEEK_END on a directory")
        if pos < 0:
            raise OSError(errno.EINVAL, "negative offset")
        self.pos = pos
        if pos == 0:
            self.entries = None
        return pos

    def _list(self) -> list:
        me = os.fstat(self.hfd)
        parent_inside = os.path.dirname(self.path.rstrip("/")) or "/"
        try:
            parent = os.stat(host_of(self.root, parent_inside)).st_ino
        except OSError:
            parent = me.st_ino
        out = [(me.st_ino, DT_DIR, b"."), (parent, DT_DIR, b"..")]
        with os.scandir(self.hfd) as it:
            for e in it:
                try:
                    kind = _dtype(e.stat(follow_symlinks=False).st_mode)
                except OSError:
                    kind = DT_UNKNOWN
                out.append((e.inode(), kind, os.fsencode(e.name)))
        return out

    def getdents(self, size: int) -> bytes:
        self._check()
        if self.entries is None:
            self.entries = self._list()
        out = bytearray()
        while self.pos < len(self.entries):
            ino, kind, name = self.entries[self.pos]
            reclen = (19 + len(name) + 1 + 7) & ~7
            if len(out) + reclen > size:
                if not out:
                    raise OSError(errno.EINVAL, "buffer too small")
                break
            rec = struct.pack("<QqHB", ino, self.pos + 1, reclen, kind) + name
            out += rec + b"\0" * (reclen - len(rec))
            self.pos += 1
        return bytes(out)


def _dtype(mode: int) -> int:
    for test, d in ((statmod.S_ISREG, DT_REG), (statmod.S_ISDIR, DT_DIR), (statmod.S_ISLNK, DT_LNK),
                    (statmod.S_ISCHR, DT_CHR), (statmod.S_ISBLK, DT_BLK), (statmod.S_ISFIFO, DT_FIFO),
                    (statmod.S_ISSOCK, DT_SOCK)):
        if test(mode):
            return d
    return DT_UNKNOWN


def open_at(call, dirfd: int, path: str, flags: int, mode: int) -> int:
    """openat: the new descriptor.  Raises OSError."""
    proc = call.proc
    if flags & O_TMPFILE == O_TMPFILE:
        raise OSError(errno.EOPNOTSUPP, "O_TMPFILE")
    acc = flags & O_ACCMODE
    if acc == O_ACCMODE:
        raise OSError(errno.EINVAL, "access mode")
    follow = not (flags & O_NOFOLLOW or (flags & O_CREAT and flags & O_EXCL))
    inside, host = _at(call, dirfd, path, follow)
    hflags = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK   # a FIFO's open waits
    if flags & O_PATH:
        hflags |= os.O_PATH
        flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
    else:
        hflags |= {O_RDONLY: os.O_RDONLY, O_WRONLY: os.O_WRONLY}.get(acc, os.O_RDWR)
        for linux, host_flag in ((O_CREAT, os.O_CREAT), (O_EXCL, os.O_EXCL), (O_TRUNC, os.O_TRUNC)):
            if flags & linux:
                hflags |= host_flag
    if flags & O_DIRECTORY:
        hflags |= os.O_DIRECTORY
    if path.endswith("/") and flags & O_CREAT:
        raise OSError(errno.EISDIR, "is a directory")
    created = False
    if flags & O_CREAT:
        created = not os.path.lexists(host)
    hfd = os.open(host, hflags, mode & ~proc.umask & 0o7777)
    try:
        st = os.fstat(hfd)
        if not flags & O_PATH and not (statmod.S_ISREG(st.st_mode) or statmod.S_ISDIR(st.st_mode)):
            raise OSError(errno.ENXIO, "not a regular file or a directory")   # a FIFO, a device
        if created and statmod.S_IMODE(st.st_mode) != mode & ~proc.umask & 0o7777:
            os.fchmod(hfd, mode & ~proc.umask & 0o7777)
        if path.endswith("/") and not statmod.S_ISDIR(st.st_mode):
            raise OSError(errno.ENOTDIR, "not a directory")
        keep = flags & ~O_CLOEXEC & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY)
        f = (DirFile(hfd, keep, inside, proc.root) if statmod.S_ISDIR(st.st_mode)
             else HostFile(hfd, keep, inside))
    except BaseException:
        os.close(hfd)
        raise
    try:
        return proc.fds.install(f, None, bool(flags & O_CLOEXEC))
    except OSError:
        f.release()
        raise


@syscall(2, "open")
def sys_open(call):
    return open_at(call, AT_FDCWD, _path(call, call.args[0]), call.args[1] & 0xFFFFFFFF,
                   call.args[2] & 0xFFFFFFFF)


@syscall(257, "openat")
def sys_openat(call):
    return open_at(call, call.args[0], _path(call, call.args[1]), call.args[2] & 0xFFFFFFFF,
                   call.args[3] & 0xFFFFFFFF)


@syscall(85, "creat")
def sys_creat(call):
    return open_at(call, AT_FDCWD, _path(call, call.args[0]), O_CREAT | O_WRONLY | O_TRUNC,
                   call.args[1] & 0xFFFFFFFF)


@syscall(217, "getdents64")
def sys_getdents64(call):
    f = call.proc.fds.get(call.args[0])
    data = f.getdents(call.args[2] & 0xFFFFFFFF)
    call.write(call.args[1], data)
    return len(data)


# -- stat ---------------------------------------------------------------------------------

def _stat_at(call, dirfd: int, addr: int, flags: int):
    """The host stat_result (or a File's StatInfo) of dirfd/path per AT_ flags."""
    path = os.fsdecode(call.cstring(addr, PATH_MAX)) if addr else ""
    if not path and flags & AT_EMPTY_PATH:
        if _is_cwd(dirfd):
            return os.stat(host_of(call.proc.root, call.proc.cwd))
        f = call.proc.fds.get(_fd(dirfd))
        return f.host_stat() if isinstance(f, HostFile) else f.stat()
    if addr == 0:
        raise OSError(errno.EFAULT, "bad address")
    _inside, host = _at(call, dirfd, path, not flags & AT_SYMLINK_NOFOLLOW)
    return os.lstat(host)


def _info(st) -> StatInfo:
    return st if isinstance(st, StatInfo) else HostStat(st)


@syscall(4, "stat")
def sys_stat(call):
    call.write(call.args[1], _info(_stat_at(call, AT_FDCWD, call.args[0], 0)).pack())
    return 0


@syscall(6, "lstat")
def sys_lstat(call):
    call.write(call.args[1], _info(_stat_at(call, AT_FDCWD, call.args[0], AT_SYMLINK_NOFOLLOW)).pack())
    return 0


@syscall(262, "newfstatat")
def sys_newfstatat(call):
    dirfd, addr, buf, flags = call.args[:4]
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | 0x800):      # 0x800: AT_NO_AUTOMOUNT
        return -errno.EINVAL
    call.write(buf, _info(_stat_at(call, dirfd, addr, flags)).pack())
    return 0


def pack_statx(st) -> bytes:
    """struct statx (256 bytes) of a host stat_result or a StatInfo."""
    i = _info(st)

    def ts(ns):
        return struct.pack("<qIi", *divmod(ns, 1_000_000_000), 0)
    ns = getattr(i, "ns", None) or tuple(int(t * 1e9) for t in (i.atime, i.mtime, i.ctime))
    blocks = getattr(i, "blocks", (i.size + 511) // 512)
    head = struct.pack("<IIQIIIHHQQQQ", STATX_BASIC_STATS, i.blksize, 0, i.nlink, i.uid, i.gid,
                       i.mode & 0xFFFF, 0, i.ino, i.size, blocks, 0)
    times = ts(ns[0]) + ts(0) + ts(ns[2]) + ts(ns[1])
    devs = struct.pack("<IIII", os.major(i.rdev), os.minor(i.rdev), os.major(i.dev), os.minor(i.dev))
    out = head + times + devs
    return out + b"\0" * (256 - len(out))


@syscall(332, "statx")
def sys_statx(call):
    dirfd, addr, flags, _mask, buf = call.args[:5]
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | 0x800 | 0x6000):   # + AT_STATX_SYNC_TYPE
        return -errno.EINVAL
    call.write(buf, pack_statx(_stat_at(call, dirfd, addr, flags)))
    return 0


# -- directories and names ----------------------------------------------------------------

def _mkdir(call, dirfd, addr, mode):
    _inside, host = _at(call, dirfd, _path(call, addr), False)
    mode = mode & ~call.proc.umask & 0o7777
    os.mkdir(host, mode)
    if statmod.S_IMODE(os.lstat(host).st_mode) != mode:
        os.chmod(host, mode)
    return 0


@syscall(83, "mkdir")
def sys_mkdir(call):
    return _mkdir(call, AT_FDCWD, call.args[0], call.args[1])


@syscall(258, "mkdirat")
def sys_mkdirat(call):
    return _mkdir(call, call.args[0], call.args[1], call.args[2])


def _unlink(call, dirfd, addr, flags):
    if flags & ~AT_REMOVEDIR:
        return -errno.EINVAL
    path = _path(call, addr)
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if flags & AT_REMOVEDIR:
        if last == ".":
            return -errno.EINVAL
        if last == "..":
            return -errno.ENOTEMPTY
    inside, host = _at(call, dirfd, path, False)
    _not_root(inside)
    if flags & AT_REMOVEDIR:
        os.rmdir(host)
    else:
        if path.endswith("/") and not statmod.S_ISDIR(os.lstat(host).st_mode):
            return -errno.ENOTDIR
        os.unlink(host)
    return 0


@syscall(87, "unlink")
def sys_unlink(call):
    return _unlink(call, AT_FDCWD, call.args[0], 0)


@syscall(84, "rmdir")
def sys_rmdir(call):
    return _unlink(call, AT_FDCWD, call.args[0], AT_REMOVEDIR)


@syscall(263, "unlinkat")
def sys_unlinkat(call):
    return _unlink(call, call.args[0], call.args[1], call.args[2])


def _rename(call, olddirfd, oldaddr, newdirfd, newaddr, flags):
    if flags & ~RENAME_NOREPLACE:
        return -errno.EINVAL
    old_inside, old = _at(call, olddirfd, _path(call, oldaddr), False)
    new_inside, new = _at(call, newdirfd, _path(call, newaddr), False)
    _not_root(old_inside)
    _not_root(new_inside)
    os.lstat(old)
    if flags & RENAME_NOREPLACE and os.path.lexists(new):
        return -errno.EEXIST
    os.rename(old, new)
    return 0


@syscall(82, "rename")
def sys_rename(call):
    return _rename(call, AT_FDCWD, call.args[0], AT_FDCWD, call.args[1], 0)


@syscall(264, "renameat")
def sys_renameat(call):
    return _rename(call, *call.args[:4], 0)


@syscall(316, "renameat2")
def sys_renameat2(call):
    return _rename(call, *call.args[:5])


def _link(call, olddirfd, oldaddr, newdirfd, newaddr, flags):
    if flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH):
        return -errno.EINVAL
    _i, old = _at(call, olddirfd, _path(call, oldaddr), bool(flags & AT_SYMLINK_FOLLOW))
    _j, new = _at(call, newdirfd, _path(call, newaddr), False)
    os.link(old, new, follow_symlinks=False)
    return 0


@syscall(86, "link")
def sys_link(call):
    return _link(call, AT_FDCWD, call.args[0], AT_FDCWD, call.args[1], 0)


@syscall(265, "linkat")
def sys_linkat(call):
    return _link(call, *call.args[:5])


def _symlink(call, taddr, dirfd, laddr):
    target = _path(call, taddr)
    if not target:
        return -errno.ENOENT
    _inside, host = _at(call, dirfd, _path(call, laddr), False)
    os.symlink(target, host)
    return 0


@syscall(88, "symlink")
def sys_symlink(call):
    return _symlink(call, call.args[0], AT_FDCWD, call.args[1])


@syscall(266, "symlinkat")
def sys_symlinkat(call):
    return _symlink(call, call.args[0], call.args[1], call.args[2])


def _readlink(call, dirfd, addr, buf, size):
    size = _fd(size)
    if size <= 0:
        return -errno.EINVAL
    _inside, host = _at(call, dirfd, _path(call, addr), False)
    target = os.readlink(os.fsencode(host))[:size]
    call.write(buf, target)
    return len(target)


@syscall(89, "readlink")
def sys_readlink(call):
    return _readlink(call, AT_FDCWD, *call.args[:3])


@syscall(267, "readlinkat")
def sys_readlinkat(call):
    return _readlink(call, *call.args[:4])


def _access(call, dirfd, addr, mode, flags):
    if mode & ~7 or flags & ~(AT_SYMLINK_NOFOLLOW | AT_EACCESS | AT_EMPTY_PATH):
        return -errno.EINVAL
    path = _path(call, addr)
    if not path and flags & AT_EMPTY_PATH:
        if _is_cwd(dirfd):
            host = host_of(call.proc.root, call.proc.cwd)
        else:
            f = call.proc.fds.get(_fd(dirfd))
            if not isinstance(f, HostFile):
                return 0
            host = f"/proc/self/fd/{f.hfd}"
    else:
        _inside, host = _at(call, dirfd, path, not flags & AT_SYMLINK_NOFOLLOW)
    os.lstat(host) if flags & AT_SYMLINK_NOFOLLOW else os.stat(host)
    if mode and not os.access(host, mode, follow_symlinks=not flags & AT_SYMLINK_NOFOLLOW):
        return -errno.EACCES
    return 0


@syscall(21, "access")
def sys_access(call):
    return _access(call, AT_FDCWD, call.args[0], call.args[1], 0)


@syscall(269, "faccessat")
def sys_faccessat(call):
    return _access(call, call.args[0], call.args[1], call.args[2], 0)


@syscall(439, "faccessat2")
def sys_faccessat2(call):
    return _access(call, *call.args[:4])


# -- the working directory ------------------------------------------------------------------

@syscall(79, "getcwd")
def sys_getcwd(call):
    buf, size = call.args[0], call.args[1]
    s = os.fsencode(call.proc.cwd) + b"\0"
    if size < len(s):
        return -errno.ERANGE
    call.write(buf, s)
    return len(s)


@syscall(80, "chdir")
def sys_chdir(call):
    inside, host = _at(call, AT_FDCWD, _path(call, call.args[0]), True)
    if not statmod.S_ISDIR(os.stat(host).st_mode):
        return -errno.ENOTDIR
    call.proc.cwd = inside
    return 0


@syscall(81, "fchdir")
def sys_fchdir(call):
    f = call.proc.fds.get(call.args[0])
    if not isinstance(f, DirFile):
        return -errno.ENOTDIR
    call.proc.cwd = f.path
    return 0


# -- contents, modes, times ------------------------------------------------------------------

@syscall(77, "ftruncate")
def sys_ftruncate(call):
    f = call.proc.fds.get(call.args[0])
    length = call.args[1]
    if length >> 63:
        return -errno.EINVAL
    if not isinstance(f, HostFile):
        return -errno.EINVAL
    f.truncate(length)
    return 0


@syscall(76, "truncate")
def sys_truncate(call):
    length = call.args[1]
    if length >> 63:
        return -errno.EINVAL
    _inside, host = _at(call, AT_FDCWD, _path(call, call.args[0]), True)
    if statmod.S_ISDIR(os.stat(host).st_mode):
        return -errno.EISDIR
    os.truncate(host, length)
    return 0


def _fsync(call):
    f = call.proc.fds.get(call.args[0])
    if not isinstance(f, HostFile):
        return -errno.EINVAL
    f.fsync()
    return 0


syscall(74, "fsync")(_fsync)
syscall(75, "fdatasync")(_fsync)


@syscall(91, "fchmod")
def sys_fchmod(call):
    f = call.proc.fds.get(call.args[0])
    if not isinstance(f, HostFile):
        return 0
    f.chmod(call.args[1] & 0o7777)
    return 0


def _chmod(call, dirfd, addr, mode):
    _inside, host = _at(call, dirfd, _path(call, addr), True)
    os.chmod(host, mode & 0o7777)
    return 0


@syscall(90, "chmod")
def sys_chmod(call):
    return _chmod(call, AT_FDCWD, call.args[0], call.args[1])


@syscall(268, "fchmodat")
def sys_fchmodat(call):
    return _chmod(call, call.args[0], call.args[1], call.args[2])


@syscall(280, "utimensat")
def sys_utimensat(call):
    dirfd, addr, times, flags = call.args[:4]
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        return -errno.EINVAL
    if addr == 0:                               # futimens
        f = call.proc.fds.get(_fd(dirfd))
        if not isinstance(f, HostFile):
            return -errno.EBADF
        target, follow = f.hfd, True
    else:
        _inside, target = _at(call, dirfd, _path(call, addr), not flags & AT_SYMLINK_NOFOLLOW)
        follow = not flags & AT_SYMLINK_NOFOLLOW
    now = time.time_ns()
    if times == 0:
        ns = (now, now)
    else:
        raw = struct.unpack("<qqqq", call.read(times, 32))
        st = os.stat(target, follow_symlinks=follow) if isinstance(target, str) else os.fstat(target)
        ns = []
        for (sec, nsec), old in zip((raw[0:2], raw[2:4]), (st.st_atime_ns, st.st_mtime_ns)):
            if nsec == UTIME_NOW:
                ns.append(now)
            elif nsec == UTIME_OMIT:
                ns.append(old)
            elif not 0 <= nsec < 1_000_000_000:
                return -errno.EINVAL
            else:
                ns.append(sec * 1_000_000_000 + nsec)
        ns = tuple(ns)
    if isinstance(target, str):
        os.utime(target, ns=ns, follow_symlinks=follow)
    else:
        os.utime(target, ns=ns)
    return 0
