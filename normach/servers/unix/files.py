"""Open files: the file descriptor table of a process and the calls that act on any
open file, whatever it is (console, host file, directory, pipe end).

An open file description (`File`) is shared by the descriptors dup'ed from it and
by a forked child's copies, as in Unix: they share its offset.  Each kind of file
is a subclass with `read`, `write`, `stat` ... ; a call that must wait (a read of
an empty pipe) is answered when the file can serve it (`File.wait_readable`).
"""

from __future__ import annotations

import errno
import stat as statmod
import struct
import threading

from .table import syscall

O_ACCMODE, O_RDONLY, O_WRONLY, O_RDWR = 3, 0, 1, 2
O_NONBLOCK, O_APPEND, O_CLOEXEC = 0o4000, 0o2000, 0o2000000
F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC = 0, 1, 2, 3, 4, 1030
FD_CLOEXEC = 1
TCGETS, TIOCGWINSZ, TIOCGPGRP, FIONBIO = 0x5401, 0x5413, 0x540F, 0x5421
IOV_MAX = 1024
NOFILE = 1024
RW_MAX = 1 << 24          # most bytes one read or write moves (Linux caps at 2 GiB - 4 KiB)


class File:
    """An open file description.  Subclasses override what they support."""

    kind = "file"

    def __init__(self, flags: int = O_RDWR):
        self.flags = flags
        self.refs = 0              # descriptors (in all processes) that name it

    def readable(self) -> bool:
        return (self.flags & O_ACCMODE) != O_WRONLY

    def writable(self) -> bool:
        return (self.flags & O_ACCMODE) != O_RDONLY

    def read(self, size: int) -> bytes | None:
        """The bytes read (b"" at the end), or None if the read must wait."""
        raise OSError(errno.EINVAL, "not readable")

    def write(self, data: bytes, call=None) -> int | None:
        raise OSError(errno.EINVAL, "not writable")

    def pread(self, size: int, offset: int) -> bytes:
        raise OSError(errno.ESPIPE, "not seekable")

    def pwrite(self, data: bytes, offset: int) -> int:
        raise OSError(errno.ESPIPE, "not seekable")

    def lseek(self, offset: int, whence: int) -> int:
        raise OSError(errno.ESPIPE, "not seekable")

    def stat(self) -> "StatInfo":
        return StatInfo(mode=statmod.S_IFCHR | 0o620)

    def ioctl(self, call, request: int, arg: int) -> int:
        return -errno.ENOTTY

    def poll(self) -> int:
        """poll events ready now (POLLIN 1, POLLOUT 4, POLLHUP 0x10)."""
        return (1 if self.readable() else 0) | (4 if self.writable() else 0)

    def wait_readable(self, fn) -> None:
        """Call fn() once the file may be read without waiting (pipes override)."""
        fn()

    def wait_writable(self, fn) -> None:
        fn()

    def opened(self) -> None:
        self.refs += 1

    def closed(self) -> None:
        self.refs -= 1
        if self.refs == 0:
            self.release()

    def release(self) -> None:
        """The last descriptor is gone."""

    def getdents(self, size: int) -> bytes:
        raise OSError(errno.ENOTDIR, "not a directory")


class StatInfo:
    """What fstat tells of a file (struct stat of x86-64 Linux, 144 bytes)."""

    def __init__(self, mode=0, size=0, ino=1, nlink=1, uid=0, gid=0, dev=1, rdev=0,
                 atime=0.0, mtime=0.0, ctime=0.0, blksize=4096):
        self.mode, self.size, self.ino, self.nlink = mode, size, ino, nlink
        self.uid, self.gid, self.dev, self.rdev = uid, gid, dev, rdev
        self.atime, self.mtime, self.ctime, self.blksize = atime, mtime, ctime, blksize

    @classmethod
    def of(cls, st) -> "StatInfo":
        """From a host os.stat_result."""
        return cls(st.st_mode, st.st_size, st.st_ino, st.st_nlink, st.st_uid, st.st_gid,
                   st.st_dev, st.st_rdev, st.st_atime, st.st_mtime, st.st_ctime)

    def pack(self) -> bytes:
        def ts(t):
            return int(t), int((t - int(t)) * 1e9)
        blocks = (self.size + 511) // 512
        return struct.pack("<QQQIIIIQqqq" "qq" "qq" "qq" "24x",
                           self.dev, self.ino, self.nlink, self.mode, self.uid, self.gid, 0,
                           self.rdev, self.size, self.blksize, blocks,
                           *ts(self.atime), *ts(self.mtime), *ts(self.ctime))


