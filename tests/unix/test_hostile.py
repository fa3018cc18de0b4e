"""U1.9: a hostile guest.  System calls with arguments chosen to hurt (sizes that
overflow, timeouts of centuries, files that block an open) are answered with an
errno as Linux would answer them; none makes a handler raise anything else, holds
server memory the guest did not pay for, or stops the server thread.

The requests are built by hand, as in test_restart.py, and sent to a live process's
port for threads of it that never run, so that each waits for its own answer."""

import os
import struct
import threading

import pytest

from normach import mach
from normach.errors import KernError
from normach.ipc.message import Message, PortDesc
from normach.kern.thread import X86ThreadState64
from normach.mach_types import MsgOption, MsgType, PortRight
from normach.servers.unix.files import RW_MAX
from normach.servers.unix.server import server_for
from tests.waiting import wait_until

PORT, TASK = 0x1103, 0x1203
U64 = (1 << 64) - 1
EINVAL, EFAULT, EACCES, ENXIO, ETIMEDOUT, EAGAIN = 22, 14, 13, 6, 110, 11
AT_FDCWD = -100 & U64
SCRATCH = 64 << 20           # bytes of guest memory the tests write their arguments into


class Guest:
    """A live "idle" process of `cluster` and a task that sends its server requests as
    the kernel would, for threads of the process that never run."""

    def __init__(self, cluster, linux_exe, root):
        self.root = root
        self.p = cluster.spawn(linux_exe("idle"), [], root=str(root))
        wait_until(lambda: b"ready" in bytes(self.p.out.data), what="the program to start")
        self.server = server_for(cluster.kernel(0))
        self.proc = next(pr for pr in self.server.procs.values() if pr.name == "idle"
                         and pr.alive and pr.root == os.path.realpath(str(root)))
        self.bugs = self.server.stats.bugs
        self.sender = cluster.task_create()
        self.cluster = cluster
        mach.mach_port_insert_right(self.sender, PORT, mach.mach_port_extract_right(
            self.server.task, self.proc.port, MsgType.MAKE_SEND), MsgType.MOVE_SEND)
        mach.mach_port_insert_right(self.sender, TASK, self.proc.task, MsgType.COPY_SEND)
        self.mem = mach.vm_allocate(self.proc.task, 0, SCRATCH, True)
        self.threads: list = []
        self.thread = self.new_thread()

    def new_thread(self) -> tuple:
        """(name in the sender, its reply port) of a new thread of the process, never run."""
        quiet = mach.thread_create(self.proc.task)
        name = 0x1303 + 0x100 * len(self.threads)
        mach.mach_port_insert_right(self.sender, name, quiet, MsgType.COPY_SEND)
        reply = mach.mach_port_allocate(self.sender, PortRight.RECEIVE)
        self.threads.append(quiet)
        return name, reply

    def put(self, offset: int, data: bytes) -> int:
        """Write `data` into the guest's scratch memory; its address."""
        mach.vm_write(self.proc.task, self.mem + offset, data)
        return self.mem + offset

    def send(self, nr: int, *args: int, thread=None) -> int:
        """Send the request of system call `nr`; the reply port its answer will reach."""
        name, reply = thread or self.thread
        a = [x & U64 for x in args] + [0] * (6 - len(args))
        s = X86ThreadState64(rax=nr, rdi=a[0], rsi=a[1], rdx=a[2], r10=a[3], r8=a[4], r9=a[5],
                             rip=0x401002)
        words = s.to_words()
        data = struct.pack(f"<iI2qiI{len(words)}Q", 7, 2, nr, s.rip, 4, 2 * len(words), *words)
        body = [PortDesc(name, MsgType.COPY_SEND), PortDesc(TASK, MsgType.COPY_SEND), data]
        mach.mach_msg_send(self.sender, Message(remote_port=PORT, remote_disp=MsgType.COPY_SEND,
                                                local_port=reply, local_disp=MsgType.MAKE_SEND_ONCE,
                                                id=2403, body=body))
        return reply

    def answer(self, reply: int, timeout: float = 60.0) -> int | None:
        """The result (rax, signed) the call sent to `reply` is answered with, or None if no
        answer came within `timeout` seconds."""
        try:
            m = mach.mach_msg_receive(self.sender, reply, MsgOption.RCV_TIMEOUT, int(timeout * 1000))
        except KernError:
            return None
        data = b"".join(bytes(i) for i in m.body if isinstance(i, (bytes, bytearray)))
        code = struct.unpack_from("<i", data)[0]
        assert code == 0, f"answered with a Mach error {code:#x}"
        rax = struct.unpack_from("<Q", data, 12)[0]
        return rax - (1 << 64) if rax >> 63 else rax

    def call(self, nr: int, *args: int, thread=None, timeout: float = 60.0) -> int | None:
        return self.answer(self.send(nr, *args, thread=thread), timeout)

    def path(self, offset: int, text: str) -> int:
        return self.put(offset, text.encode() + b"\0")

    def end(self) -> None:
        assert self.server.stats.bugs == self.bugs, "a handler raised something other than an errno"
        (self.root / "stop").write_text("")
        for t in self.threads:
            try:
                mach.thread_terminate(t)
            except KernError:
                pass
        mach.task_terminate(self.sender)
        self.cluster.wait(self.p, timeout=120)


