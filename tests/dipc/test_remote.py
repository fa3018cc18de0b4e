"""Ports across nodes on an embedded cluster (spec §5): proxies, rights and memory in
messages, replies, dead names, and kernel calls that run on the target's home node."""

import pathlib
import threading

import pytest
from waiting import blocked_in, wait_until

from normach import (
    Cluster,
    KernError,
    KernReturn,
    Message,
    MsgOption,
    MsgType,
    Notify,
    OOLDesc,
    PortDesc,
    PortRight,
    PortType,
    mach,
)

K = KernReturn
PROGRAMS = pathlib.Path(__file__).parents[1] / "guest" / "programs"


@pytest.fixture(params=["inproc", "tcp"])
def c3(request):
    c = Cluster(nodes=3, phys_bytes=16 << 20, transport=request.param,
                secret=b"test secret" if request.param == "tcp" else None)
    yield c
    problems = c.audit()
    c.close()
    assert problems == [], "\n".join(problems)


def _connect(sender, receiver, name=0x7003):
    """A receive right in `receiver`, a send right to it under `name` in `sender`."""
    rcv = mach.mach_port_allocate(receiver, PortRight.RECEIVE)
    send = mach.mach_port_extract_right(receiver, rcv, MsgType.MAKE_SEND)
    mach.mach_port_insert_right(sender, name, send, MsgType.MOVE_SEND)
    return rcv, name


def _watch_dead_name(task, name):
    """A receive right in `task` that gets the dead-name notification for `name`."""
    notify = mach.mach_port_allocate(task, PortRight.RECEIVE)
    mach.mach_port_request_notification(task, name, Notify.DEAD_NAME, 1, notify,
                                        MsgType.MAKE_SEND_ONCE)
    return notify


def test_D5_2_a_right_to_a_remote_port_is_a_proxy_with_its_node(c3):
    a, b = c3.task_create(node=0), c3.task_create(node=1)
    rcv, name = _connect(a, b)
    proxy = a.port.kobject.itk_space.lookup(name).object
    assert proxy.proxy is not None and proxy.kernel is c3.kernels[0]
    assert mach.norma_port_location_hint(a, name) == 1          # N1.30


def test_D5_3_D5_4_message_with_rights_and_memory_crosses_nodes(c3):
    a, b = c3.task_create(node=0), c3.task_create(node=1)
    rcv, dest = _connect(a, b)
    mine = mach.mach_port_allocate(a, PortRight.RECEIVE)
    reply = mach.mach_port_allocate(a, PortRight.RECEIVE)
    region = mach.vm_allocate(a, 0, 3 * 4096, True)
    data = bytes((i * 7) & 0xFF for i in range(3 * 4096))
    mach.vm_write(a, region, data)
    mach.mach_msg_send(a, Message(remote_port=dest, remote_disp=MsgType.COPY_SEND, local_port=reply,
                                  local_disp=MsgType.MAKE_SEND_ONCE, id=42,
                                  body=[b"inline", 7, PortDesc(mine, MsgType.MAKE_SEND),
                                        OOLDesc(region, 3 * 4096)]))
    m = mach.mach_msg_receive(b, rcv, MsgOption.RCV_TIMEOUT, 5000)
    assert m.id == 42 and m.body[0] == b"inline" and m.body[1] == 7
    assert m.body[2].disposition == MsgType.PORT_SEND
    ool = m.body[3]
    assert mach.vm_read(b, ool.address, ool.size) == data
    # the reply right and the send right both lead back to node 0
    mach.mach_msg_send(b, Message(remote_port=m.remote_port, remote_disp=MsgType.MOVE_SEND_ONCE,
                                  id=43, body=[b"answer"]))
    r = mach.mach_msg_receive(a, reply, MsgOption.RCV_TIMEOUT, 5000)
    assert (r.id, r.body[0]) == (43, b"answer")
    mach.mach_msg_send(b, Message(remote_port=m.body[2].name, remote_disp=MsgType.COPY_SEND, id=44))
    assert mach.mach_msg_receive(a, mine, MsgOption.RCV_TIMEOUT, 5000).id == 44


