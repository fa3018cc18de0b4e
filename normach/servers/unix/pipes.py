"""Pipes and waiting for descriptors: pipe, pipe2, and poll, ppoll, select, pselect6.

A pipe is a bounded buffer (CAPACITY bytes) in the server with two open file
descriptions, its read end and its write end; a forked child shares them (the
descriptor table's fork).  A read of an empty pipe whose write end is still open
waits: its call is answered when bytes arrive or the last writer goes (then it
reads the end, b"").  A blocking write waits for room and returns once all its
bytes are in (a write of at most PIPE_BUF bytes goes in whole, atomically); a
write with no reader left is EPIPE (and SIGPIPE, through the signals area's
`raise_signal` hook of the process when there is one).

poll and select look at any open file through `File.poll()`; when nothing is
ready they keep their call and are answered when a watched file changes (files
with `watch(fn)`, as pipe ends have) or at the timeout (timers.py).
"""

from __future__ import annotations

import errno
import stat as statmod
import struct

from .clock import read_timespec
from .files import O_CLOEXEC, O_NONBLOCK, O_RDONLY, O_WRONLY, File, StatInfo
from .procs import send_signal
from .table import syscall

CAPACITY = 64 * 1024
PIPE_BUF = 4096
O_DIRECT = 0o40000
POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP, POLLNVAL = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
POLLRDNORM, POLLWRNORM = 0x40, 0x100
SIGPIPE = 13
NFDS_MAX = 1024


class Pipe:
    """The buffer and its two ends' state.  `waits`: fns to call when the pipe changes
    (each once; a waiter that still cannot go on waits again)."""

    def __init__(self):
        self.buf = bytearray()
        self.readers = self.writers = 1
        self.read_waits: list = []
        self.write_waits: list = []
        self.watchers: list = []
        self.busy = self.again = False
        self.ino = id(self) & 0xFFFFFFFF

    def space(self) -> int:
        return max(CAPACITY - len(self.buf), 0)

    def changed(self) -> None:
        """Wake whoever may go on now: readers while there are bytes (or no writer),
        writers while there is room (or no reader), and every watcher.  A waiter
        woken runs now and may change the pipe again: then another round (never
        re-entered); one that must still wait is queued again, not retried."""
        if self.busy:
            self.again = True
            return
        self.busy = True
        try:
            self.again = True
            while self.again:
                self.again = False
                self._wake("read_waits", lambda: bool(self.buf) or not self.writers)
                self._wake("write_waits", lambda: self.space() > 0 or not self.readers)
                watchers, self.watchers = self.watchers, []
                for fn in watchers:
                    fn()
        finally:
            self.busy = False

    def _wake(self, name: str, ready) -> None:
        waits = getattr(self, name)
        setattr(self, name, [])
        for i, fn in enumerate(waits):
            if not ready():
                setattr(self, name, waits[i:] + getattr(self, name))
                return
            fn()


class _End(File):
    kind = "pipe"

    def __init__(self, pipe: Pipe, flags: int):
        super().__init__(flags)
        self.pipe = pipe

    def stat(self) -> StatInfo:
        return StatInfo(mode=statmod.S_IFIFO | 0o600, ino=self.pipe.ino, size=len(self.pipe.buf),
                        dev=0xC, blksize=PIPE_BUF)

    def watch(self, fn) -> object:
        """Call fn() once, at the pipe's next change.  Returns what `unwatch` takes."""
        self.pipe.watchers.append(fn)
        return fn

    def unwatch(self, token) -> None:
        try:
            self.pipe.watchers.remove(token)
        except ValueError:
            pass


class ReadEnd(_End):

    def read(self, size: int) -> bytes | None:
        p = self.pipe
        if not p.buf:
            return b"" if not p.writers else None
        data = bytes(p.buf[:size])
        del p.buf[:size]
        p.changed()
        return data

    def wait_readable(self, fn) -> None:
        self.pipe.read_waits.append(fn)

    def poll(self) -> int:
        p = self.pipe
        return (POLLIN | POLLRDNORM if p.buf else 0) | (POLLHUP if not p.writers else 0)

    def release(self) -> None:
        self.pipe.readers = 0
        self.pipe.changed()


