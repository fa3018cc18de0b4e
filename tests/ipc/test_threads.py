"""Blocking: receivers and senders waiting in other Python threads (P6.11-P6.16).

No test asserts a duration; waits on the other thread are bounded generously
only so that a bug fails the test instead of hanging it.
"""

import threading

import pytest
from ipc_helpers import R, T, receive_right, send, send_right_in

from normach.ipc import mach_port as mp
from normach.ipc.mach_msg import mach_msg_receive, mach_msg_send
from normach.ipc.message import Message, PortDesc
from normach.errors import KernError
from normach.errors import KernReturn as K
from normach.kern.task import task_terminate
from normach.mach_types import MsgOption as O
from normach.mach_types import PortFlavor

JOIN = 20.0


class Runner(threading.Thread):
    """Run fn(*args) with the kernel lock held; keep its result or KernError code."""

    def __init__(self, kernel, fn, *args):
        super().__init__(daemon=True)
        self.kernel, self.fn, self.args = kernel, fn, args
        self.result = self.code = None
        self.started_wait = threading.Event()

    def run(self):
        with self.kernel.lock:
            self.started_wait.set()
            try:
                self.result = self.fn(*self.args)
            except KernError as e:
                self.code = e.code

    def finish(self):
        self.join(JOIN)
        assert not self.is_alive(), "thread still blocked"
        return self


def wait_blocked(kernel, runner, cond_of):
    """Wait until the runner is blocked on the condition returned by cond_of()."""
    runner.started_wait.wait(JOIN)
    for _ in range(2000):
        with kernel.lock:
            if len(cond_of()._waiters) > 0:
                return
        threading.Event().wait(0.005)
    raise AssertionError("runner never blocked")


@pytest.fixture
def pair(kernel, new_task):
    with kernel.lock:
        t, u = new_task(), new_task()
        q = receive_right(u)
        dest = send_right_in(u, q, t)
        port = u.itk_space.lookup(q).object
    return t, u, q, dest, port


def test_P6_11_blocked_receiver_is_woken_by_send(kernel, pair):
    t, u, q, dest, port = pair
    r = Runner(kernel, mach_msg_receive, u, q)
    r.start()
    wait_blocked(kernel, r, lambda: port.cond)
    with kernel.lock:
        send(t, dest, id=42)
    assert r.finish().result.id == 42


def test_P6_16_blocked_receiver_port_died(kernel, pair):
    t, u, q, dest, port = pair
    r = Runner(kernel, mach_msg_receive, u, q)
    r.start()
    wait_blocked(kernel, r, lambda: port.cond)
    with kernel.lock:
        mp.mach_port_destroy(u.itk_space, q)
    assert r.finish().code == K.MACH_RCV_PORT_DIED


def test_P6_16_blocked_receiver_port_changed(kernel, pair):
    t, u, q, dest, port = pair
    r = Runner(kernel, mach_msg_receive, u, q)
    r.start()
    wait_blocked(kernel, r, lambda: port.cond)
    with kernel.lock:
        s = mp.mach_port_allocate(u.itk_space, R.PORT_SET)
        mp.mach_port_move_member(u.itk_space, q, s)
    assert r.finish().code == K.MACH_RCV_PORT_CHANGED


def test_D5_17_blocked_receiver_sees_port_died_when_right_moves(kernel, pair):
    t, u, q, dest, port = pair
    r = Runner(kernel, mach_msg_receive, u, q)
    r.start()
    wait_blocked(kernel, r, lambda: port.cond)
    with kernel.lock:
        send(u, send_right_in(t, receive_right(t), u), body=[PortDesc(q, T.MOVE_RECEIVE)])
    assert r.finish().code == K.MACH_RCV_PORT_DIED


def test_P6_16_blocked_set_receiver_woken_by_member_send_and_set_death(kernel, pair):
    t, u, q, dest, port = pair
    with kernel.lock:
        s = mp.mach_port_allocate(u.itk_space, R.PORT_SET)
        mp.mach_port_move_member(u.itk_space, q, s)
        pset = u.itk_space.lookup(s).object
    r = Runner(kernel, mach_msg_receive, u, s)
    r.start()
    wait_blocked(kernel, r, lambda: pset.cond)
    with kernel.lock:
        send(t, dest, id=7)
    assert r.finish().result.id == 7
    r = Runner(kernel, mach_msg_receive, u, s)
    r.start()
    wait_blocked(kernel, r, lambda: pset.cond)
    with kernel.lock:
        mp.mach_port_destroy(u.itk_space, s)
    assert r.finish().code == K.MACH_RCV_PORT_DIED


