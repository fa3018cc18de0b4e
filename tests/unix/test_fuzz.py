"""Hostile system calls: random numbers and arguments never crash the kernel or the
Unix server, unknown numbers answer -ENOSYS, and the server goes on serving.

The fuzz sends exception_raise_state_identity requests, built by hand, to a live
process's port, with that process's real thread and task ports: every handler runs
on random registers against a real task (its memory, its descriptors), as a guest
gone mad would make it run."""

import random
import struct

from normach import mach
from normach.ipc.message import Message, PortDesc
from normach.kern.thread import X86ThreadState64
from normach.mach_types import MsgType
from normach.servers.unix.server import server_for
from tests.unix.conftest import run_guest
from tests.waiting import wait_until

NWORDS = len(X86ThreadState64().to_words())
INTERESTING = [0, 1, 2, 3, 4, 0x1000, 0x10000, 0x400000, 0x7FFFFFFFE000, (1 << 64) - 1,
               (1 << 63), 0xFFFFFF9C, (1 << 64) - 100, 4096 * 1024, 0x7FFF_FFFF_0000 - 0x800]
# Calls that would end or replace the fuzzed process itself: it must stay to be fuzzed.
SPARED = {60, 231, 59, 62, 200, 234, 15}


def _word(rng):
    return rng.choice(INTERESTING) if rng.random() < 0.6 else rng.getrandbits(64)


def _request(rng, nr):
    words = [_word(rng) for _ in range(NWORDS)]
    words[0] = nr
    rip = words[16]
    codes = [nr, rip - (1 << 64) if rip >> 63 else rip]
    return struct.pack(f"<iI2qiI{NWORDS}Q", 7, 2, *codes, 4, 2 * NWORDS, *words)


def test_U1_9_a_syscall_fuzz_never_crashes_the_kernel_or_the_server(cluster, linux_exe, tmp_path):
    exe = linux_exe("idle")
    p = cluster.spawn(exe, [], root=str(tmp_path))
    wait_until(lambda: b"ready" in bytes(p.out.data), what="the program to start")
    server = server_for(cluster.kernel(0))
    proc = next(pr for pr in server.procs.values() if pr.name == "idle")
    bugs_before = server.stats.bugs
    served_before = sum(server.calls.values())
    sender = cluster.task_create()
    port = mach.mach_port_extract_right(server.task, proc.port, MsgType.MAKE_SEND)
    mach.mach_port_insert_right(sender, 0x1103, port, MsgType.MOVE_SEND)
    mach.mach_port_insert_right(sender, 0x1203, proc.task, MsgType.COPY_SEND)
    thread = mach.task_threads(proc.task)[0]
    mach.mach_port_insert_right(sender, 0x1303, thread, MsgType.COPY_SEND)
    rng = random.Random(1234)
    numbers = [n for n in range(0, 460) if n not in SPARED] + [460, 999, 512, 1 << 30]
    sent = 0
    for _round in range(3):
        for nr in numbers:
            if nr >= 1000:
                continue
            body = [PortDesc(0x1303, MsgType.COPY_SEND), PortDesc(0x1203, MsgType.COPY_SEND),
                    _request(rng, nr)]
            mach.mach_msg_send(sender, Message(remote_port=0x1103, remote_disp=MsgType.COPY_SEND,
                                               id=2403, body=body))
            sent += 1
    garbage = [Message(remote_port=0x1103, remote_disp=MsgType.COPY_SEND, id=2403, body=[b"x"]),
               Message(remote_port=0x1103, remote_disp=MsgType.COPY_SEND, id=7, body=[]),
               Message(remote_port=0x1103, remote_disp=MsgType.COPY_SEND, id=2403,
                       body=[PortDesc(0x1303, MsgType.COPY_SEND), b"\0" * 12])]
    for m in garbage:
        mach.mach_msg_send(sender, m)
    wait_until(lambda: sum(server.calls.values()) - served_before >= sent
               and not _queued(server, proc),
               what="the server to take every request", timeout=300)
    assert sum(server.calls.values()) - served_before >= sent     # each reached its handler
    assert server.stats.bugs == bugs_before, "a handler raised something other than an errno"
    assert cluster.kernels[0].machine.panics == []
    (tmp_path / "stop").write_text("")
    mach.task_terminate(sender)
    cluster.wait(p, timeout=120)
    # the server still serves: a new program runs as it should
    status, out = run_guest(cluster, linux_exe("stdio_math"), ["after"], root=str(tmp_path))
    assert status == 3 and b"argv1=after" in out


def _queued(server, proc) -> int:
    try:
        return mach.mach_port_get_attributes(server.task, proc.port, 2).msgcount
    except Exception:                                   # noqa: BLE001 - the port is gone
        return 0