class WriteEnd(_End):

    takes_slices = True      # write() takes a files.GuestBytes: read from the guest as room comes

    def write(self, data: bytes, call=None) -> int | None:
        """All of `data` (a blocking write keeps its progress on its call and is
        retried as room comes), or None to wait; -EPIPE with no reader."""
        p = self.pipe
        done = getattr(call, "pipe_written", 0) if call is not None else 0
        if not p.readers:
            _forget_progress(call)
            if done:
                return done
            if call is not None:
                send_signal(call.proc, SIGPIPE, thread=call.thread, call=call)
            return -errno.EPIPE
        rest = len(data) - done
        room = p.space()
        if rest == 0:
            _forget_progress(call)
            return done
        if room == 0 or (rest <= PIPE_BUF and room < rest):
            return None                       # O_NONBLOCK: EAGAIN (files._write)
        n = min(room, rest)
        p.buf += data[done:done + n]
        done += n
        blocking = call is not None and not self.flags & O_NONBLOCK
        if done < len(data) and blocking:
            call.pipe_written = done
            p.changed()
            return None
        _forget_progress(call)
        p.changed()
        return done

    def wait_writable(self, fn) -> None:
        self.pipe.write_waits.append(fn)

    def poll(self) -> int:
        p = self.pipe
        if not p.readers:
            return POLLERR
        return POLLOUT | POLLWRNORM if p.space() >= PIPE_BUF else 0

    def release(self) -> None:
        self.pipe.writers = 0
        self.pipe.changed()


def _forget_progress(call) -> None:
    if call is not None and hasattr(call, "pipe_written"):
        del call.pipe_written


def make_pipe(flags: int = 0) -> tuple:
    """(read end, write end) of a new pipe, with O_NONBLOCK from `flags`."""
    p = Pipe()
    nb = flags & O_NONBLOCK
    return ReadEnd(p, O_RDONLY | nb), WriteEnd(p, O_WRONLY | nb)


@syscall(22, "pipe")
def sys_pipe(call):
    return _pipe(call, call.args[0], 0)


@syscall(293, "pipe2")
def sys_pipe2(call):
    return _pipe(call, call.args[0], call.args[1])


def _pipe(call, addr: int, flags: int) -> int:
    if flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT):
        return -errno.EINVAL
    r, w = make_pipe(flags)
    fds = call.proc.fds
    cloexec = bool(flags & O_CLOEXEC)
    rfd = fds.install(r, None, cloexec)
    try:
        wfd = fds.install(w, None, cloexec)
    except OSError:
        fds.close(rfd)
        raise
    try:
        call.write(addr, struct.pack("<ii", rfd, wfd))
    except OSError:
        fds.close(rfd)
        fds.close(wfd)
        raise
    return 0


# -- waiting for descriptors ----------------------------------------------------------------

def wait_ready(call, files, check, timeout: float | None):
    """Answer `call` with check(False) as soon as it is not None, or check(True) at
    the timeout (None: no timeout; 0: at once).  `files`: those whose changes may
    make check pass.  Returns the result now, or None (answered later)."""
    r = check(False)
    if r is not None:
        return r
    if timeout is not None and timeout <= 0:
        return check(True)
    watched: list = []
    cell: list = [None]
    done = [False]

    def stop():
        done[0] = True
        for f, token in watched:
            f.unwatch(token)
        watched.clear()
        call.server.timers.cancel(cell[0])
        if getattr(call.thread, "wait_cancel", None) is stop:
            call.thread.wait_cancel = None

    def arm():
        for f in files:
            watch = getattr(f, "watch", None)
            if watch is not None:
                watched.append((f, watch(wake)))

    def answer(timed_out: bool):
        if done[0]:
            return
        if not call.alive:
            stop()
            call.drop()
            return
        try:
            result = check(timed_out)
        except OSError as e:
            result = -(e.errno or errno.EFAULT)
        if result is None:
            watched.clear()                 # the watches fired: set them again
            arm()
            return
        stop()
        call.finish(result)

    def wake():
        answer(False)

    arm()
    if timeout is not None:
        cell[0] = call.server.timers.after(timeout, lambda: answer(True))
    call.thread.wait_cancel = stop
    return None