def test_D5_5_messages_from_one_sender_arrive_in_order(c3):
    a, b = c3.task_create(node=2), c3.task_create(node=0)
    rcv, dest = _connect(a, b)
    mach.mach_port_set_attributes(b, rcv, 1, 16)
    got = []

    def receive():
        for _ in range(300):
            got.append(mach.mach_msg_receive(b, rcv, MsgOption.RCV_TIMEOUT, 5000).id)

    th = threading.Thread(target=receive)
    th.start()
    for i in range(300):
        mach.mach_msg_send(a, Message(remote_port=dest, remote_disp=MsgType.COPY_SEND, id=i))
    th.join(60)
    assert got == list(range(300))


def test_D5_3_third_node_right_reaches_the_principal(c3):
    """A send right for a port on node 1, sent by node 0 to node 2, still reaches node 1."""
    a, b, c = (c3.task_create(node=n) for n in range(3))
    rcv_b, to_b = _connect(a, b, 0x7003)
    rcv_c, to_c = _connect(a, c, 0x8003)
    mach.mach_msg_send(a, Message(remote_port=to_c, remote_disp=MsgType.COPY_SEND, id=1,
                                  body=[PortDesc(to_b, MsgType.COPY_SEND)]))
    m = mach.mach_msg_receive(c, rcv_c, MsgOption.RCV_TIMEOUT, 5000)
    mach.mach_msg_send(c, Message(remote_port=m.body[0].name, remote_disp=MsgType.COPY_SEND, id=2))
    assert mach.mach_msg_receive(b, rcv_b, MsgOption.RCV_TIMEOUT, 5000).id == 2
    assert mach.norma_port_location_hint(c, m.body[0].name) == 1


def test_D5_8_send_to_a_dead_remote_port_succeeds_then_the_name_is_dead(c3):
    a, b = c3.task_create(node=0), c3.task_create(node=1)
    rcv, dest = _connect(a, b)
    notify = _watch_dead_name(a, dest)
    mach.mach_port_destroy(b, rcv)
    mach.mach_msg_send(a, Message(remote_port=dest, remote_disp=MsgType.COPY_SEND, id=5))
    n = mach.mach_msg_receive(a, notify, MsgOption.RCV_TIMEOUT, 5000)
    assert n.id == Notify.DEAD_NAME
    assert mach.mach_port_type(a, dest) & PortType.DEAD_NAME
    with pytest.raises(KernError) as e:
        mach.mach_msg_send(a, Message(remote_port=dest, remote_disp=MsgType.COPY_SEND, id=6))
    assert e.value.code == K.MACH_SEND_INVALID_DEST


def _send(task, name, msg_id, **kw):
    mach.mach_msg_send(task, Message(remote_port=name, remote_disp=MsgType.COPY_SEND, id=msg_id, **kw))


def _recv(task, name):
    return mach.mach_msg_receive(task, name, MsgOption.RCV_TIMEOUT, 5000)


def test_D5_13_D5_14_receive_right_moves_with_its_queue_in_order(c3):
    a, b = c3.task_create(node=0), c3.task_create(node=1)
    to_b_rcv, to_b = _connect(a, b)
    port = mach.mach_port_allocate(a, PortRight.RECEIVE)
    mach.mach_port_insert_right(a, port, port, MsgType.MAKE_SEND)
    mach.mach_port_set_attributes(a, port, 1, 7)
    for i in range(3):
        _send(a, port, 100 + i, body=[f"queued {i}".encode()])
    mach.mach_msg_send(a, Message(remote_port=to_b, remote_disp=MsgType.COPY_SEND, id=1,
                                  body=[PortDesc(port, MsgType.MOVE_RECEIVE)]))
    assert mach.mach_port_type(a, port) & PortType.SEND               # a keeps its send right
    m = _recv(b, to_b_rcv)
    moved = m.body[0]
    assert moved.disposition == MsgType.PORT_RECEIVE
    got = [_recv(b, moved.name) for _ in range(3)]
    assert [g.id for g in got] == [100, 101, 102]
    assert [g.body[0].rstrip(b"\0") for g in got] == [b"queued 0", b"queued 1", b"queued 2"]
    _send(a, port, 200)                                                # through the old node
    assert _recv(b, moved.name).id == 200
    assert mach.norma_port_location_hint(a, port) == 1                 # N1.30 / D5.18
    attrs = mach.mach_port_get_attributes(b, moved.name, 1)
    assert getattr(attrs, "qlimit", attrs) == 7                        # D5.14: qlimit survives


