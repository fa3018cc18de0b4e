"""Process migration (servers/migration.py): Cluster.migrate / mach.task_migrate move a
running program's task with all its threads and port rights to another node.

The guest is tests/migration_guest.c.  In `work` mode three threads compute a
checksum each (an integer LCG and a floating-point sum, so both register files must
survive every move), and the main thread serves numbered messages from the test:

    test (server task)  --DATA n-->  DATA_PORT (receive right of the guest)
                        --GO/FIN-->  CTL_PORT  (receive right of the guest)
    guest               --ECHO [n, node], READY, RESULT-->  SERVER_PORT (send right)

The guest takes DATA messages only after a GO, so the test decides which messages
are queued while the program moves; and it cannot end before FIN, so every
migration happens while the program runs whatever speed the CPU has.  The
assertions hold however far the computation got when a migration happened (sleeps
only give it time to progress).

`abort` mode is for thread_abort (T7.3): its thread waits in mach_msg receive.
"""

from __future__ import annotations

import functools
import pathlib
import struct
import time

import pytest
from snippets import symbol
from waiting import wait_until

from normach import Cluster, KernError, KernReturn, mach
from normach.ipc.message import Message
from normach.mach_types import MsgType, PortFlavor, PortRight, PortType, TaskInfoFlavor
from normach.servers import migration

K = KernReturn
SRC = pathlib.Path(__file__).resolve().with_name("migration_guest.c")

# migration_guest.c's names and message ids
DATA_PORT, CTL_PORT, SERVER_PORT = 0x7703, 0x7803, 0x7903
DATA, GO, FIN, READY, ECHO, RESULT = 100, 200, 201, 300, 301, 302
ABORT_READY1, ABORT_REPORT1, ABORT_READY2, ABORT_REPORT2 = 400, 401, 402, 403
BATCH = 4                       # DATA messages the guest takes per GO
NTHREADS = 3                    # main + 2 workers
ITERATIONS = 3_000_000          # per series: about a second of guest CPU for all three

TIMEOUT = 60.0
U64 = (1 << 64) - 1


# -- what the guest must compute ------------------------------------------------------------

def _affine_power(m, n):
    """m**n for a 3x3 matrix mod 2**64."""
    def mul(a, b):
        return [[sum(a[i][k] * b[k][j] for k in range(3)) & U64 for j in range(3)]
                for i in range(3)]
    r = [[int(i == j) for j in range(3)] for i in range(3)]
    while n:
        if n & 1:
            r = mul(r, m)
        m = mul(m, m)
        n >>= 1
    return r


@functools.cache
def series(k: int, n: int) -> tuple[int, int]:
    """migration_guest.c's series(k) over n iterations: (LCG value, bits of the double sum).

    s = s * A + C + i * (k + 1) is affine in (s, i, 1): a matrix power gives it at once;
    the floating-point sum is added in the guest's order (IEEE doubles round alike)."""
    a, c = 6364136223846793005, 1442695040888963407
    m = _affine_power([[a, k + 1, c], [0, 1, 1], [0, 0, 1]], n)
    s = (m[0][0] * (k + 1) + m[0][2]) & U64              # start: s = k + 1, i = 0
    h = 0.0
    for j in range(1 + k, n + 1 + k):
        h += 1.0 / j
    return s, struct.unpack("<Q", struct.pack("<d", h))[0]


def expected_result(n: int = ITERATIONS) -> list[int]:
    """The RESULT message's values: checksums 0..2, then float bits 0..2 (node not included)."""
    per = [series(k, n) for k in range(NTHREADS)]
    return [s for s, _ in per] + [f for _, f in per]


# -- helpers ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def exe(tmp_path_factory):
    """The guest, built once (an ELF path, so `symbol` can find its globals)."""
    from normach.guest.build import compile_program
    out = str(tmp_path_factory.mktemp("migration") / "migration_guest")
    compile_program(out, [str(SRC)])
    return out


def msgcount(status) -> int:
    """msgcount of a RECEIVE_STATUS answer (a PortStatus here, a plain list from another node)."""
    return status.msgcount if hasattr(status, "msgcount") else status[4]


def kill_node(c: Cluster, node: int) -> None:
    """Kill `node` as a crash would (an embedded node goes silent): the others hear
    nothing more and declare it down."""
    c.kill_node(node)


