"""The kernel object server reading MIG layout (kern/mig_interface.py, docs/mig.md).

A request laid out in memory (`packed`: what a guest's mach_msg gives) is read by
the routine's MIG declaration, the one `normach mig --kernel-defs` publishes; a
malformed one is answered with a MIG code, never a fault of the kernel (P6.18).
"""

import random
import struct

import pytest

from normach import KernReturn, Message, MsgOption, MsgType, OOLDesc, PortDesc, PortRight, mach
from normach.kern.mig_interface import subsystems
from normach.kern.routines import BY_NAME, ROUTINES

K = KernReturn
TASK_NAME = 0x5003          # the caller fixture's name for the task port (conftest.py)


def _rpc(caller, msg_id, body, dest=TASK_NAME):
    c, reply = caller
    req = Message(remote_port=dest, remote_disp=MsgType.COPY_SEND, local_port=reply,
                  local_disp=MsgType.MAKE_SEND_ONCE, id=msg_id, body=body, packed=True)
    return mach.mach_msg(c, req, MsgOption.SEND_MSG | MsgOption.RCV_MSG | MsgOption.RCV_TIMEOUT,
                         reply, 5000)


def _code(reply) -> int:
    assert not any(isinstance(i, PortDesc) for i in reply.body)
    return struct.unpack_from("<i", reply.body[0])[0]


def test_P6_18_a_mig_request_runs_and_its_reply_is_in_mig_layout(caller, task):
    r = _rpc(caller, BY_NAME["vm_allocate"].id, [struct.pack("<qqi", 0, 3 * 4096, 1)])
    assert r.id == BY_NAME["vm_allocate"].id + 100
    code, address = struct.unpack("<iq", r.body[0])
    assert code == K.KERN_SUCCESS
    region = mach.vm_region(task, address)
    assert (region.address, region.size) == (address, 3 * 4096)


def test_P6_18_out_of_line_data_in_and_out_by_mig(caller, task):
    a = mach.vm_allocate(task, 0, 4096, True)
    r = _rpc(caller, BY_NAME["vm_write"].id,
             [OOLDesc(data=b"via MIG layout"), struct.pack("<qI", a + 8, 14)])
    assert _code(r) == 0
    assert mach.vm_read(task, a + 8, 14) == b"via MIG layout"
    r = _rpc(caller, BY_NAME["vm_read"].id, [struct.pack("<qq", a + 8, 14)])
    ool, inline = r.body                         # complex: no RetCode, the count inline
    assert isinstance(ool, OOLDesc) and struct.unpack("<I", inline) == (14,)
    assert mach.vm_read(caller[0], ool.address, 14) == b"via MIG layout"


def test_P6_18_a_port_out_is_a_descriptor_and_no_return_code(caller, task):
    r = _rpc(caller, BY_NAME["thread_create"].id, [])
    assert len(r.body) == 1 and isinstance(r.body[0], PortDesc)
    assert r.body[0].disposition == MsgType.PORT_SEND
    assert len(mach.task_threads(task)) == 1


@pytest.mark.parametrize("body, code", [
    ([struct.pack("<qq", 0, 4096)], K.MIG_BAD_ARGUMENTS),                 # short
    ([struct.pack("<qqiI", 0, 4096, 1, 0)], K.MIG_BAD_ARGUMENTS),         # longer than declared
    ([b"\0" * 20, b"\0" * 4], K.MIG_BAD_ARGUMENTS),                       # two inline parts
    ([OOLDesc(data=b"x"), struct.pack("<qqi", 0, 4096, 1)], K.MIG_BAD_ARGUMENTS),  # a descriptor
])
def test_P6_18_a_malformed_mig_request_is_answered_with_a_mig_code(caller, body, code):
    assert _code(_rpc(caller, BY_NAME["vm_allocate"].id, body)) == code


def test_P6_18_descriptors_of_the_wrong_kind_or_size_are_mig_type_error(caller, task):
    a = mach.vm_allocate(task, 0, 4096, True)
    wrong_kind = [PortDesc(caller[1], MsgType.MAKE_SEND), struct.pack("<qI", a, 4)]
    assert _code(_rpc(caller, BY_NAME["vm_write"].id, wrong_kind)) == K.MIG_TYPE_ERROR
    wrong_count = [OOLDesc(data=b"abcd"), struct.pack("<qI", a, 5)]
    assert _code(_rpc(caller, BY_NAME["vm_write"].id, wrong_count)) == K.MIG_TYPE_ERROR
    assert mach.vm_read(task, a, 4) == b"\0" * 4


def test_P6_18_an_array_past_its_bound_is_refused(caller, task):
    th = mach.thread_create(task)
    c, _ = caller
    mach.mach_port_insert_right(c, 0x6001, th, MsgType.COPY_SEND)
    flavor = 4                                   # x86_THREAD_STATE64
    too_many = struct.pack("<qI", flavor, 300) + b"\0" * 1200
    r = _rpc(caller, BY_NAME["thread_set_state"].id, [too_many], dest=0x6001)
    assert _code(r) == K.MIG_BAD_ARGUMENTS


def test_P6_18_an_unknown_id_in_mig_layout_is_mig_bad_id(caller):
    assert _code(_rpc(caller, 1234567, [b"\0" * 8])) == K.MIG_BAD_ID


def test_P6_18_random_mig_requests_never_fault_the_kernel(cluster, caller, task):
    """Every routine id, with inline data of random length and content: each gets a
    reply (a code), the node stays sound."""
    rng = random.Random(14)
    ids = sorted(ROUTINES)
    for _ in range(4):
        for rid in ids:
            data = bytes(rng.randrange(256) for _ in range(rng.choice((0, 4, 8, 12, 16, 20, 36))))
            r = _rpc(caller, rid, [data] if data else [])
            assert r.id == rid + 100
    assert cluster.audit() == []


def test_the_kernel_reads_the_defs_it_publishes():
    """The server's declarations are the published text, parsed: every routine of
    kern/routines.py at its id, with its in-parameters in order."""
    parsed = subsystems()
    assert set(parsed) == set(ROUTINES)
    for rid, r in ROUTINES.items():
        m = parsed[rid]
        assert m.name == r.name
        ins = [a.name for a in m.args[1:] if a.direction == "in"]
        assert ins == [n for n, _k in r.params]


def test_P6_18_a_right_of_a_refused_request_is_destroyed_not_lost(caller, task):
    """A send-once right where task_set_special_port wants a send right: MIG_TYPE_ERROR,
    and the right goes with the request (its port hears a send-once notification)."""
    from normach import Notify
    c, _ = caller
    other = mach.mach_port_allocate(c, PortRight.RECEIVE)
    body = [PortDesc(other, MsgType.MAKE_SEND_ONCE), struct.pack("<q", 4)]   # BOOTSTRAP
    assert _code(_rpc(caller, BY_NAME["task_set_special_port"].id, body)) == K.MIG_TYPE_ERROR
    n = mach.mach_msg_receive(c, other, MsgOption.RCV_TIMEOUT, 5000)
    assert n.id == Notify.SEND_ONCE