def test_D5_16_moved_receive_right_restarts_its_sequence_numbers(c3):
    a, b = c3.task_create(node=0), c3.task_create(node=2)
    to_b_rcv, to_b = _connect(a, b)
    port = mach.mach_port_allocate(a, PortRight.RECEIVE)
    mach.mach_port_insert_right(a, port, port, MsgType.MAKE_SEND)
    for i in range(2):
        _send(a, port, i)
        _recv(a, port)
    mach.mach_msg_send(a, Message(remote_port=to_b, remote_disp=MsgType.COPY_SEND, id=1,
                                  body=[PortDesc(port, MsgType.MOVE_RECEIVE)]))
    moved = _recv(b, to_b_rcv).body[0].name
    _send(a, port, 7)
    assert _recv(b, moved).seqno == 0


def test_D5_15_receive_right_moves_twice_and_old_senders_still_reach_it(c3):
    a, b, c = (c3.task_create(node=n) for n in range(3))
    to_b_rcv, to_b = _connect(a, b, 0x7003)
    to_c_rcv, to_c_in_b = _connect(b, c, 0x7103)
    port = mach.mach_port_allocate(a, PortRight.RECEIVE)
    mach.mach_port_insert_right(a, port, port, MsgType.MAKE_SEND)
    mach.mach_msg_send(a, Message(remote_port=to_b, remote_disp=MsgType.COPY_SEND, id=1,
                                  body=[PortDesc(port, MsgType.MOVE_RECEIVE)]))
    at_b = _recv(b, to_b_rcv).body[0].name
    _send(a, port, 10)                                   # queued at node 1
    mach.mach_msg_send(b, Message(remote_port=to_c_in_b, remote_disp=MsgType.COPY_SEND, id=2,
                                  body=[PortDesc(at_b, MsgType.MOVE_RECEIVE)]))
    at_c = _recv(c, to_c_rcv).body[0].name
    _send(a, port, 11)                                   # node 0 -> node 1 -> node 2
    assert [_recv(c, at_c).id for _ in range(2)] == [10, 11]


def test_D5_8_moved_port_destroyed_then_old_senders_see_a_dead_name(c3):
    a, b = c3.task_create(node=0), c3.task_create(node=1)
    to_b_rcv, to_b = _connect(a, b)
    port = mach.mach_port_allocate(a, PortRight.RECEIVE)
    mach.mach_port_insert_right(a, port, port, MsgType.MAKE_SEND)
    mach.mach_msg_send(a, Message(remote_port=to_b, remote_disp=MsgType.COPY_SEND, id=1,
                                  body=[PortDesc(port, MsgType.MOVE_RECEIVE)]))
    moved = _recv(b, to_b_rcv).body[0].name
    notify = _watch_dead_name(a, port)
    mach.mach_port_destroy(b, moved)
    _send(a, port, 3)
    assert _recv(a, notify).id == Notify.DEAD_NAME
    assert mach.mach_port_type(a, port) & PortType.DEAD_NAME


def test_P6_18_kernel_call_message_to_a_remote_task_port_runs_there(c3):
    a, victim = c3.task_create(node=0), c3.task_create(node=2)
    mach.mach_port_insert_right(a, 0x9003, victim, MsgType.COPY_SEND)
    reply = mach.mach_port_allocate(a, PortRight.RECEIVE)
    r = mach.mach_msg(a, Message(remote_port=0x9003, remote_disp=MsgType.COPY_SEND,
                                 local_port=reply, local_disp=MsgType.MAKE_SEND_ONCE, id=2021,
                                 body=[0, 8192, 1]),
                      MsgOption.SEND_MSG | MsgOption.RCV_MSG | MsgOption.RCV_TIMEOUT, reply, 5000)
    code, address = r.body
    assert code == 0
    assert mach.vm_region(victim, address).size == 8192