def wait_down(c: Cluster, node: int) -> None:
    """Until every other node has declared `node` down."""
    wait_until(lambda: all(node in k.remote.down for k in c.kernels if k.node != node),
               f"the nodes to declare node {node} down")


class Guest:
    """migration_guest.c started suspended, its three rights given under their fixed names,
    and the test's server: a task on `server_node` holding SERVER_PORT's receive right and
    send rights to DATA_PORT and CTL_PORT (under those same names)."""

    def __init__(self, c: Cluster, exe: str, args, node: int = 0, server_node: int = 2):
        self.c = c
        self.server = c.task_create(node=server_node, name="server")
        self.service = mach.mach_port_allocate(self.server, PortRight.RECEIVE)
        self.p = c.spawn(exe, args=list(args), node=node, suspended=True)
        task = self.p.task_handle
        mach.mach_port_allocate_name(task, PortRight.RECEIVE, DATA_PORT)
        mach.mach_port_allocate_name(task, PortRight.RECEIVE, CTL_PORT)
        mach.mach_port_insert_right(task, SERVER_PORT, mach.mach_port_extract_right(
            self.server, self.service, MsgType.MAKE_SEND), MsgType.MOVE_SEND)
        for name in (DATA_PORT, CTL_PORT):
            mach.mach_port_insert_right(self.server, name, mach.mach_port_extract_right(
                task, name, MsgType.MAKE_SEND), MsgType.MOVE_SEND)
        self.echoes: list[tuple[int, int]] = []

    def start(self) -> None:
        self.c.resume(self.p)

    def why(self) -> str:
        return f"reason {self.p.reason!r}, console:\n{self.c.output(self.p)}"

    # the server's side
    def send(self, name: int, msg_id: int, value: int | None = None) -> None:
        body = [] if value is None else [value.to_bytes(8, "little")]
        mach.mach_msg_send(self.server, Message(remote_port=name, remote_disp=MsgType.COPY_SEND,
                                                id=msg_id, body=body))

    def data(self, numbers) -> None:
        for n in numbers:
            self.send(DATA_PORT, DATA, n)

    def receive(self, msg_id: int) -> list[int]:
        """The next message to the server (it must have id `msg_id`): its 64-bit values.
        Fails early, with the console text, if the program ended instead."""
        end = time.monotonic() + TIMEOUT
        while True:
            try:
                m = mach.mach_msg_receive(self.server, self.service, 0x100, 200)  # RCV_TIMEOUT
                break
            except KernError as e:
                if e.code != K.MACH_RCV_TIMED_OUT:
                    raise
            assert self.p.task.active, f"the program ended, waiting for id {msg_id}: {self.why()}"
            assert time.monotonic() < end, f"no message id {msg_id}: {self.why()}"
        raw = b"".join(i for i in m.body if isinstance(i, (bytes, bytearray)))
        values = [int.from_bytes(raw[i:i + 8], "little") for i in range(0, len(raw), 8)]
        assert m.id == msg_id, f"got id {m.id} {values}, expected {msg_id}: {self.why()}"
        return values

    def batch(self) -> None:
        """GO: the guest takes the next BATCH numbers; collect their echoes."""
        self.send(CTL_PORT, GO)
        for _ in range(BATCH):
            number, node = self.receive(ECHO)
            self.echoes.append((number, node))

    def queued(self) -> int:
        """Messages waiting on the guest's DATA_PORT, wherever its task is now."""
        return msgcount(mach.mach_port_get_attributes(self.p.task_handle, DATA_PORT,
                                                      PortFlavor.RECEIVE_STATUS))

    def wait_queued(self, n: int) -> None:
        wait_until(lambda: self.queued() == n, f"{n} messages queued on DATA_PORT")

    def finish(self) -> tuple[int, list[int]]:
        """FIN; (exit status, RESULT values)."""
        self.send(CTL_PORT, FIN)
        status = self.c.wait(self.p, timeout=TIMEOUT)
        return status, self.receive(RESULT)


def user_time(task) -> int:
    """The task's threads' user time so far (µs), the slices running now included."""
    return mach.task_info(task, TaskInfoFlavor.TASK_THREAD_TIMES_INFO)["user_time"]


def word(task, address: int) -> int:
    return int.from_bytes(mach.vm_read(task, address, 8), "little")