class ConsoleInput:
    """What a program reads from its console: a host stream (`normach run`'s stdin) read
    by a thread of its own into a buffer; a reader that finds it empty waits, and is
    answered on the server thread (`post`) when bytes or the end arrive."""

    def __init__(self, stream, chunk: int = 65536):
        self.stream = stream
        self.buf = bytearray()
        self.eof = False
        self.lock = threading.Lock()
        self.waiting: list = []          # (post, fn): readers to tell
        threading.Thread(target=self._pump, args=(chunk,), daemon=True,
                         name="console-stdin").start()

    def _pump(self, chunk: int) -> None:
        read = getattr(self.stream, "read1", None) or self.stream.read
        while True:
            try:
                data = read(chunk)
            except (OSError, ValueError):
                data = b""
            with self.lock:
                if data:
                    self.buf += data
                else:
                    self.eof = True
                waiting, self.waiting = self.waiting, []
            for post, fn in waiting:
                post(fn)
            if not data:
                return

    def take(self, size: int) -> bytes | None:
        """Up to `size` bytes; b"" at the end; None if the reader must wait."""
        with self.lock:
            if self.buf:
                out = bytes(self.buf[:size])
                del self.buf[:size]
                return out
            return b"" if self.eof else None

    def ready(self) -> bool:
        with self.lock:
            return bool(self.buf) or self.eof

    def wait(self, post, fn) -> None:
        with self.lock:
            if not (self.buf or self.eof):
                self.waiting.append((post, fn))
                return
        post(fn)


class ConsoleFile(File):
    """The program's console: writes go to its output (what `normach run` prints);
    reads take its input (`normach run`'s stdin, when the run gives one: Output.stdin),
    else find the end of input at once."""

    kind = "console"

    def __init__(self, output, flags=O_RDWR, post=None):
        super().__init__(flags)
        self.output = output
        self.post = post                 # runs fn() on the server thread

    @property
    def input(self):
        return getattr(self.output, "stdin", None)

    def read(self, size: int) -> bytes | None:
        return b"" if self.input is None else self.input.take(size)

    def wait_readable(self, fn) -> None:
        if self.input is None or self.post is None:
            fn()
        else:
            self.input.wait(self.post, fn)

    def poll(self) -> int:
        ready_in = self.input is None or self.input.ready()
        return (1 if self.readable() and ready_in else 0) | (4 if self.writable() else 0)

    def write(self, data: bytes, call=None) -> int:
        if self.output is not None:
            self.output.write(bytes(data))
        return len(data)

    def ioctl(self, call, request: int, arg: int) -> int:
        if not getattr(self.output, "tty", True):
            return -errno.ENOTTY             # `normach run` < file, or > file: no terminal
        if request == TCGETS:
            # struct termios: iflag oflag cflag lflag, line, cc[19]; a cooked terminal
            call.write(arg, struct.pack("<IIIIB19B", 0x500, 0x5, 0xBF, 0x8A3B, 0, *([0] * 19)))
            return 0
        if request == TIOCGWINSZ:
            call.write(arg, struct.pack("<HHHH", 24, 80, 0, 0))
            return 0
        if request == TIOCGPGRP:
            call.put_u32(arg, call.proc.pid)
            return 0
        return -errno.ENOTTY


class FdTable:
    """A process's descriptors: fd -> [File, cloexec]."""

    def __init__(self):
        self.fds: dict = {}

    @classmethod
    def console(cls, output, post=None) -> "FdTable":
        t = cls()
        for fd, flags in ((0, O_RDONLY), (1, O_WRONLY), (2, O_WRONLY)):
            t.install(ConsoleFile(output, flags, post), fd)
        return t

    def fork(self) -> "FdTable":
        t = FdTable()
        for fd, (f, cloexec) in self.fds.items():
            t.install(f, fd, cloexec)
        return t

    def get(self, fd: int) -> File:
        """Raises OSError(EBADF)."""
        entry = self.fds.get(fd)
        if entry is None:
            raise OSError(errno.EBADF, "bad file descriptor")
        return entry[0]

    def install(self, f: File, fd: int | None = None, cloexec: bool = False, lowest: int = 0) -> int:
        """Give `f` a descriptor (`fd`, replacing what it named, or the lowest free one
        >= `lowest`).  Raises OSError(EMFILE)."""
        if fd is None:
            fd = lowest
            while fd in self.fds:
                fd += 1
            if fd >= NOFILE:
                raise OSError(errno.EMFILE, "too many open files")
        f.opened()
        old = self.fds.get(fd)
        self.fds[fd] = [f, cloexec]
        if old is not None:
            old[0].closed()
        return fd

    def close(self, fd: int) -> None:
        entry = self.fds.pop(fd, None)
        if entry is None:
            raise OSError(errno.EBADF, "bad file descriptor")
        entry[0].closed()

    def close_all(self) -> None:
        for fd in list(self.fds):
            self.close(fd)

    def close_on_exec(self) -> None:
        for fd in [fd for fd, (_f, c) in self.fds.items() if c]:
            self.close(fd)