def test_kernel_calls_from_a_guest_run_on_the_targets_home_node(c3, tmp_path):
    """A guest on node 0 does vm_read, vm_write and thread_create on a task of node 2."""
    from normach.guest.build import compile_program
    exe = str(tmp_path / "remote_vm")
    compile_program(exe, [str(PROGRAMS / "remote_vm.c")])
    other = c3.task_create(node=2)
    addr = mach.vm_allocate(other, 0, 4096, True)
    mach.vm_write(other, addr, b"far away")
    p = c3.spawn(exe, args=[str(0x5503), str(addr), "far away"], node=0, suspended=True)
    mach.mach_port_insert_right(p.task_handle, 0x5503, other, MsgType.COPY_SEND)   # a proxy
    c3.resume(p)
    status = c3.wait(p, timeout=60)
    assert (status, p.reason) == (0, ""), c3.output(p)
    assert mach.vm_read(other, addr + 64, 17) == b"written from afar"
    assert len(mach.task_threads(other)) == 1


def test_N1_27_remote_kernel_special_port_is_a_proxy_built_locally(c3):
    hp0 = c3.host_priv(0)
    host2 = mach.norma_get_special_port(hp0, 2, 2)          # NORMA_HOST_PORT of node 2
    assert host2.port.proxy is not None
    t = c3.task_create(node=0)
    mach.mach_port_insert_right(t, 0x4403, host2, MsgType.MOVE_SEND)
    assert mach.norma_port_location_hint(t, 0x4403) == 2


def test_N1_27_remote_user_special_port_one_request(c3):
    server = c3.task_create(node=1)
    r = mach.mach_port_allocate(server, PortRight.RECEIVE)
    mach.norma_set_special_port(c3.host_priv(1), 11,
                                mach.mach_port_extract_right(server, r, MsgType.MAKE_SEND))
    got = mach.norma_get_special_port(c3.host_priv(0), 1, 11)
    assert got is not None and got.port.proxy is not None
    client = c3.task_create(node=0)
    mach.mach_port_insert_right(client, 0x4503, got, MsgType.MOVE_SEND)
    mach.mach_msg_send(client, Message(remote_port=0x4503, remote_disp=MsgType.COPY_SEND, id=77))
    assert mach.mach_msg_receive(server, r, MsgOption.RCV_TIMEOUT, 5000).id == 77
    assert mach.norma_get_special_port(c3.host_priv(0), 1, 12) is None    # empty slot: NULL


def test_D5_8_node_death_turns_its_ports_into_dead_names(c3):
    """Node 1 stops answering: node 0's names for its ports become dead names and the
    dead-name notification arrives; a guest waiting on a kernel call there gets an error."""
    a, b = c3.task_create(node=0), c3.task_create(node=1)
    rcv, dest = _connect(a, b)
    notify = _watch_dead_name(a, dest)
    c3._endpoints[1].close()                     # node 1 falls silent
    n = mach.mach_msg_receive(a, notify, MsgOption.RCV_TIMEOUT, 20000)
    assert n.id == Notify.DEAD_NAME
    assert mach.mach_port_type(a, dest) & PortType.DEAD_NAME
    assert 1 in c3.kernels[0].remote.down
    # node 2 is unaffected
    c = c3.task_create(node=2)
    rcv_c, to_c = _connect(a, c, 0x6603)
    mach.mach_msg_send(a, Message(remote_port=to_c, remote_disp=MsgType.COPY_SEND, id=9))
    assert mach.mach_msg_receive(c, rcv_c, MsgOption.RCV_TIMEOUT, 5000).id == 9


def test_N1_1_kernel_call_from_python_through_a_proxy_runs_on_its_node(c3):
    """A handle that is a proxy (another node's host port) makes its calls there."""
    host2 = mach.norma_get_special_port(c3.host_priv(0), 2, 2)
    assert host2.port.proxy is not None and host2.node == 2
    assert mach.norma_node_self(host2) == 2


def _nms_port(owner):
    """A receive right in `owner`, one send right to it (a handle), and a no-senders
    request (sync 1: it fires only once that right and every copy are gone)."""
    port = mach.mach_port_allocate(owner, PortRight.RECEIVE)
    send = mach.mach_port_extract_right(owner, port, MsgType.MAKE_SEND)
    notify = mach.mach_port_allocate(owner, PortRight.RECEIVE)
    mach.mach_port_request_notification(owner, port, Notify.NO_SENDERS, 1, notify,
                                        MsgType.MAKE_SEND_ONCE)
    return port, notify, send