def program_tasks(c: Cluster, node: int, name: str = "migration_guest") -> list:
    return [t for t in c.tasks(node) if t.name == name and t.active]


# -- the checksums themselves --------------------------------------------------------------------

def test_unmigrated_run_computes_the_python_checksums(exe):
    """The reference: without any migration the guest's three series are what Python
    computes (so a mismatch below is the migration's doing)."""
    with Cluster(nodes=3) as c:
        g = Guest(c, exe, ["work", ITERATIONS])
        g.start()
        g.receive(READY)
        status, result = g.finish()
        assert (status, g.p.reason) == (0, ""), g.why()
        assert result[:2 * NTHREADS] == expected_result(), g.why()
        assert result[2 * NTHREADS] == 0 and g.p.node == 0 and g.p.migrations == []
        assert c.audit() == []


# -- a: a multi-threaded program with rights and queued messages moves 0 -> 1 -> 2 -------------

def test_running_threaded_program_migrates_0_1_2_with_its_rights_and_queued_messages(exe):
    with Cluster(nodes=3) as c:
        g = Guest(c, exe, ["work", ITERATIONS], node=0, server_node=2)
        iterations = symbol(exe, "iterations")
        g.start()
        g.receive(READY)                           # the workers run: three threads
        assert len(mach.task_threads(g.p.task_handle)) == NTHREADS

        # 0 -> 1, numbers 0-3 queued on the receive right (the guest takes them after GO)
        g.data(range(4))
        g.wait_queued(4)
        m1 = c.migrate(g.p, 1)
        assert (m1.source, m1.node, m1.threads) == (0, 1, NTHREADS)
        assert m1.rights >= 3                      # at least DATA_PORT, CTL_PORT, SERVER_PORT
        assert g.p.node == 1 and g.p.task_handle is m1.task and g.p.migrations == [m1]
        assert program_tasks(c, 0) == [] and len(program_tasks(c, 1)) == 1
        assert g.queued() == 4                     # same name, messages kept
        assert word(g.p.task_handle, iterations) == ITERATIONS      # its memory followed
        assert len(mach.task_threads(g.p.task_handle)) == NTHREADS
        g.batch()

        # 1 -> 2, numbers 4-7 queued
        g.data(range(4, 8))
        g.wait_queued(4)
        m2 = c.migrate(g.p, 2)
        assert (m2.source, m2.node, m2.threads) == (1, 2, NTHREADS)
        assert g.p.node == 2 and g.p.migrations == [m1, m2]
        assert program_tasks(c, 1) == [] and len(program_tasks(c, 2)) == 1
        assert g.queued() == 4
        assert word(g.p.task_handle, iterations) == ITERATIONS
        g.batch()

        # numbers 8-11 sent after the last migration
        g.data(range(8, 12))
        g.batch()
        status, result = g.finish()

        assert (status, g.p.reason) == (0, ""), g.why()
        # every number exactly once, in order, each handled where the program was then
        assert g.echoes == [(n, 1) for n in range(4)] + [(n, 2) for n in range(4, 12)], g.why()
        assert result[:2 * NTHREADS] == expected_result(), g.why()
        assert result[2 * NTHREADS] == 2
        out = c.output(g.p)
        assert "starting on node 0" in out
        assert "number 3 on node 1" in out and "number 4 on node 2" in out, out
        assert "worker 1 ends on node 2" in out and "worker 2 ends on node 2" in out, out
        assert "work: all threads finished, 12 numbers, ending on node 2" in out, out
        assert c.audit() == []


# -- b: 20 migrations in a row ---------------------------------------------------------------------

def test_twenty_migrations_in_a_row_round_robin_give_the_unmigrated_result(exe):
    with Cluster(nodes=3) as c:
        g = Guest(c, exe, ["work", ITERATIONS], node=0, server_node=2)
        g.start()
        g.receive(READY)
        g.data(range(4))                    # these stay queued through all 20 moves
        g.wait_queued(4)
        for i in range(20):
            source, target = i % 3, (i + 1) % 3
            m = c.migrate(g.p, target)
            assert (m.source, m.node, m.threads) == (source, target, NTHREADS), i
            assert g.p.node == target
            spent = user_time(g.p.task_handle)   # it computes a little on each node
            wait_until(lambda spent=spent: user_time(g.p.task_handle) > spent
                       or c.output(g.p).count(" ends on node ") == NTHREADS - 1,
                       f"the program to compute on node {target}")
        assert [m.node for m in g.p.migrations] == [(i + 1) % 3 for i in range(20)]
        assert g.p.node == 2 and g.queued() == 4
        g.batch()
        status, result = g.finish()
        assert (status, g.p.reason) == (0, ""), g.why()
        assert g.echoes == [(n, 2) for n in range(4)]
        assert result == expected_result() + [2], g.why()
        assert "ending on node 2" in c.output(g.p)
        for node in range(3):
            assert program_tasks(c, node) == []
        assert c.audit() == []