# -- calls on any open file ---------------------------------------------------------------

def _iov(call, addr: int, count: int) -> list:
    """The (address, length) pairs of an iovec array, clipped as Linux clips them: to
    RW_MAX bytes in all.  Raises OSError(EINVAL: a length < 0 as ssize_t; EFAULT)."""
    if count < 0 or count > IOV_MAX:
        raise OSError(errno.EINVAL, "iovcnt")
    raw = call.read(addr, 16 * count)
    out, room = [], RW_MAX
    for i in range(count):
        base, n = struct.unpack_from("<QQ", raw, 16 * i)
        if n >> 63:
            raise OSError(errno.EINVAL, "iov_len")
        n = min(n, room)
        room -= n
        out.append((base, n))
    return out


@syscall(0, "read")
def sys_read(call):
    fd, buf, count = call.args[0], call.args[1], call.args[2]
    f = call.proc.fds.get(fd)
    if not f.readable():
        return -errno.EBADF
    return _read_into(call, f, [(buf, min(count, RW_MAX))])


def _read_into(call, f: File, iov: list):
    """Read into the buffers of `iov`; waits (answers later) if the file has nothing yet."""
    total = sum(n for _a, n in iov)
    data = f.read(total)
    if data is None:
        if f.flags & O_NONBLOCK:
            return -errno.EAGAIN
        f.wait_readable(lambda: _answer(call, _retry_read(call, f, iov)))
        return None
    return _scatter(call, iov, data)


def _answer(call, result) -> None:
    """Answer a retried read or write, unless it had to wait again (None)."""
    if result is not None:
        call.finish(result)


def _retry_read(call, f, iov):
    if not call.alive:              # its thread left (aborted, moved, killed): take nothing
        call.drop()
        return None
    try:
        r = _read_into(call, f, iov)
    except OSError as e:
        return -(e.errno or errno.EIO)
    return r


def _scatter(call, iov, data: bytes) -> int:
    at = 0
    for addr, n in iov:
        if at >= len(data):
            break
        piece = data[at:at + n]
        call.write(addr, piece)
        at += len(piece)
    return at


@syscall(1, "write")
def sys_write(call):
    fd, buf, count = call.args[0], call.args[1], call.args[2]
    f = call.proc.fds.get(fd)
    if not f.writable():
        return -errno.EBADF
    return _write(call, f, _source(call, f, [(buf, min(count, RW_MAX))]))


def _source(call, f: File, iov: list):
    """What a write of the buffers of `iov` writes: their bytes, or for a file that takes
    them as room comes (a pipe: `takes_slices`) a GuestBytes, so that a write waiting
    for room holds no copy of them in the server."""
    if getattr(f, "takes_slices", False):
        return GuestBytes(call, iov)
    return b"".join(call.read(a, n) for a, n in iov)


class GuestBytes:
    """The bytes of guest buffers `iov` [(address, length)], read when sliced.
    Raises OSError(EFAULT) at the slice that meets a bad address."""

    def __init__(self, call, iov: list):
        self.call, self.iov = call, iov
        self.size = sum(n for _a, n in iov)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, piece: slice) -> bytes:
        start, stop, _step = piece.indices(self.size)
        out, at = [], 0
        for addr, n in self.iov:
            lo, hi = max(start, at), min(stop, at + n)
            if lo < hi:
                out.append(self.call.read(addr + lo - at, hi - lo))
            at += n
        return b"".join(out)