def _no_notification(task, notify):
    with pytest.raises(KernError) as e:
        mach.mach_msg_receive(task, notify, MsgOption.RCV_TIMEOUT, 300)
    return e.value.code == K.MACH_RCV_TIMED_OUT


def test_D5_10_no_senders_when_the_only_remote_sender_lets_go(c3):
    a, b = c3.task_create(node=0), c3.task_create(node=1)
    port, notify, send = _nms_port(b)
    mach.mach_port_insert_right(a, 0x7003, send, MsgType.MOVE_SEND)
    assert _no_notification(b, notify)
    mach.mach_port_deallocate(a, 0x7003)
    n = mach.mach_msg_receive(b, notify, MsgOption.RCV_TIMEOUT, 5000)
    assert n.id == Notify.NO_SENDERS


def _three_nodes_and_a_watched_port(c3):
    """Tasks a, b, c on nodes 0-2; a port of b watched for no-senders whose only send
    right a holds (as 0x7003); a way from a to c."""
    a, b, c = (c3.task_create(node=n) for n in range(3))
    port, notify, send = _nms_port(b)
    mach.mach_port_insert_right(a, 0x7003, send, MsgType.MOVE_SEND)
    to_c_rcv, to_c = _connect(a, c, 0x8003)
    return a, b, c, port, notify, to_c_rcv, to_c


def test_D5_9_right_passed_to_a_third_node_keeps_the_port_sendable(c3):
    a, b, c, port, notify, to_c_rcv, to_c = _three_nodes_and_a_watched_port(c3)
    mach.mach_msg_send(a, Message(remote_port=to_c, remote_disp=MsgType.COPY_SEND, id=1,
                                  body=[PortDesc(0x7003, MsgType.MOVE_SEND)]))   # in flight
    assert _no_notification(b, notify)                  # the transit travels with it
    got = mach.mach_msg_receive(c, to_c_rcv, MsgOption.RCV_TIMEOUT, 5000).body[0].name
    mach.mach_msg_send(c, Message(remote_port=got, remote_disp=MsgType.COPY_SEND, id=2))
    assert mach.mach_msg_receive(b, port, MsgOption.RCV_TIMEOUT, 5000).id == 2
    assert _no_notification(b, notify)
    mach.mach_port_deallocate(c, got)
    assert mach.mach_msg_receive(b, notify, MsgOption.RCV_TIMEOUT, 5000).id == Notify.NO_SENDERS


def test_D5_9_copies_on_two_nodes_both_must_go(c3):
    a, b, c, port, notify, to_c_rcv, to_c = _three_nodes_and_a_watched_port(c3)
    mach.mach_msg_send(a, Message(remote_port=to_c, remote_disp=MsgType.COPY_SEND, id=1,
                                  body=[PortDesc(0x7003, MsgType.COPY_SEND)]))   # a keeps one
    got = mach.mach_msg_receive(c, to_c_rcv, MsgOption.RCV_TIMEOUT, 5000).body[0].name
    mach.mach_port_deallocate(a, 0x7003)
    assert _no_notification(b, notify)
    mach.mach_port_deallocate(c, got)
    assert mach.mach_msg_receive(b, notify, MsgOption.RCV_TIMEOUT, 5000).id == Notify.NO_SENDERS


def test_D5_10_no_senders_follows_a_moved_receive_right(c3):
    a, b, c = (c3.task_create(node=n) for n in range(3))
    port, notify, send = _nms_port(a)
    mach.mach_port_insert_right(c, 0x9003, send, MsgType.MOVE_SEND)
    to_b_rcv, to_b = _connect(a, b, 0x7003)
    mach.mach_msg_send(a, Message(remote_port=to_b, remote_disp=MsgType.COPY_SEND, id=1,
                                  body=[PortDesc(port, MsgType.MOVE_RECEIVE),
                                        PortDesc(notify, MsgType.MOVE_RECEIVE)]))
    m = mach.mach_msg_receive(b, to_b_rcv, MsgOption.RCV_TIMEOUT, 5000)
    moved, moved_notify = m.body[0].name, m.body[1].name
    assert _no_notification(b, moved_notify)
    mach.mach_port_deallocate(c, 0x9003)                # the last sender, on a third node
    assert mach.mach_msg_receive(b, moved_notify, MsgOption.RCV_TIMEOUT, 5000).id == \
        Notify.NO_SENDERS
    del moved