# -- c: to a dead node ---------------------------------------------------------------------------

def test_migration_to_a_dead_node_is_node_down_and_the_program_runs_on_where_it_was(exe):
    with Cluster(nodes=3) as c:
        g = Guest(c, exe, ["work", ITERATIONS], node=0, server_node=1)
        g.start()
        g.receive(READY)
        with pytest.raises(KernError) as e:        # its own node
            c.migrate(g.p, 0)
        assert e.value.code == K.KERN_INVALID_ARGUMENT
        kill_node(c, 2)
        wait_down(c, 2)
        g.data(range(4))
        g.wait_queued(4)
        with pytest.raises(KernError) as e:
            c.migrate(g.p, 2)
        assert e.value.code == K.KERN_NODE_DOWN
        assert g.p.node == 0 and g.p.migrations == [] and g.p.task.active
        assert len(program_tasks(c, 0)) == 1
        # its rights went back under their names, the messages with them; its threads run
        assert g.queued() == 4
        assert len(mach.task_threads(g.p.task_handle)) == NTHREADS
        g.batch()
        status, result = g.finish()
        assert (status, g.p.reason) == (0, ""), g.why()
        assert g.p.node == 0
        assert g.echoes == [(n, 0) for n in range(4)]
        assert result == expected_result() + [0], g.why()
        assert "ending on node 0" in c.output(g.p)
        assert c.audit() == []


# -- d: an unrelated node dies --------------------------------------------------------------------

@pytest.mark.parametrize("when", ["before", "during"])
def test_migration_0_to_1_completes_while_unrelated_node_2_is_killed(exe, when):
    """Node 2 holds nothing of the program; it is killed before the migration, or during
    it (when the migration manager announces the move, before the teleport)."""
    with Cluster(nodes=3) as c:
        g = Guest(c, exe, ["work", ITERATIONS], node=0, server_node=0)
        g.start()
        g.receive(READY)
        g.data(range(4))
        g.wait_queued(4)
        killed = []

        def kill_at_start(event, task, m):
            if event == "start" and task.port is g.p.task_handle.port and not killed:
                killed.append(event)
                kill_node(c, 2)
        if when == "before":
            kill_node(c, 2)
            wait_down(c, 2)
        else:
            migration.listeners.append(kill_at_start)
        try:
            m = c.migrate(g.p, 1)
        finally:
            if kill_at_start in migration.listeners:
                migration.listeners.remove(kill_at_start)
        assert when == "before" or killed == ["start"]
        assert (m.source, m.node, m.threads) == (0, 1, NTHREADS)
        assert g.p.node == 1
        wait_down(c, 2)
        g.batch()
        status, result = g.finish()
        assert (status, g.p.reason) == (0, ""), g.why()
        assert g.p.node == 1
        assert g.echoes == [(n, 1) for n in range(4)]
        assert result == expected_result() + [1], g.why()
        assert "ending on node 1" in c.output(g.p)
        assert c.audit() == []


# -- e: thread_abort (T7.3) -------------------------------------------------------------------------

def _blocked_in_receive(kthread) -> bool:
    """The kernel thread waits in a kernel call (migration_guest's abort mode has no other
    wait after telling the server it is about to receive)."""
    return kthread.waiting_on is not None


