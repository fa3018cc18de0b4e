"""P6.18: a message to a kernel object port is executed synchronously, the reply queued.

Also the routine table's contract: one declaration serves the Python front end
and kernel-port messages alike (same ids, same codes).
"""

import struct


from normach import KernReturn, Message, MsgOption, MsgType, PortDesc, PortRight, mach
from normach.kern.routines import BY_NAME, ROUTINES

K = KernReturn
TASK_NAME = 0x5003          # the caller fixture's name for the task port (conftest.py)


def _rpc(caller, dest, msg_id, body):
    c, reply = caller
    req = Message(remote_port=dest, remote_disp=MsgType.COPY_SEND, local_port=reply,
                  local_disp=MsgType.MAKE_SEND_ONCE, id=msg_id, body=body)
    return mach.mach_msg(c, req, MsgOption.SEND_MSG | MsgOption.RCV_MSG | MsgOption.RCV_TIMEOUT,
                         reply, 1000)


def test_P6_18_vm_allocate_by_message_runs_and_replies(caller, task):
    r = _rpc(caller, TASK_NAME, BY_NAME["vm_allocate"].id, [0, 3 * 4096, 1])
    assert r.id == BY_NAME["vm_allocate"].id + 100
    code, address = r.body
    assert code == K.KERN_SUCCESS
    region = mach.vm_region(task, address)
    assert (region.address, region.size) == (address, 3 * 4096)


def test_P6_18_vm_read_and_write_by_message(caller, task):
    a = mach.vm_allocate(task, 0, 4096, True)
    assert _rpc(caller, TASK_NAME, BY_NAME["vm_write"].id, [a, b"via a message"]).body == [0]
    assert mach.vm_read(task, a, 13) == b"via a message"
    r = _rpc(caller, TASK_NAME, BY_NAME["vm_read"].id, [a, 13])
    assert r.body == [0, b"via a message"]


def test_P6_18_error_code_is_the_reply(caller, task):
    r = _rpc(caller, TASK_NAME, BY_NAME["vm_deallocate"].id, [-1, 4096])
    assert r.body == [K.KERN_INVALID_ARGUMENT]
    r = _rpc(caller, TASK_NAME, BY_NAME["vm_read"].id, [0x10000000, 8])
    assert r.body == [K.KERN_INVALID_ADDRESS]


def test_P6_18_unknown_id_is_mig_bad_id(caller):
    r = _rpc(caller, TASK_NAME, 1234567, [])
    assert r.body == [K.MIG_BAD_ID]


def test_P6_18_malformed_request_is_mig_bad_arguments(caller):
    r = _rpc(caller, TASK_NAME, BY_NAME["vm_allocate"].id, [b"not", b"ints"])
    assert r.body == [K.MIG_BAD_ARGUMENTS]


def test_P6_18_port_result_arrives_as_a_right(caller, task):
    """thread_create by message: the reply carries a send right to the new thread."""
    r = _rpc(caller, TASK_NAME, BY_NAME["thread_create"].id, [])
    assert r.body[0] == K.KERN_SUCCESS
    desc = r.body[1]
    assert isinstance(desc, PortDesc) and desc.disposition == MsgType.PORT_SEND
    assert len(mach.task_threads(task)) == 1


def test_P6_18_thread_state_words_by_message(caller, task):
    th = mach.thread_create(task)
    c, _reply = caller
    name = 0x6003
    mach.mach_port_insert_right(c, name, th, MsgType.COPY_SEND)
    words = list(range(1, 24))
    r = _rpc(caller, name, BY_NAME["thread_set_state"].id,
             [4, struct.pack("<23Q", *words)])
    assert r.body == [0]
    assert mach.thread_get_state(th, 4).to_words() == words


def test_P6_18_vm_wire_by_message_to_host_priv_takes_the_task_as_a_port(caller, cluster, task):
    """A routine whose second object is a task (vm_wire, mach_host 2636): the task
    travels as a port descriptor, the host_priv port is the destination."""
    c, _reply = caller
    mach.mach_port_insert_right(c, 0x8003, cluster.host_priv(0), MsgType.COPY_SEND)
    mach.mach_port_insert_right(c, 0x8103, cluster.host(0), MsgType.COPY_SEND)
    a = mach.vm_allocate(task, 0, 2 * 4096, True)
    wire = BY_NAME["vm_wire"].id
    assert _rpc(caller, 0x8003, wire, [PortDesc(TASK_NAME), a, 2 * 4096, 3]).body == [0]
    assert mach.vm_statistics(task)["wire_count"] == 2
    r = _rpc(caller, 0x8003, wire, [PortDesc(0x8103), a, 4096, 1])     # a host, not a task
    assert r.body == [K.KERN_INVALID_TASK]
    r = _rpc(caller, 0x8103, wire, [PortDesc(TASK_NAME), a, 4096, 1])  # host is not host_priv
    assert r.body == [K.KERN_INVALID_HOST]
    assert _rpc(caller, 0x8003, wire, [PortDesc(TASK_NAME), a, 2 * 4096, 0]).body == [0]
    assert mach.vm_statistics(task)["wire_count"] == 0


def test_E3_1_message_to_terminated_task_port_is_null_object(caller, cluster):
    victim = cluster.task_create(node=0)
    c, _reply = caller
    mach.mach_port_insert_right(c, 0x7003, victim, MsgType.COPY_SEND)
    mach.task_terminate(victim)
    r = _rpc(caller, 0x7003, BY_NAME["vm_allocate"].id, [0, 4096, 1])
    assert r.body == [K.KERN_INVALID_ARGUMENT]


def test_routine_ids_are_unique_and_named():
    assert len(ROUTINES) == len(BY_NAME)
    assert BY_NAME["vm_allocate"].id == 2021 and BY_NAME["mach_port_allocate"].id == 3204
    for r in ROUTINES.values():
        assert hasattr(mach, r.name), r.name


def test_P6_18_a_refused_request_keeps_no_right_it_carried(caller, task):
    """A port first, then a parameter of the wrong shape: MIG_BAD_ARGUMENTS, and the
    send-once right given for the port is destroyed with the request (its port hears
    the notification), not lost."""
    from normach import Notify
    c, _ = caller
    other = mach.mach_port_allocate(c, PortRight.RECEIVE)
    body = [2, PortDesc(other, MsgType.MAKE_SEND_ONCE), 1, b"not an int"]
    r = _rpc(caller, TASK_NAME, BY_NAME["task_set_exception_ports"].id, body)
    assert r.body == [K.MIG_BAD_ARGUMENTS]
    n = mach.mach_msg_receive(c, other, MsgOption.RCV_TIMEOUT, 5000)
    assert n.id == Notify.SEND_ONCE