def test_D5_11_reply_right_held_by_a_node_that_dies_becomes_a_send_once_notification(c3):
    """A request's send-once reply right is on node 1 when node 1 falls silent: the
    requester gets a send-once notification instead of waiting for ever."""
    a, b = c3.task_create(node=0), c3.task_create(node=1)
    rcv, dest = _connect(a, b)
    reply = mach.mach_port_allocate(a, PortRight.RECEIVE)
    mach.mach_msg_send(a, Message(remote_port=dest, remote_disp=MsgType.COPY_SEND, id=1,
                                  local_port=reply, local_disp=MsgType.MAKE_SEND_ONCE))
    mach.mach_msg_receive(b, rcv, MsgOption.RCV_TIMEOUT, 5000)   # node 1 holds the reply right
    c3._endpoints[1].close()                                     # and falls silent
    n = mach.mach_msg_receive(a, reply, MsgOption.RCV_TIMEOUT, 20000)
    assert n.id == Notify.SEND_ONCE


def test_D5_7_queue_limit_holds_remote_senders(c3):
    a, b = c3.task_create(node=0), c3.task_create(node=1)
    rcv, dest = _connect(a, b)
    mach.mach_port_set_attributes(b, rcv, 1, 1)                       # qlimit 1
    proxy = a.port.kobject.itk_space.lookup(dest).object
    mach.mach_msg_send(a, Message(remote_port=dest, remote_disp=MsgType.COPY_SEND, id=1))
    wait_until(lambda: proxy.remote_full, "node 1 to say: full")
    with pytest.raises(KernError) as e:
        mach.mach_msg_send(a, Message(remote_port=dest, remote_disp=MsgType.COPY_SEND, id=2),
                           MsgOption.SEND_TIMEOUT, 200)
    assert e.value.code == K.MACH_SEND_TIMED_OUT
    done = threading.Event()

    def blocked_sender():
        mach.mach_msg_send(a, Message(remote_port=dest, remote_disp=MsgType.COPY_SEND, id=3))
        done.set()

    th = threading.Thread(target=blocked_sender)
    th.start()
    assert not done.wait(0.3)                                         # held
    assert mach.mach_msg_receive(b, rcv, MsgOption.RCV_TIMEOUT, 5000).id == 1
    assert done.wait(10)                                              # room: released
    th.join(5)
    assert mach.mach_msg_receive(b, rcv, MsgOption.RCV_TIMEOUT, 5000).id == 3


def test_D5_12_dead_name_notification_arrives_without_sending(c3):
    """Node 0 holds a send right to a port of node 1 and asks for a dead-name
    notification; the port dies: the notification comes, node 0 sent nothing."""
    a, b = c3.task_create(node=0), c3.task_create(node=1)
    rcv, dest = _connect(a, b)
    notify = _watch_dead_name(a, dest)
    mach.mach_port_destroy(b, rcv)
    assert mach.mach_msg_receive(a, notify, MsgOption.RCV_TIMEOUT, 5000).id == Notify.DEAD_NAME
    assert mach.mach_port_type(a, dest) & PortType.DEAD_NAME


def test_D5_12_D5_15_death_after_a_move_reaches_nodes_behind_the_old_one(c3):
    """A port moves 0 -> 1; node 2 still holds a right that points at node 0; the port dies
    on node 1: node 2's name becomes dead through the forwarding chain."""
    a, b, c = (c3.task_create(node=n) for n in range(3))
    port = mach.mach_port_allocate(a, PortRight.RECEIVE)
    mach.mach_port_insert_right(c, 0x9903, mach.mach_port_extract_right(a, port, MsgType.MAKE_SEND),
                                MsgType.MOVE_SEND)
    to_b_rcv, to_b = _connect(a, b)
    mach.mach_msg_send(a, Message(remote_port=to_b, remote_disp=MsgType.COPY_SEND, id=1,
                                  body=[PortDesc(port, MsgType.MOVE_RECEIVE)]))
    moved = mach.mach_msg_receive(b, to_b_rcv, MsgOption.RCV_TIMEOUT, 5000).body[0].name
    notify = _watch_dead_name(c, 0x9903)
    mach.mach_port_destroy(b, moved)
    assert mach.mach_msg_receive(c, notify, MsgOption.RCV_TIMEOUT, 5000).id == Notify.DEAD_NAME


