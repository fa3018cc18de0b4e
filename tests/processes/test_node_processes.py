"""Node processes over tcp loopback (Cluster(processes=True)): kernel calls on remote
tasks, remote sends, a receive right moving between processes, and a node killed."""

import pytest

from normach import (
    Cluster,
    KernError,
    KernReturn,
    Message,
    MsgOption,
    MsgType,
    Notify,
    PortRight,
    PortType,
    mach,
)
from normach.mach_types import PortFlavor
from waiting import wait_until

K = KernReturn


@pytest.fixture(scope="module")
def procs():
    c = Cluster(nodes=3, processes=True, phys_bytes=16 << 20)
    yield c
    c.close()


def test_N1_1_each_node_process_answers_for_itself(procs):
    assert [mach.norma_node_self(procs.host(n)) for n in range(3)] == [0, 1, 2]


def test_kernel_calls_on_a_task_in_another_process(procs):
    t = procs.task_create(node=1)
    assert t.node == 1
    a = mach.vm_allocate(t, 0, 8192, True)
    mach.vm_write(t, a, b"across processes")
    assert mach.vm_read(t, a, 16) == b"across processes"
    region = mach.vm_region(t, a)
    assert (region.address, region.size) == (a, 8192)          # the same record as locally
    with pytest.raises(KernError) as e:
        mach.vm_read(t, 0x1000, 4)
    assert e.value.code == K.KERN_INVALID_ADDRESS
    child = mach.task_create(t, True)
    assert child.node == 1 and mach.vm_read(child, a, 6) == b"across"
    mach.task_terminate(child)
    mach.task_terminate(t)


def test_D5_4_remote_send_and_receive_right_migration_between_processes(procs):
    me = procs.local_task("client")
    server = procs.task_create(node=2)
    name = mach.mach_port_allocate(server, PortRight.RECEIVE)
    send = mach.mach_port_extract_right(server, name, MsgType.MAKE_SEND)
    mach.mach_port_insert_right(me, 0x3303, send, MsgType.MOVE_SEND)
    for i in range(3):
        mach.mach_msg_send(me, Message(remote_port=0x3303, remote_disp=MsgType.COPY_SEND, id=i,
                                       body=[b"to node 2"]))
    # the receive right (and the three messages queued on it) moves into this process;
    # it is the port `me` already names 0x3303, so it joins that name (P6.3)
    rcv = mach.mach_port_extract_right(server, name, MsgType.MOVE_RECEIVE)
    mach.mach_port_insert_right(me, 0x3303, rcv, MsgType.MOVE_RECEIVE)
    assert mach.mach_port_type(me, 0x3303) & PortType.RECEIVE
    got = [mach.mach_msg_receive(me, 0x3303, MsgOption.RCV_TIMEOUT, 10000) for _ in range(3)]
    assert [m.id for m in got] == [0, 1, 2]
    assert got[0].body[0].rstrip(b"\0") == b"to node 2"
    mach.mach_msg_send(me, Message(remote_port=0x3303, remote_disp=MsgType.COPY_SEND, id=9))
    assert mach.mach_msg_receive(me, 0x3303, MsgOption.RCV_TIMEOUT, 10000).id == 9


def test_audit_of_every_process_holds(procs):
    assert procs.audit() == []


def test_D5_8_killed_node_process_gives_dead_names():
    c = Cluster(nodes=2, processes=True, phys_bytes=8 << 20)
    try:
        me = c.local_task("client")
        victim = c.task_create(node=1)
        name = mach.mach_port_allocate(victim, PortRight.RECEIVE)
        mach.mach_port_insert_right(me, 0x3303, mach.mach_port_extract_right(
            victim, name, MsgType.MAKE_SEND), MsgType.MOVE_SEND)
        notify = mach.mach_port_allocate(me, PortRight.RECEIVE)
        mach.mach_port_request_notification(me, 0x3303, Notify.DEAD_NAME, 1, notify,
                                            MsgType.MAKE_SEND_ONCE)
        survivor = c.task_create(node=0)
        c.kill_node(1)
        n = mach.mach_msg_receive(me, notify, MsgOption.RCV_TIMEOUT, 30000)
        assert n.id == Notify.DEAD_NAME
        assert mach.mach_port_type(me, 0x3303) & PortType.DEAD_NAME
        with pytest.raises(KernError) as e:
            mach.vm_allocate(victim, 0, 4096, True)
        assert e.value.code in (K.KERN_NODE_DOWN, K.MACH_SEND_INVALID_DEST)
        assert mach.vm_allocate(survivor, 0, 4096, True)            # node 0 goes on
    finally:
        c.close()