def test_T7_3_thread_abort_interrupts_a_receive_with_RCV_INTERRUPT_and_is_resumed_without(exe):
    with Cluster(nodes=1) as c:
        g = Guest(c, exe, ["abort"], node=0, server_node=0)
        g.start()
        [thread] = mach.task_threads(g.p.task_handle)
        kthread = g.p.task.threads[0]

        # 1: MACH_RCV_MSG | MACH_RCV_INTERRUPT: the receive ends with MACH_RCV_INTERRUPTED
        g.receive(ABORT_READY1)
        wait_until(lambda: _blocked_in_receive(kthread), "the receive to wait")
        mach.thread_suspend(thread)
        mach.thread_abort(thread)
        assert not kthread.cpu.in_trap()           # it has left the kernel call
        mach.thread_resume(thread)
        assert g.receive(ABORT_REPORT1) == [K.MACH_RCV_INTERRUPTED], g.why()

        # 2: MACH_RCV_MSG alone: the library waits again and gets the message sent afterwards
        g.receive(ABORT_READY2)
        wait_until(lambda: _blocked_in_receive(kthread), "the second receive to wait")
        mach.thread_suspend(thread)
        mach.thread_abort(thread)
        assert not kthread.cpu.in_trap()
        mach.thread_resume(thread)
        wait_until(lambda: _blocked_in_receive(kthread), "the receive to wait again")
        g.send(DATA_PORT, 77, 12345)
        assert g.receive(ABORT_REPORT2) == [0, 77, 12345], g.why()

        assert c.wait(g.p, timeout=TIMEOUT) == 0, g.why()
        out = c.output(g.p)
        assert f"with MACH_RCV_INTERRUPT returned {K.MACH_RCV_INTERRUPTED:#x}" in out, out
        assert "without MACH_RCV_INTERRUPT returned 0, id 77" in out, out
        # the program's thread has terminated with its task
        with pytest.raises(KernError) as e:
            mach.thread_abort(thread)
        assert e.value.code == K.KERN_TERMINATED
        assert c.audit() == []


def test_T7_3_thread_abort_of_a_terminated_thread_is_KERN_TERMINATED():
    with Cluster(nodes=1) as c:
        task = c.task_create()
        thread = mach.thread_create(task)
        mach.thread_abort(thread)                  # not in a kernel call: nothing to do
        mach.thread_terminate(thread)
        with pytest.raises(KernError) as e:
            mach.thread_abort(thread)
        assert e.value.code == K.KERN_TERMINATED
        assert c.audit() == []


# -- the rights of a bare task, and the migration record --------------------------------------------

def _rights_of_every_kind(c: Cluster, task, other) -> dict:
    """Give `task` a receive right with a send right (3 refs) and 3 queued messages, a port
    set with a member, a send right and a send-once right to `other`'s port, a dead name
    with 2 refs.  Returns {what: name}."""
    service = mach.mach_port_allocate(other, PortRight.RECEIVE)
    n = {"receive": 0x1103, "set": 0x1203, "member": 0x1303, "send": 0x1403, "sonce": 0x1503,
         "dead": 0x1603, "service": service}
    mach.mach_port_allocate_name(task, PortRight.RECEIVE, n["receive"])
    mach.mach_port_insert_right(task, n["receive"], mach.mach_port_extract_right(
        task, n["receive"], MsgType.MAKE_SEND), MsgType.MOVE_SEND)
    mach.mach_port_mod_refs(task, n["receive"], PortRight.SEND, 2)
    for i in range(3):
        mach.mach_msg_send(task, Message(remote_port=n["receive"], remote_disp=MsgType.COPY_SEND,
                                         id=10 + i, body=[bytes([i]) * 8]))
    mach.mach_port_allocate_name(task, PortRight.PORT_SET, n["set"])
    mach.mach_port_allocate_name(task, PortRight.RECEIVE, n["member"])
    mach.mach_port_move_member(task, n["member"], n["set"])
    mach.mach_port_insert_right(task, n["send"], mach.mach_port_extract_right(
        other, service, MsgType.MAKE_SEND), MsgType.MOVE_SEND)
    mach.mach_port_insert_right(task, n["sonce"], mach.mach_port_extract_right(
        other, service, MsgType.MAKE_SEND_ONCE), MsgType.MOVE_SEND_ONCE)
    mach.mach_port_allocate_name(task, PortRight.DEAD_NAME, n["dead"])
    mach.mach_port_mod_refs(task, n["dead"], PortRight.DEAD_NAME, 1)
    return n