def test_D5_1_uids_name_the_origin_and_special_ports(c3):
    k1 = c3.kernels[1]
    assert k1.host.port.uid == (1, -2) and k1.host_priv.port.uid == (1, -3)
    a, b = c3.task_create(node=0), c3.task_create(node=1)
    port = mach.mach_port_allocate(a, PortRight.RECEIVE)
    origin = a.port.kobject.itk_space.lookup(port).object.uid
    assert origin[0] == 0
    to_b_rcv, to_b = _connect(a, b)
    mach.mach_msg_send(a, Message(remote_port=to_b, remote_disp=MsgType.COPY_SEND, id=1,
                                  body=[PortDesc(port, MsgType.MOVE_RECEIVE)]))
    moved = mach.mach_msg_receive(b, to_b_rcv, MsgOption.RCV_TIMEOUT, 5000).body[0].name
    assert b.port.kobject.itk_space.lookup(moved).object.uid == origin   # never changes


def _move(c3, a, port, b, via=0x7A03):
    """Move `a`'s receive right `port` to task `b` (another node); its name there."""
    to_b_rcv, to_b = _connect(a, b, via)
    mach.mach_msg_send(a, Message(remote_port=to_b, remote_disp=MsgType.COPY_SEND, id=1,
                                  body=[PortDesc(port, MsgType.MOVE_RECEIVE)]))
    return mach.mach_msg_receive(b, to_b_rcv, MsgOption.RCV_TIMEOUT, 5000).body[0].name


def test_D5_6_a_sender_behind_a_move_never_notices(c3):
    """Node 2's right still leads to node 0 after the port moved to node 1: the send
    succeeds and arrives (the forwarding is invisible to the user)."""
    a, b, c = (c3.task_create(node=n) for n in range(3))
    port = mach.mach_port_allocate(a, PortRight.RECEIVE)
    mach.mach_port_insert_right(c, 0x9903, mach.mach_port_extract_right(a, port, MsgType.MAKE_SEND),
                                MsgType.MOVE_SEND)
    moved = _move(c3, a, port, b)
    mach.mach_msg_send(c, Message(remote_port=0x9903, remote_disp=MsgType.COPY_SEND, id=66))
    assert mach.mach_msg_receive(b, moved, MsgOption.RCV_TIMEOUT, 5000).id == 66


def test_D5_17_moving_a_receive_right_leaves_its_set_and_wakes_its_receivers(c3):
    a, b = c3.task_create(node=0), c3.task_create(node=1)
    port = mach.mach_port_allocate(a, PortRight.RECEIVE)
    pset = mach.mach_port_allocate(a, PortRight.PORT_SET)
    other = mach.mach_port_allocate(a, PortRight.RECEIVE)
    waiting = {}

    def receiver():
        try:
            mach.mach_msg_receive(a, other, MsgOption.RCV_TIMEOUT, 20000)
        except KernError as e:
            waiting["code"] = e.code

    mach.mach_port_move_member(a, port, pset)
    moved = _move(c3, a, port, b)
    assert mach.mach_port_get_set_status(a, pset) == []              # it left the set
    assert mach.mach_port_type(b, moved) & PortType.RECEIVE
    th = threading.Thread(target=receiver)
    th.start()
    wait_until(lambda: blocked_in(th, "ipc_mqueue_receive_port"), "the receiver to wait")
    other_moved = _move(c3, a, other, b, via=0x7B03)                 # a receiver was waiting
    th.join(10)
    assert waiting.get("code") == K.MACH_RCV_PORT_DIED
    del other_moved


def test_D5_18_location_hint_is_exact_until_a_move_then_may_lag(c3):
    a, b, c = (c3.task_create(node=n) for n in range(3))
    port = mach.mach_port_allocate(b, PortRight.RECEIVE)
    mach.mach_port_insert_right(c, 0x9903, mach.mach_port_extract_right(b, port, MsgType.MAKE_SEND),
                                MsgType.MOVE_SEND)
    assert mach.norma_port_location_hint(c, 0x9903) == 1             # exact: never moved
    _move(c3, b, port, a)
    assert mach.norma_port_location_hint(c, 0x9903) in (0, 1)        # a node it was once on