def _revents(fds, fd: int, events: int) -> int:
    if fd < 0:
        return 0
    entry = fds.fds.get(fd)
    if entry is None:
        return POLLNVAL
    return entry[0].poll() & (events | POLLERR | POLLHUP)


def _files(fds, fd_list) -> list:
    return [fds.fds[fd][0] for fd in fd_list if fd in fds.fds]


def _poll(call, addr: int, nfds: int, timeout: float | None):
    if nfds > NFDS_MAX:
        return -errno.EINVAL
    raw = call.read(addr, 8 * nfds)
    entries = [struct.unpack_from("<ihh", raw, 8 * i)[:2] for i in range(nfds)]
    fds = call.proc.fds

    def check(timed_out: bool):
        revents = [_revents(fds, fd, ev & 0xFFFF) for fd, ev in entries]
        n = sum(1 for r in revents if r)
        if not n and not timed_out:
            return None
        out = bytearray(raw)
        for i, r in enumerate(revents):
            struct.pack_into("<H", out, 8 * i + 6, r)
        call.write(addr, bytes(out))
        return n
    return wait_ready(call, _files(fds, [fd for fd, _e in entries]), check, timeout)


@syscall(7, "poll")
def sys_poll(call):
    ms = call.args[2] & 0xFFFFFFFF
    ms = ms - (1 << 32) if ms >> 31 else ms
    return _poll(call, call.args[0], call.args[1], None if ms < 0 else ms / 1000)


@syscall(271, "ppoll")
def sys_ppoll(call):
    timeout = read_timespec(call, call.args[2]) if call.args[2] else None
    return _poll(call, call.args[0], call.args[1], timeout)


def _select(call, nfds: int, sets: list, timeout: float | None):
    """sets: the addresses of readfds, writefds, exceptfds (0: none)."""
    nfds = nfds & 0xFFFFFFFF
    if nfds > NFDS_MAX:
        return -errno.EINVAL
    nbytes = (nfds + 63) // 64 * 8
    bits = [int.from_bytes(call.read(a, nbytes), "little") if a else 0 for a in sets]
    fds = call.proc.fds
    wanted = [fd for fd in range(nfds) if any(b >> fd & 1 for b in bits)]
    for fd in wanted:
        if fd not in fds.fds:
            return -errno.EBADF
    masks = (POLLIN | POLLHUP | POLLERR, POLLOUT | POLLERR, POLLPRI)

    def check(timed_out: bool):
        out = [0, 0, 0]
        for fd in wanted:
            entry = fds.fds.get(fd)
            ev = entry[0].poll() if entry is not None else POLLNVAL
            for i in range(3):
                if bits[i] >> fd & 1 and ev & masks[i]:
                    out[i] |= 1 << fd
        n = sum(bin(o).count("1") for o in out)
        if not n and not timed_out:
            return None
        for a, o in zip(sets, out):
            if a:
                call.write(a, o.to_bytes(nbytes, "little"))
        return n
    return wait_ready(call, _files(fds, wanted), check, timeout)


@syscall(23, "select")
def sys_select(call):
    nfds, r, w, e, tv = call.args[:5]
    timeout = None
    if tv:
        sec, usec = struct.unpack("<qq", call.read(tv, 16))
        if sec < 0 or not 0 <= usec < 1_000_000:
            return -errno.EINVAL
        timeout = sec + usec / 1e6
    return _select(call, nfds, [r, w, e], timeout)


@syscall(270, "pselect6")
def sys_pselect6(call):
    nfds, r, w, e, ts = call.args[:5]
    timeout = read_timespec(call, ts) if ts else None
    return _select(call, nfds, [r, w, e], timeout)