def _write(call, f: File, data: bytes):
    if f.flags & O_NONBLOCK:
        r = f.write(data, call)
        return -errno.EAGAIN if r is None else r
    r = f.write(data, call)
    if r is None:
        f.wait_writable(lambda: _answer(call, _retry_write(call, f, data)))
    return r


def _retry_write(call, f, data):
    if not call.alive:              # its thread left: write nothing (it will write again)
        call.drop()
        return None
    try:
        r = _write(call, f, data)
    except OSError as e:
        return -(e.errno or errno.EIO)
    return r


@syscall(19, "readv")
def sys_readv(call):
    f = call.proc.fds.get(call.args[0])
    if not f.readable():
        return -errno.EBADF
    return _read_into(call, f, _iov(call, call.args[1], call.args[2]))


@syscall(20, "writev")
def sys_writev(call):
    f = call.proc.fds.get(call.args[0])
    if not f.writable():
        return -errno.EBADF
    return _write(call, f, _source(call, f, _iov(call, call.args[1], call.args[2])))


@syscall(17, "pread64")
def sys_pread64(call):
    fd, buf, count, off = call.args[:4]
    if off >> 63:
        return -errno.EINVAL
    f = call.proc.fds.get(fd)
    if not f.readable():
        return -errno.EBADF
    data = f.pread(min(count, RW_MAX), off)
    call.write(buf, data)
    return len(data)


@syscall(18, "pwrite64")
def sys_pwrite64(call):
    fd, buf, count, off = call.args[:4]
    if off >> 63:
        return -errno.EINVAL
    f = call.proc.fds.get(fd)
    if not f.writable():
        return -errno.EBADF
    return f.pwrite(call.read(buf, min(count, RW_MAX)), off)


@syscall(8, "lseek")
def sys_lseek(call):
    off = call.args[1]
    off = off - (1 << 64) if off >> 63 else off
    if call.args[2] not in (0, 1, 2):
        return -errno.EINVAL
    return call.proc.fds.get(call.args[0]).lseek(off, call.args[2])


@syscall(3, "close")
def sys_close(call):
    call.proc.fds.close(call.args[0])
    return 0


@syscall(5, "fstat")
def sys_fstat(call):
    st = call.proc.fds.get(call.args[0]).stat()
    call.write(call.args[1], st.pack())
    return 0


@syscall(16, "ioctl")
def sys_ioctl(call):
    f = call.proc.fds.get(call.args[0])
    request = call.args[1] & 0xFFFFFFFF
    if request == FIONBIO:
        on = call.u32(call.args[2])
        f.flags = (f.flags | O_NONBLOCK) if on else (f.flags & ~O_NONBLOCK)
        return 0
    return f.ioctl(call, request, call.args[2])


@syscall(32, "dup")
def sys_dup(call):
    fds = call.proc.fds
    return fds.install(fds.get(call.args[0]))


@syscall(33, "dup2")
def sys_dup2(call):
    old, new = call.args[0], call.args[1]
    fds = call.proc.fds
    f = fds.get(old)
    if old == new:
        return new
    if new >= NOFILE:
        return -errno.EBADF
    return fds.install(f, new)


@syscall(292, "dup3")
def sys_dup3(call):
    old, new, flags = call.args[0], call.args[1], call.args[2]
    if old == new or flags & ~O_CLOEXEC:
        return -errno.EINVAL
    if new >= NOFILE:
        return -errno.EBADF
    fds = call.proc.fds
    return fds.install(fds.get(old), new, bool(flags & O_CLOEXEC))


@syscall(72, "fcntl")
def sys_fcntl(call):
    fd, cmd, arg = call.args[0], call.args[1], call.args[2]
    fds = call.proc.fds
    f = fds.get(fd)
    if cmd in (F_DUPFD, F_DUPFD_CLOEXEC):
        if arg >= NOFILE:
            return -errno.EINVAL
        return fds.install(f, None, cmd == F_DUPFD_CLOEXEC, lowest=arg)
    if cmd == F_GETFD:
        return FD_CLOEXEC if fds.fds[fd][1] else 0
    if cmd == F_SETFD:
        fds.fds[fd][1] = bool(arg & FD_CLOEXEC)
        return 0
    if cmd == F_GETFL:
        return f.flags & ~O_CLOEXEC
    if cmd == F_SETFL:
        f.flags = (f.flags & ~(O_NONBLOCK | O_APPEND)) | (arg & (O_NONBLOCK | O_APPEND))
        return 0
    return -errno.EINVAL
