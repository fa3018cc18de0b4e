"""U1.8: a system call is never run twice.  A call restarted after thread_abort
(rcx = SYSCALL_RESTARTED) that the server has served already is answered with the
answer that was lost, not run again; any other request runs.

The requests are built by hand and sent to a live process's port for a thread of it
that never runs (so that no call of its own comes between them)."""

import struct

from normach import mach
from normach.ipc.message import Message, PortDesc
from normach.kern.exception import SYSCALL_RESTARTED
from normach.kern.thread import X86ThreadState64
from normach.mach_types import MsgType, PortRight
from normach.servers.unix.server import server_for
from tests.waiting import wait_until

TEXT = b"written once?\n"
PORT, TASK, THREAD = 0x1103, 0x1203, 0x1303


def _write_request(buf: int, count: int, rcx: int) -> bytes:
    s = X86ThreadState64(rax=1, rdi=1, rsi=buf, rdx=count, rcx=rcx, rip=0x401002)
    words = s.to_words()
    return struct.pack(f"<iI2qiI{len(words)}Q", 7, 2, 1, s.rip, 4, 2 * len(words), *words)


def _call(sender, reply, body_data) -> int:
    """Send one request with a send-once reply right; the rax it is answered with."""
    body = [PortDesc(THREAD, MsgType.COPY_SEND), PortDesc(TASK, MsgType.COPY_SEND), body_data]
    mach.mach_msg_send(sender, Message(remote_port=PORT, remote_disp=MsgType.COPY_SEND,
                                       local_port=reply, local_disp=MsgType.MAKE_SEND_ONCE,
                                       id=2403, body=body))
    answer = mach.mach_msg_receive(sender, reply)
    data = b"".join(bytes(i) for i in answer.body if isinstance(i, (bytes, bytearray)))
    code, _flavor, _count = struct.unpack_from("<iiI", data)
    assert code == 0
    return struct.unpack_from("<Q", data, 12)[0]             # rax, the first word


def test_U1_8_a_restarted_call_already_served_is_answered_again_not_run_twice(
        cluster, linux_exe, tmp_path):
    p = cluster.spawn(linux_exe("idle"), [], root=str(tmp_path))
    wait_until(lambda: b"ready" in bytes(p.out.data), what="the program to start")
    server = server_for(cluster.kernel(0))
    proc = next(pr for pr in server.procs.values() if pr.name == "idle")
    buf = mach.vm_allocate(proc.task, 0, 4096, True)
    mach.vm_write(proc.task, buf, TEXT)
    sender = cluster.task_create()
    mach.mach_port_insert_right(sender, PORT, mach.mach_port_extract_right(
        server.task, proc.port, MsgType.MAKE_SEND), MsgType.MOVE_SEND)
    mach.mach_port_insert_right(sender, TASK, proc.task, MsgType.COPY_SEND)
    quiet = mach.thread_create(proc.task)                       # never resumed: makes no call
    mach.mach_port_insert_right(sender, THREAD, quiet, MsgType.COPY_SEND)
    reply = mach.mach_port_allocate(sender, PortRight.RECEIVE)

    def written():
        return bytes(p.out.data).count(TEXT)

    assert _call(sender, reply, _write_request(buf, len(TEXT), 0)) == len(TEXT)
    assert written() == 1
    # the same call, restarted: its answer again, the write not made again
    assert _call(sender, reply, _write_request(buf, len(TEXT), SYSCALL_RESTARTED)) == len(TEXT)
    assert written() == 1
    # a new call (no marker) with the same registers: made
    assert _call(sender, reply, _write_request(buf, len(TEXT), 0)) == len(TEXT)
    assert written() == 2
    # a restart of a call the server has not served (other arguments): made
    assert _call(sender, reply, _write_request(buf, 5, SYSCALL_RESTARTED)) == 5
    assert written() == 2 and bytes(p.out.data).endswith(TEXT[:5])
    (tmp_path / "stop").write_text("")
    mach.thread_terminate(quiet)
    mach.task_terminate(sender)
    cluster.wait(p, timeout=120)