def test_task_migrate_keeps_every_right_under_its_name():
    """mach.task_migrate on a bare task (no threads): receive right with its queued
    messages in order, send refs, send-once, port set and member, dead name refs."""
    with Cluster(nodes=3) as c:
        task, other = c.task_create(node=0), c.task_create(node=2)
        n = _rights_of_every_kind(c, task, other)
        before = mach.mach_port_names(task)
        with pytest.raises(KernError) as e:        # its own node: refused before anything
            mach.task_migrate(task, 0)
        assert e.value.code == K.KERN_INVALID_ARGUMENT
        assert mach.mach_port_names(task) == before

        m = mach.task_migrate(task, 1)
        assert (m.source, m.node, m.threads, m.rights) == (0, 1, 0, 6)
        new = m.task
        assert mach.mach_port_names(new) == before
        assert mach.mach_port_get_refs(new, n["receive"], PortRight.SEND) == 3
        assert mach.mach_port_get_refs(new, n["dead"], PortRight.DEAD_NAME) == 2
        assert mach.mach_port_type(new, n["dead"]) == PortType.DEAD_NAME
        assert list(mach.mach_port_get_set_status(new, n["set"])) == [n["member"]]
        assert msgcount(mach.mach_port_get_attributes(new, n["receive"],
                                                      PortFlavor.RECEIVE_STATUS)) == 3
        # the moved rights work: take the receive right out, read the messages in order;
        # send on the send and send-once rights
        reader = c.task_create(node=0)
        rcv = mach.mach_port_extract_right(new, n["receive"], MsgType.MOVE_RECEIVE)
        mach.mach_port_insert_right(reader, 0x2103, rcv, MsgType.MOVE_RECEIVE)
        got = [mach.mach_msg_receive(reader, 0x2103, 0x100, 10000) for _ in range(3)]
        assert [(x.id, x.body) for x in got] == [(10 + i, [bytes([i]) * 8]) for i in range(3)]
        send = mach.mach_port_extract_right(new, n["send"], MsgType.COPY_SEND)
        sonce = mach.mach_port_extract_right(new, n["sonce"], MsgType.MOVE_SEND_ONCE)
        mach.mach_port_insert_right(reader, 0x2203, send, MsgType.MOVE_SEND)
        mach.mach_port_insert_right(reader, 0x2303, sonce, MsgType.MOVE_SEND_ONCE)
        mach.mach_msg_send(reader, Message(remote_port=0x2203, remote_disp=MsgType.COPY_SEND,
                                           id=55))
        mach.mach_msg_send(reader, Message(remote_port=0x2303,
                                           remote_disp=MsgType.MOVE_SEND_ONCE, id=56))
        assert [mach.mach_msg_receive(other, n["service"], 0x100, 10000).id
                for _ in range(2)] == [55, 56]
        assert c.audit() == []


def test_migration_record_counts_the_queued_messages_it_moved():
    with Cluster(nodes=2) as c:
        task = c.task_create(node=0)
        name = mach.mach_port_allocate(task, PortRight.RECEIVE)
        mach.mach_port_insert_right(task, name, mach.mach_port_extract_right(
            task, name, MsgType.MAKE_SEND), MsgType.MOVE_SEND)
        for i in range(3):
            mach.mach_msg_send(task, Message(remote_port=name, remote_disp=MsgType.COPY_SEND,
                                             id=i))
        m = mach.task_migrate(task, 1)
        assert msgcount(mach.mach_port_get_attributes(m.task, name,
                                                      PortFlavor.RECEIVE_STATUS)) == 3
        assert m.messages == 3


# -- a migration that fails puts everything back --------------------------------------------------

def _one_kind(task, other, kind: str) -> None:
    """Give `task` one right of `kind` under name 0x4403 (besides whatever it has)."""
    name = 0x4403
    if kind in ("receive", "send_refs"):
        mach.mach_port_allocate_name(task, PortRight.RECEIVE, name)
        mach.mach_port_insert_right(task, name, mach.mach_port_extract_right(
            task, name, MsgType.MAKE_SEND), MsgType.MOVE_SEND)
        if kind == "send_refs":
            mach.mach_port_mod_refs(task, name, PortRight.SEND, 2)
        for i in range(2):
            mach.mach_msg_send(task, Message(remote_port=name, remote_disp=MsgType.COPY_SEND,
                                             id=i))
    elif kind == "send_once":
        service = mach.mach_port_allocate(other, PortRight.RECEIVE)
        mach.mach_port_insert_right(task, name, mach.mach_port_extract_right(
            other, service, MsgType.MAKE_SEND_ONCE), MsgType.MOVE_SEND_ONCE)
    elif kind == "port_set":
        mach.mach_port_allocate_name(task, PortRight.PORT_SET, name)
        member = mach.mach_port_allocate(task, PortRight.RECEIVE)
        mach.mach_port_move_member(task, member, name)
    elif kind == "dead_name":
        mach.mach_port_allocate_name(task, PortRight.DEAD_NAME, name)


