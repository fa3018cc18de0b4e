"""T7.11: exception behaviors.  With EXCEPTION_STATE the handler gets the faulting
thread's registers and no ports, and its reply's registers are the ones the thread
resumes with; EXCEPTION_STATE_IDENTITY adds the thread and task ports."""

import struct

import pytest

from normach import mach
from normach.ipc.message import Message, PortDesc
from normach.kern.thread import X86ThreadState64
from normach.mach_types import MsgOption, MsgType, PortRight
from tests.snippets import symbol

FAULT = """
void done(void) { EXIT(42); }
void _start(void) { *(volatile int *)0x10 = 1; EXIT(7); }
"""
NWORDS = len(X86ThreadState64().to_words())


def _parse(msg):
    data = b"".join(bytes(i) for i in msg.body if isinstance(i, (bytes, bytearray)))
    exc, ncodes = struct.unpack_from("<iI", data)
    at = 8 + 8 * ncodes
    flavor, count = struct.unpack_from("<iI", data, at)
    words = struct.unpack_from(f"<{count // 2}Q", data, at + 8)
    return exc, flavor, count, X86ThreadState64.from_words(words)


@pytest.mark.parametrize("behavior,request_id,ports", [(2, 2402, 0), (3, 2403, 2)])
def test_T7_11_a_state_handler_sees_the_registers_and_its_reply_sets_them(
        cluster, build_snippet, behavior, request_id, ports):
    exe = build_snippet(f"fault_state{behavior}", FAULT)
    handler = cluster.task_create(name="handler")
    port = mach.mach_port_allocate(handler, PortRight.RECEIVE)
    p = cluster.spawn(exe, suspended=True)
    mach.task_set_exception_ports(p.task_handle, 1 << 1, mach.mach_port_extract_right(
        handler, port, MsgType.MAKE_SEND), behavior, 4)          # EXC_MASK_BAD_ACCESS
    cluster.resume(p)
    msg = mach.mach_msg_receive(handler, port, MsgOption.RCV_TIMEOUT, 60_000)
    assert msg.id == request_id
    assert len([i for i in msg.body if isinstance(i, PortDesc)]) == ports
    exc, flavor, count, state = _parse(msg)
    assert (exc, flavor, count) == (1, 4, 2 * NWORDS)
    assert symbol(exe, "_start") <= state.rip < symbol(exe, "_start") + 32
    state.rip = symbol(exe, "done")                  # resume somewhere else: the exit says so
    words = state.to_words()
    mach.mach_msg_send(handler, Message(remote_port=msg.remote_port,
                                        remote_disp=MsgType.MOVE_SEND_ONCE, id=request_id + 100,
                                        body=[struct.pack(f"<iiI{NWORDS}Q", 0, 4, 2 * NWORDS,
                                                          *words)]))
    assert cluster.wait(p, timeout=60) == 42
    mach.task_terminate(handler)


def test_T7_11_a_malformed_state_reply_ends_the_task(cluster, build_snippet):
    exe = build_snippet("fault_bad_state", FAULT)
    handler = cluster.task_create(name="handler")
    port = mach.mach_port_allocate(handler, PortRight.RECEIVE)
    p = cluster.spawn(exe, suspended=True)
    mach.task_set_exception_ports(p.task_handle, 1 << 1, mach.mach_port_extract_right(
        handler, port, MsgType.MAKE_SEND), 2, 4)
    cluster.resume(p)
    msg = mach.mach_msg_receive(handler, port, MsgOption.RCV_TIMEOUT, 60_000)
    mach.mach_msg_send(handler, Message(remote_port=msg.remote_port,
                                        remote_disp=MsgType.MOVE_SEND_ONCE, id=2502,
                                        body=[struct.pack("<iiI3Q", 0, 4, 6, 1, 2, 3)]))
    assert cluster.wait(p, timeout=60) != 7
    assert "malformed state" in p.reason
    mach.task_terminate(handler)