def test_D5_3_node_processes_reach_each_other_not_only_the_client(procs):
    """A right for a port on node 0 given to a task on node 2, used from node 2 (a guest-free
    check through a message sent by node 2's kernel: a kernel call reply)."""
    me = procs.local_task("client2")
    a, b = procs.task_create(node=0), procs.task_create(node=2)
    name = mach.mach_port_allocate(a, PortRight.RECEIVE)
    send = mach.mach_port_extract_right(a, name, MsgType.MAKE_SEND)
    mach.mach_port_insert_right(b, 0x2203, send, MsgType.MOVE_SEND)     # node 2 now holds it
    # node 2 hands it back to us through a kernel call: the reply travels node 2 -> here
    back = mach.mach_port_extract_right(b, 0x2203, MsgType.COPY_SEND)
    mach.mach_port_insert_right(me, 0x2303, back, MsgType.MOVE_SEND)
    mach.mach_msg_send(me, Message(remote_port=0x2303, remote_disp=MsgType.COPY_SEND, id=5))
    rcv = mach.mach_port_extract_right(a, name, MsgType.MOVE_RECEIVE)
    mach.mach_port_insert_right(me, 0x2303, rcv, MsgType.MOVE_RECEIVE)
    assert mach.mach_msg_receive(me, 0x2303, MsgOption.RCV_TIMEOUT, 10000).id == 5


def test_normach_up_then_connect_and_a_node_joining():
    """`normach up` starts node processes and prints where to connect; a further node joins
    with `normach node --join`; a client connects and uses every node."""
    import os
    import subprocess
    import sys
    up = subprocess.Popen([sys.executable, "-m", "normach.cli.main", "up", "--nodes", "3",
                           "--local", "2"], stdout=subprocess.PIPE, text=True)
    joiner = None
    try:
        line = up.stdout.readline()
        assert line.startswith("connect: "), line
        where = line.split(" ", 1)[1].strip()
        address, secret = where.split("#")
        joiner = subprocess.Popen([sys.executable, "-m", "normach.cli.main", "node", "--index",
                                   "2", "--nodes", "3", "--join", address],
                                  stdout=subprocess.PIPE, text=True,
                                  env={**os.environ, "NORMACH_SECRET": secret})
        assert joiner.stdout.readline().startswith("{")            # it listens
        c = Cluster.connect(where)
        try:
            assert [mach.norma_node_self(c.host(n)) for n in range(3)] == [0, 1, 2]
            t = c.task_create(node=2)
            a = mach.vm_allocate(t, 0, 4096, True)
            mach.vm_write(t, a, b"joined")
            assert mach.vm_read(t, a, 6) == b"joined"
            assert c.audit() == []
        finally:
            c.close()
    finally:
        for p in (joiner, up):
            if p is not None:
                p.terminate()
                p.wait(20)


def test_guest_programs_on_node_processes_call_each_other_across_processes(procs, tmp_path):
    """A guest on node 0 does kernel calls on a task of node 2 (another process); and
    a guest's console output and exit status come back from its process."""
    import pathlib

    from normach.guest.build import compile_program
    progs = pathlib.Path(__file__).parents[1] / "guest" / "programs"
    exe = str(tmp_path / "remote_vm")
    compile_program(exe, [str(progs / "remote_vm.c")])
    other = procs.task_create(node=2)
    addr = mach.vm_allocate(other, 0, 4096, True)
    mach.vm_write(other, addr, b"far away")
    p = procs.spawn(exe, args=[str(0x5503), str(addr), "far away"], node=0, suspended=True)
    mach.mach_port_insert_right(p.task_handle, 0x5503, other, MsgType.COPY_SEND)
    procs.resume(p)
    assert procs.wait(p, timeout=60) == 0, procs.output(p) + p.reason
    assert "PASS" in procs.output(p)
    assert mach.vm_read(other, addr + 64, 17) == b"written from afar"


def test_D5_8_guest_waiting_on_a_killed_node_gets_an_answer(tmp_path):
    """A guest on node 0 waits for a reply from a server task on node 1; node 1's
    process is killed: the guest's wait ends (a send-once notification), it does not hang."""
    import pathlib

    from normach.guest.build import compile_program
    progs = pathlib.Path(__file__).parents[1] / "guest" / "programs"
    exe = str(tmp_path / "wait_reply")
    compile_program(exe, [str(progs / "wait_reply.c")])
    c = Cluster(nodes=2, processes=True, phys_bytes=8 << 20)
    try:
        server = c.task_create(node=1)
        name = mach.mach_port_allocate(server, PortRight.RECEIVE)
        send = mach.mach_port_extract_right(server, name, MsgType.MAKE_SEND)
        p = c.spawn(exe, args=[str(0x6603)], node=0, suspended=True)
        mach.mach_port_insert_right(p.task_handle, 0x6603, send, MsgType.MOVE_SEND)
        c.resume(p)
        wait_until(lambda: mach.mach_port_get_attributes(
            server, name, PortFlavor.RECEIVE_STATUS).msgcount == 1, "the request on node 1")
        c.kill_node(1)
        assert c.wait(p, timeout=60) == 0, c.output(p) + p.reason
        assert "send-once notification" in c.output(p)
    finally:
        c.close()