@pytest.fixture
def guest(cluster, linux_exe, tmp_path):
    g = Guest(cluster, linux_exe, tmp_path)
    yield g
    g.end()


# -- sizes that overflow --------------------------------------------------------------------

def test_U1_9_readv_with_huge_lengths_is_bounded(guest, tmp_path):
    (tmp_path / "f").write_bytes(b"x" * 100)
    fd = guest.call(257, AT_FDCWD, guest.path(0, "f"), 0, 0)
    assert fd >= 3
    buf = guest.mem + 4096
    iov = guest.put(256, struct.pack("<QQQQ", buf, (1 << 62), buf + 200, (1 << 62)))
    assert guest.call(19, fd, iov, 2) == 100                # read what there is, not 2**63
    iov = guest.put(256, struct.pack("<QQQQ", buf, U64 >> 1, buf, U64 >> 1))
    assert guest.call(19, fd, iov, 2) == 0                  # at the end: nothing more
    iov = guest.put(256, struct.pack("<QQ", buf, U64))
    assert guest.call(19, fd, iov, 1) == -EINVAL            # a length < 0 as ssize_t
    assert guest.server.stats.bugs == guest.bugs


def test_U1_9_writev_moves_at_most_RW_MAX_bytes(guest, tmp_path):
    fd = guest.call(257, AT_FDCWD, guest.path(0, "out"), 0o101, 0o644)     # O_WRONLY|O_CREAT
    assert fd >= 3
    # 32 vectors, each the whole scratch area: 2 GiB the server must not gather
    iov = guest.put(4096, struct.pack("<QQ", guest.mem, SCRATCH) * 32)
    n = guest.call(20, fd, iov, 32)
    assert 0 < n <= RW_MAX
    assert os.path.getsize(tmp_path / "out") == n


def test_U1_9_mmap_of_a_file_with_a_huge_length_or_offset(guest, tmp_path):
    (tmp_path / "f").write_bytes(b"hello" * 1000)
    fd = guest.call(257, AT_FDCWD, guest.path(0, "f"), 0, 0)
    # length 2**46 (64 TiB): not read into the server whole
    r = guest.call(9, 0, 1 << 46, 3, 2, fd, 0)              # PROT_READ|WRITE, MAP_PRIVATE
    assert r == -12 or r > 0                                # ENOMEM, or a mapping of it
    if r > 0:
        assert mach.vm_read(guest.proc.task, r, 5) == b"hello"
        guest.call(11, r, 1 << 46)
    assert guest.call(9, 0, 4096, 3, 2, fd, 1 << 63) == -75     # EOVERFLOW, as Linux
    assert guest.call(9, 0, 4096, 3, 2, fd, U64 - 4095) == -75
    assert guest.server.stats.bugs == guest.bugs


# -- time ------------------------------------------------------------------------------------

def test_U1_9_a_sleep_of_centuries_stops_no_timer(guest):
    forever = guest.new_thread()
    guest.send(35, guest.put(0, struct.pack("<qq", 1 << 40, 0)), thread=forever)   # 35 000 years
    # ... other sleeps are still answered when due, once it is the next deadline too
    short = guest.put(64, struct.pack("<qq", 0, 10_000_000))
    for _ in range(20):
        assert guest.call(35, short, timeout=30) == 0
    timers = [t for t in threading.enumerate() if t.name == f"{guest.server.thread.name}-timers"]
    assert timers and timers[0].is_alive()