def test_T7_7_blocked_receiver_woken_when_task_terminates(kernel, pair):
    t, u, q, dest, port = pair
    r = Runner(kernel, mach_msg_receive, u, q)
    r.start()
    wait_blocked(kernel, r, lambda: port.cond)
    with kernel.lock:
        task_terminate(u)
    assert r.finish().code == K.MACH_RCV_PORT_DIED


def test_P6_11_receive_timeout(kernel, pair):
    t, u, q, dest, port = pair
    r = Runner(kernel, mach_msg_receive, u, q, O.RCV_TIMEOUT, 20)
    r.start()
    assert r.finish().code == K.MACH_RCV_TIMED_OUT


def _fill(kernel, t, u, q, dest, n=1):
    with kernel.lock:
        mp.mach_port_set_attributes(u.itk_space, q, PortFlavor.LIMITS_INFO, n)
        for i in range(n):
            send(t, dest, id=i)


def test_P6_12_send_timeout_on_full_queue(kernel, pair):
    t, u, q, dest, port = pair
    _fill(kernel, t, u, q, dest)
    r = Runner(kernel, mach_msg_send, t, Message(remote_port=dest, id=99), O.SEND_TIMEOUT, 20)
    r.start()
    assert r.finish().code == K.MACH_SEND_TIMED_OUT
    with kernel.lock:
        assert len(port.messages) == 1


def test_P6_12_blocked_sender_woken_by_receive(kernel, pair):
    t, u, q, dest, port = pair
    _fill(kernel, t, u, q, dest)
    r = Runner(kernel, mach_msg_send, t, Message(remote_port=dest, id=99))
    r.start()
    wait_blocked(kernel, r, lambda: port.cond)
    with kernel.lock:
        assert mach_msg_receive(u, q).id == 0
    r.finish()
    assert r.code is None
    with kernel.lock:
        assert mach_msg_receive(u, q, O.RCV_TIMEOUT, 0).id == 99


def test_P6_12_blocked_sender_woken_by_raised_qlimit(kernel, pair):
    t, u, q, dest, port = pair
    _fill(kernel, t, u, q, dest)
    r = Runner(kernel, mach_msg_send, t, Message(remote_port=dest, id=99))
    r.start()
    wait_blocked(kernel, r, lambda: port.cond)
    with kernel.lock:
        mp.mach_port_set_attributes(u.itk_space, q, PortFlavor.LIMITS_INFO, 2)
    assert r.finish().code is None
    with kernel.lock:
        assert len(port.messages) == 2


def test_P6_14_blocked_sender_succeeds_when_port_dies_and_message_is_destroyed(kernel, pair):
    t, u, q, dest, port = pair
    _fill(kernel, t, u, q, dest)
    with kernel.lock:
        carried = receive_right(t)
        carried_port = t.itk_space.lookup(carried).object
    msg = Message(remote_port=dest, remote_disp=T.MOVE_SEND, body=[PortDesc(carried, T.MOVE_RECEIVE)])
    r = Runner(kernel, mach_msg_send, t, msg)
    r.start()
    wait_blocked(kernel, r, lambda: port.cond)
    with kernel.lock:
        mp.mach_port_destroy(u.itk_space, q)
    assert r.finish().code is None                       # MACH_MSG_SUCCESS
    with kernel.lock:
        assert not carried_port.active                    # the message was destroyed
        assert t.itk_space.lookup(carried) is None
        assert t.itk_space.lookup(dest) is None           # MOVE_SEND consumed the dead name


def test_many_threads_send_and_receive(kernel, pair):
    t, u, q, dest, port = pair
    N, M = 4, 25
    senders = [Runner(kernel, lambda i=i: [mach_msg_send(t, Message(remote_port=dest, id=i * 1000 + j))
                                           for j in range(M)]) for i in range(N)]
    got = []

    def receive_all():
        for _ in range(N * M):
            got.append(mach_msg_receive(u, q).id)
    r = Runner(kernel, receive_all)
    r.start()
    for s in senders:
        s.start()
    for s in senders:
        s.finish()
    r.finish()
    assert sorted(got) == sorted(i * 1000 + j for i in range(N) for j in range(M))
    for i in range(N):                                    # per-sender order kept
        mine = [x for x in got if x // 1000 == i]
        assert mine == sorted(mine)