def _space_of(task) -> list:
    """Every name with its type, user references of each right kind, and queue length."""
    names, types = mach.mach_port_names(task)
    out = []
    for name, typ in zip(names, types):
        refs = tuple(mach.mach_port_get_refs(task, name, right)
                     for right in (PortRight.SEND, PortRight.SEND_ONCE, PortRight.DEAD_NAME))
        queued = (msgcount(mach.mach_port_get_attributes(task, name, PortFlavor.RECEIVE_STATUS))
                  if typ & PortType.RECEIVE else None)
        members = (sorted(mach.mach_port_get_set_status(task, name))
                   if typ & PortType.PORT_SET else None)
        out.append((name, int(typ), refs, queued, members))
    return out


@pytest.mark.parametrize("kind", [
    "receive", "send_once",
    "send_refs", "port_set", "dead_name",
])
def test_failed_migration_leaves_the_task_running_with_its_rights_as_they_were(kind):
    """The teleport fails (no node 3): the task is resumed where it was, every name with
    the same rights, user references and queued messages."""
    with Cluster(nodes=3) as c:
        task, other = c.task_create(node=0), c.task_create(node=2)
        _one_kind(task, other, kind)
        before = _space_of(task)
        with pytest.raises(KernError) as e:
            mach.task_migrate(task, 3)
        assert e.value.code == K.KERN_INVALID_ARGUMENT
        assert mach.task_info(task, 1)["suspend_count"] == 0
        assert _space_of(task) == before
        assert c.audit() == []


# -- thread stop counts (T7.3) ----------------------------------------------------------------------

def test_T7_3_threads_suspended_before_a_migration_stay_suspended_after_it(exe):
    """Each thread's own stop count moves with it (the task's suspension for the move
    does not): a worker suspended twice needs two resumes on the new node."""
    with Cluster(nodes=3) as c:
        g = Guest(c, exe, ["work", ITERATIONS], node=0, server_node=2)
        g.start()
        g.receive(READY)
        threads = mach.task_threads(g.p.task_handle)
        assert len(threads) == NTHREADS
        for th, n in zip(threads, (0, 2, 1)):
            for _ in range(n):
                mach.thread_suspend(th)
        m = c.migrate(g.p, 1)
        assert m.threads == NTHREADS
        moved = mach.task_threads(g.p.task_handle)

        def stops(th):
            info = mach.thread_info(th, 3)                 # from another node: the same record
            return info["suspend_count"]
        assert [stops(th) for th in moved] == [0, 2, 1]
        for th, n in zip(moved, (0, 2, 1)):
            for _ in range(n):
                mach.thread_resume(th)
        status, result = g.finish()
        assert (status, g.p.reason) == (0, ""), g.why()
        assert result == expected_result() + [1], g.why()
        assert c.audit() == []


# -- memory lost with a node -----------------------------------------------------------------------

def test_task_info_norma_memory_counts_pages_resident_elsewhere_and_lost():
    """TASK_NORMA_MEMORY_INFO: a clone's written page is elsewhere for the parent; once
    the clone's node dies the page is lost (X4.11) and counted so."""
    from normach.mach_types import TaskInfoFlavor
    with Cluster(nodes=3) as c:
        t = c.task_create(node=0)
        a = mach.vm_allocate(t, 0, 2 * 4096, True)
        mach.vm_write(t, a, b"old")
        mach.vm_write(t, a + 4096, b"kept")
        clone = mach.norma_task_clone(t, True, 2)
        mach.vm_write(clone, a, b"new")                      # node 2 alone holds it now
        info = mach.task_info(t, TaskInfoFlavor.TASK_NORMA_MEMORY_INFO)
        assert (info["elsewhere"], info["lost"]) == (1, 0)
        kill_node(c, 2)
        wait_down(c, 2)
        info = mach.task_info(t, TaskInfoFlavor.TASK_NORMA_MEMORY_INFO)
        assert info["lost"] == 1
        row, = [r for r in c.ps() if r["node"] == 0 and r["id"] == t.port.kobject.id]
        assert row["lost"] == 1