def test_U1_9_cancelled_timers_do_not_pile_up(guest):
    word = guest.put(0, struct.pack("<I", 7))
    ts = guest.put(64, struct.pack("<qq", 3600, 0))
    waiter = guest.new_thread()
    for _ in range(300):       # a futex wait of an hour, woken at once: its timer is cancelled
        reply = guest.send(202, word, 128, 7, ts, thread=waiter)        # FUTEX_WAIT_PRIVATE
        wait_until(lambda: guest.proc.extra.get("futex", {}).get(word), what="the wait")
        assert guest.call(202, word, 129, 1) == 1                       # FUTEX_WAKE_PRIVATE
        assert guest.answer(reply) == 0
    assert len(guest.server.timers.heap) < 200


def test_U1_9_a_write_waiting_on_a_full_pipe_holds_no_copy_of_its_bytes(guest):
    fds = guest.put(0, bytes(8))
    assert guest.call(22, fds) == 0
    rfd, wfd = struct.unpack("<ii", mach.vm_read(guest.proc.task, fds, 8))
    size = 1 << 20
    buf = guest.put(1 << 20, b"a" * size)
    writer = guest.new_thread()
    reply = guest.send(1, wfd, buf, size, thread=writer)      # 64 KiB go in, the call waits
    assert guest.answer(reply, timeout=1) is None
    # the bytes not in the pipe yet are still the guest's own: they are taken from its
    # memory as room comes (as Linux copies them), not copied whole into the server
    guest.put((1 << 20) + size // 2, b"b" * (size // 2))
    got = 0
    into = guest.mem + (4 << 20)
    while got < size:
        n = guest.call(0, rfd, into + got, size - got)
        assert n > 0
        got += n
    assert guest.answer(reply) == size
    data = mach.vm_read(guest.proc.task, into, size)
    assert data == b"a" * (size // 2) + b"b" * (size // 2)


# -- files that would block the server ---------------------------------------------------------

def test_U1_9_opening_a_fifo_inside_the_root_never_blocks_the_server(guest, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    try:
        r = guest.call(257, AT_FDCWD, guest.path(0, "fifo"), 0, 0, timeout=20)     # O_RDONLY
        assert r is not None, "the server thread is blocked in the open"
        assert r == -ENXIO
        assert guest.call(257, AT_FDCWD, guest.path(0, "fifo"), 1, 0, timeout=20) == -ENXIO
        # O_PATH names it without opening it
        fd = guest.call(257, AT_FDCWD, guest.path(0, "fifo"), 0o10000000, 0, timeout=20)
        assert fd >= 3
        assert guest.call(3, fd) == 0
        # execve of it: refused, not read
        argv = guest.put(512, struct.pack("<QQ", guest.path(0, "fifo"), 0))
        assert guest.call(59, guest.path(0, "fifo"), argv, 0, timeout=20) == -EACCES
    finally:
        _unblock(fifo)


def _unblock(fifo) -> None:
    """Free a server thread blocked in an open of `fifo` (old code), for the teardown."""
    for _ in range(3):
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
        except OSError:
            pass


# -- any argument ------------------------------------------------------------------------------

def test_U1_9_nasty_arguments_are_answered_with_an_errno(guest, tmp_path):
    (tmp_path / "f").write_bytes(b"data")
    os.symlink("f", tmp_path / "l")
    m = guest.mem
    path = guest.path(0, "f")
    link = guest.path(64, "l")
    unmapped = 0x7FFF_0000_0000
    guest.put(128, b"x" * 8192)                 # a string without NUL
    ts_huge = guest.put(16384, struct.pack("<qq", (1 << 63) - 1, 999_999_999))
    big = 1 << 63
    times = guest.put(256, struct.pack("<qqqq", (1 << 63) - 1, 999_999_999, -(1 << 63), 0))
    fd = guest.call(257, AT_FDCWD, path, 0, 0)
    calls = [
        (9, 0, 4096, 3, 2, fd, big), (0, U64, m, 10), (0, 0, m, U64), (1, 1, m, 0),
        (17, 0, m, 10, U64), (8, U64, 0, 0),
        (3, U64), (3, 1 << 32), (5, U64, m), (33, 1, U64), (33, U64, 1), (292, 1, 1 << 40, 0),
        (72, 1, 0, U64), (72, U64, 1, 0), (16, 1, 0x5401, unmapped),
        (19, 1, m, U64), (20, 1, m, 1 << 31), (20, 1, unmapped, 2),
        (7, m, 1 << 31, 0), (7, m, U64, 0), (23, 1 << 31, m, 0, 0, 0), (23, U64, m, m, m, 0),
        (23, 1, 0, 0, 0, ts_huge), (270, 1, 0, 0, 0, ts_huge), (271, m, 0, ts_huge, 0),
        (257, AT_FDCWD, m + 128, 0, 0), (257, U64, path, 0, 0), (257, AT_FDCWD, path, U64, U64),
        (2, 0, 0, 0), (4, unmapped, m), (89, link, m, 0), (89, link, m, U64), (89, link, m, 1 << 31),
        (267, AT_FDCWD, link, m, 0), (79, m, 0), (79, 0, U64), (217, 1, m, 0), (217, U64, m, 100),
        (13, 0, m, 0, 8), (13, 65, m, 0, 8), (13, U64, m, 0, 8), (13, 10, unmapped, 0, 8),
        (14, 0, m, 0, U64), (14, 3, m, 0, 8), (131, unmapped, 0), (62, big, 0), (62, 1, U64),
        (200, big, 0), (234, 1, 1, 0), (234, U64, U64, 65), (127, m, U64),
        (202, m + 1, 0, 0, 0), (202, unmapped, 0, 0, 0), (202, 0, 0, 0, 0), (202, m, 9, 0, 0, 0, 0),
        (202, m, 3, 1, 0, m + 4096, 0), (202, m, 5, 1, 1, unmapped, U64), (202, m, U64, 0, 0),
        (9, big, 4096, 3, 0x22, U64, 0), (9, 0, U64, 3, 0x22, U64, 0), (9, 0, 4096, 3, 0x12, 1, 0),
        (9, 0, 4096, 3, 2, 0, 0), (9, U64 - 4095, 8192, 3, 0x32, U64, 0),
        (11, U64 - 4095, 8192), (11, 0, U64), (10, m, U64, 1), (10, U64 - 4095, 8192, 1),
        (25, m, U64, U64, 1), (25, m, 4096, U64 - 4095, 1), (25, U64 - 4095, 4096, 8192, 1),
        (25, m, 4096, 1 << 46, 3, unmapped), (28, m, U64, 4), (28, U64 - 4095, 8192, 4),
        (12, U64), (12, big), (318, m, U64, 0), (318, unmapped, 10, 0), (204, 0, U64, m),
        (204, 0, 1 << 40, m), (63, unmapped), (99, unmapped), (158, 0x1003, unmapped), (158, U64, 0),
        (228, U64, m), (228, 1, unmapped), (230, U64, 0, m, 0), (230, 0, 1, ts_huge, 0),
        (96, unmapped, 0), (201, unmapped), (302, 0, U64, 0, unmapped), (97, U64, unmapped),
        (61, U64, unmapped, U64, 0), (61, big, 0, 1, 0), (247, 7, 0, 0, 4, 0), (247, 1, 0, 0, 5, 0),
        (56, 0x10000 | 0x100 | 0x800, 0, 0, 0, 0), (22, unmapped), (293, m, U64), (83, m + 128, 0),
        (82, path, m + 128), (86, path, path), (88, path, path), (263, AT_FDCWD, path, U64),
        (316, AT_FDCWD, path, AT_FDCWD, link, U64), (265, U64, path, U64, link, 0),
        (80, path), (81, U64), (77, 1, U64), (76, path, big), (90, path, U64), (268, U64, path, 0),
        (280, AT_FDCWD, path, unmapped, 0),
        (280, AT_FDCWD, path, times, 0), (280, 1 << 31, 0, 0, 0), (332, AT_FDCWD, path, 0, U64, m),
        (332, AT_FDCWD, 0, 0x1000, 0, m), (262, 1 << 31, 0, m, 0x1000), (439, AT_FDCWD, path, 7, U64),
        (21, path, U64), (95, U64), (218, U64), (273, U64, U64), (35, ts_huge, 0),
    ]
    threads = [guest.new_thread() for _ in range(8)]
    waiting = []
    for i, (nr, *args) in enumerate(calls):
        thread = threads[i % len(threads)]
        r = guest.call(nr, *args, thread=thread, timeout=2)
        if r is None:                            # a call that waits (a sleep of centuries):
            waiting.append((nr, args))           # a new thread for the next ones
            threads[i % len(threads)] = guest.new_thread()
        assert guest.server.stats.bugs == guest.bugs, f"system call {nr}{tuple(args)}"
    assert {nr for nr, _a in waiting} <= {23, 35, 230, 270, 271}      # only the sleeps of centuries
    assert guest.call(39) == guest.proc.pid      # the server still serves