def test_N1_15_teleport_and_clone_between_node_processes(procs):
    """Memory shared and teleported between OS processes over tcp: a clone on node 2
    sees the parent's data and the parent sees its writes; a teleport to node 1 keeps
    every byte; `ps` (the control protocol) sees the tasks and where their pages are."""
    t = procs.task_create(node=0)
    n = 16
    a = mach.vm_allocate(t, 0, n * 4096, True)
    data = bytes(range(256)) * (n * 16)
    mach.vm_write(t, a, data)
    clone = mach.norma_task_clone(t, True, 2)
    assert mach.vm_read(clone, a, n * 4096) == data
    mach.vm_write(clone, a, b"from node 2")
    assert mach.vm_read(t, a, 11) == b"from node 2"
    child = mach.norma_task_teleport(t, True, 1)
    assert mach.norma_port_location_hint(child, child) == 1
    assert mach.vm_read(child, a, 11) == b"from node 2"
    assert mach.vm_read(child, a + 4096, (n - 1) * 4096) == data[4096:]
    rows = procs.ps()
    assert {r["node"] for r in rows} >= {1, 2}
    assert all(r["resident"] >= 0 and r["elsewhere"] >= 0 for r in rows)
    mach.task_terminate(clone)
    mach.task_terminate(child)
    assert procs.audit() == []


def test_normach_migrate_moves_a_running_task_between_node_processes(tmp_path):
    """`normach migrate NODE:ID --to N --join ...` moves a running guest task, its thread
    and its port names from one node process to another; `ps` then shows it there."""
    import subprocess
    import sys
    prog = tmp_path / "spin.c"
    prog.write_text("#include <mach.h>\nint main(void) { for (;;) swtch_pri(0); }\n")
    up = subprocess.Popen([sys.executable, "-m", "normach.cli.main", "up", "--nodes", "3"],
                          stdout=subprocess.PIPE, text=True)
    try:
        where = up.stdout.readline().split(" ", 1)[1].strip()
        c = Cluster.connect(where)
        try:
            c.spawn(str(prog), node=0)
            row, = [r for r in c.ps() if r["name"] == "spin.c"]
            out = subprocess.run([sys.executable, "-m", "normach.cli.main", "migrate",
                                  f"0:{row['id']}", "--to", "2", "--join", where],
                                 capture_output=True, text=True, timeout=120)
            assert out.returncode == 0, out.stderr
            assert "to node 2: 1 threads" in out.stdout
            assert "nothing left behind" in out.stdout
            moved, = [r for r in c.ps() if r["name"] == "spin.c"]
            assert (moved["node"], moved["threads"], moved["elsewhere"]) == (2, 1, 0)
            top = subprocess.run([sys.executable, "-m", "normach.cli.main", "top", "--join",
                                  where, "--count", "1", "--interval", "0.1"],
                                 capture_output=True, text=True, timeout=120)
            assert top.returncode == 0, top.stderr
            assert "spin.c" in top.stdout and "nodes" in top.stdout
            bad = subprocess.run([sys.executable, "-m", "normach.cli.main", "migrate",
                                  "0:999999", "--to", "1", "--join", where],
                                 capture_output=True, text=True, timeout=120)
            assert bad.returncode != 0 and "KERN_INVALID_ARGUMENT" in bad.stderr
        finally:
            c.close()
    finally:
        up.terminate()
        up.wait(20)


def test_cluster_wait_follows_a_program_migrated_between_node_processes(procs, tmp_path):
    """Cluster.migrate of a program on node processes runs at its home node, which follows
    it: Cluster.wait gives the program's own status, not the old task's 137."""
    src = tmp_path / "rounds.c"
    src.write_text('#include <mach.h>\n#include <stdio.h>\nint main(void) {\n'
                   '  for (int i = 0; i < 30; i++) { for (volatile int j = 0; j < 5000000; j++);'
                   ' printf("r%d\\n", i); }\n  return 5;\n}\n')
    p = procs.spawn(str(src), node=0)
    m = procs.migrate(p, 1)
    assert (m.source, m.node, m.threads) == (0, 1, 1) and p.node == 1
    assert procs.wait(p, timeout=120) == 5
    assert procs.output(p).split() == [f"r{i}" for i in range(30)]