def test_task_with_memory_lost_with_a_node_does_not_migrate_and_stays_whole():
    """A page whose only copy was on a dead node: task_migrate fails with
    KERN_MEMORY_ERROR before anything moves; the task keeps its names and runs on."""
    with Cluster(nodes=3) as c:
        t = c.task_create(node=0)
        a = mach.vm_allocate(t, 0, 2 * 4096, True)
        mach.vm_write(t, a + 4096, b"kept")
        name = mach.mach_port_allocate(t, PortRight.RECEIVE)
        clone = mach.norma_task_clone(t, True, 2)
        mach.vm_write(clone, a, b"new")
        kill_node(c, 2)
        wait_down(c, 2)
        before = _space_of(t)
        with pytest.raises(KernError) as e:
            mach.task_migrate(t, 1)
        assert e.value.code == K.KERN_MEMORY_ERROR
        assert t.port.kobject is not None and t.port.kobject.active and t.node == 0
        assert _space_of(t) == before and name in mach.mach_port_names(t)[0]
        assert mach.task_info(t, 1)["suspend_count"] == 0
        assert mach.vm_read(t, a + 4096, 4) == b"kept"
        assert c.audit() == []


def test_migrated_task_keeps_its_exception_port(tmp_path):
    """A task's exception port (a server on node 0) still gets its exceptions after the
    task moved to node 2: the faulting thread's EXCEPTION_RAISE arrives there."""
    from normach.guest.build import compile_program
    from normach.mach_types import MsgOption
    src = tmp_path / "fault_later.c"
    src.write_text("#include <mach.h>\nvolatile int go;\n"
                   "int main(void) { while (!go) swtch_pri(0); *(volatile int *)8 = 1; return 0; }\n")
    exe = str(tmp_path / "fault_later")
    compile_program(exe, [str(src)])
    with Cluster(nodes=3) as c:
        server = c.task_create(node=0, name="handler")
        port = mach.mach_port_allocate(server, PortRight.RECEIVE)
        p = c.spawn(exe, node=0, suspended=True)
        mach.task_set_exception_ports(p.task_handle, 1 << 1, mach.mach_port_extract_right(
            server, port, MsgType.MAKE_SEND), 1, 4)              # EXC_MASK_BAD_ACCESS
        c.resume(p)
        m = c.migrate(p, 2)
        mach.vm_write(m.task, symbol(exe, "go"), (1).to_bytes(4, "little"))
        msg = mach.mach_msg_receive(server, port, MsgOption.RCV_TIMEOUT, 30_000)
        assert msg.id == 2401                                     # EXCEPTION_RAISE
        assert p.node == 2
        mach.task_terminate(m.task)


def test_every_thread_state_flavor_moves_with_the_task():
    """The x87 part of x86_FLOAT_STATE64 and x86_DEBUG_STATE64 travel as the integer
    registers do: a stopped thread's three flavors are the same on the new node."""
    from spin import spin_state
    from normach.kern.thread import X86DebugState64, X86FloatState64
    from normach.mach_types import ThreadStateFlavor as F
    fs = X86FloatState64(fcw=0x27F, fsw=3 << 11, ftw=0x38, fop=0x1D9, fip=0x1234, fdp=0x5678,
                         mxcsr=0x1FBF, st=[0x3FF0 + i << 64 | 0x8000_0000_0000_1234 for i in range(8)],
                         xmm=[i << 70 | i for i in range(16)])
    ds = X86DebugState64(dr0=0x1000, dr6=0x0FF0, dr7=0x401)
    with Cluster(nodes=2) as c:
        task = c.task_create(node=0)
        th = mach.thread_create(task)
        ts = spin_state(task)
        for flavor, state in ((F.x86_THREAD_STATE64, ts), (F.x86_FLOAT_STATE64, fs),
                              (F.x86_DEBUG_STATE64, ds)):
            mach.thread_set_state(th, flavor, state)
        m = mach.task_migrate(task, 1)
        moved, = mach.task_threads(m.task)
        assert moved.node == 1
        assert mach.thread_get_state(moved, F.x86_THREAD_STATE64) == ts
        assert mach.thread_get_state(moved, F.x86_FLOAT_STATE64) == fs
        assert mach.thread_get_state(moved, F.x86_DEBUG_STATE64) == ds
        assert c.audit() == []
