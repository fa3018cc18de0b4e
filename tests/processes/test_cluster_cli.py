"""A cluster people can run, from the shell: `normach up` on one address, a node
joining from another (loopback addresses 127.0.0.2 and .3 stand in for two
machines), programs run, followed, moved and stopped by separate CLI processes,
clients that come and go, a node that dies and comes back.

Every command here is a separate process, as a user's would be; the cluster is
found through the cluster file `up` writes (tests/conftest.py gives the run a
runtime folder of its own).
"""

import json
import os
import signal
import subprocess
import sys

import pytest

from normach import Cluster

from waiting import wait_until

COUNT = r"""
#include <mach.h>
#include <stdio.h>
int main(int argc, char **argv) {
    int n = 0;
    for (char *s = argv[1]; *s; s++) n = n * 10 + (*s - '0');
    unsigned long sum = 0;
    for (int i = 0; i < n; i++) {
        for (volatile int j = 0; j < 5000000; j++) sum += j & 7;
        printf("round %d\n", i);
    }
    printf("sum %lu\n", sum);
    return 7;
}
"""


def cli(*args, env=None, timeout=180, check=False):
    out = subprocess.run([sys.executable, "-m", "normach.cli.main", *args], capture_output=True,
                         text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def start_node(index, listen, join, secret, env=None):
    """`normach node` as a user on another machine would start it (secret in the env)."""
    env = {**(env or os.environ), "NORMACH_SECRET": secret}
    p = subprocess.Popen([sys.executable, "-m", "normach.cli.main", "node", "--index", str(index),
                          "--listen", listen, "--join", join], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    line = p.stdout.readline()
    assert line.startswith("{"), p.stderr.read()
    return p, json.loads(line)


class Up:
    """`normach up --nodes 3 --local 2 --listen 127.0.0.2`, and node 2 from 127.0.0.3."""

    def __init__(self):
        self.up = subprocess.Popen([sys.executable, "-m", "normach.cli.main", "up", "--nodes", "3",
                                    "--local", "2", "--listen", "127.0.0.2"],
                                   stdout=subprocess.PIPE, text=True)
        line = self.up.stdout.readline()
        assert line.startswith("connect: "), line
        self.spec = line.split(" ", 1)[1].strip()
        self.address, self.secret = self.spec.split("#")
        self.node2, self.hello2 = start_node(2, "127.0.0.3", self.address, self.secret)

    def stop(self):
        for p in (self.node2, self.up):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in (self.node2, self.up):
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.fixture(scope="module")
def count_prog(tmp_path_factory):
    d = tmp_path_factory.mktemp("prog")
    src = d / "count.c"
    src.write_text(COUNT)
    exe = d / "count"
    cli("cc", "-o", str(exe), str(src), check=True)
    return str(exe)


def status(up=None):
    out = cli("status", "--json", check=True)
    return {r["node"]: r for r in json.loads(out.stdout)}


def test_nodes_listen_where_told_and_advertise_it(up):
    """Nodes 0-1 on 127.0.0.2, node 2 on 127.0.0.3: each tells its peers that address."""
    nodes = status()
    assert [nodes[n]["state"] for n in range(3)] == ["up"] * 3
    assert nodes[0]["address"].startswith("tcp://127.0.0.2:")
    assert nodes[1]["address"].startswith("tcp://127.0.0.2:")
    assert nodes[2]["address"] == up.hello2["address"]
    assert nodes[2]["address"].startswith("tcp://127.0.0.3:")
    assert all(nodes[n]["members"] == [0, 1, 2] for n in range(3))


def test_run_detach_then_migrate_logs_and_wait_follow_the_program(up, count_prog):
    """The acceptance scenario: started with `run --detach` on node 2, moved to node 0 by
    `normach migrate` (which exits at once), followed by `logs` and `wait` by its id."""
    started = cli("run", "--detach", "--node", "2", count_prog, "60", check=True)
    pid = started.stdout.strip()
    assert pid.startswith("2-"), started.stdout
    rows = json.loads(cli("ps", "--json", check=True).stdout)
    mine = [r for r in rows if r["program"] == pid]
    assert mine and mine[0]["node"] == 2
    moved = cli("migrate", pid, "--to", "0", check=True)
    assert f"moved {pid} to node 0: 1 threads" in moved.stdout
    waited = cli("wait", pid)
    assert waited.returncode == 7, waited.stderr
    logs = cli("logs", pid, check=True).stdout.splitlines()
    assert logs[:3] == ["round 0", "round 1", "round 2"]
    assert logs[-2] == "round 59" and logs[-1].startswith("sum ")
    assert logs == [f"round {i}" for i in range(60)] + [logs[-1]]   # nothing lost, nothing twice


def test_the_moved_program_outlives_a_killed_migrating_client(up, count_prog):
    """Issue 17: a program started by one client (this process), found by `normach ps`
    from another, moved 0 -> 1 -> 2 by two `normach migrate` processes, the second
    killed as soon as it reports: the migrations ran on the nodes, so the program
    finishes with the unmoved result, and its first client's wait has its status."""
    ref = cli("run", "--node", "0", count_prog, "60")
    assert ref.returncode == 7, ref.stderr
    c = Cluster.connect(up.spec)
    try:
        p = c.spawn(count_prog, args=["60"], node=0)
        rows = json.loads(cli("ps", "--json", check=True).stdout)
        pid, = [r["program"] for r in rows if r["port"] == list(p.task_handle.port.proxy[0])]
        cli("migrate", pid, "--to", "1", "--no-wait", check=True)
        m = subprocess.Popen([sys.executable, "-m", "normach.cli.main", "migrate", pid,
                              "--to", "2"], stdout=subprocess.PIPE, text=True)
        assert m.stdout.readline().startswith(f"moved {pid} to node 2")
        m.kill()
        m.wait()
        m.stdout.close()
        assert c.wait(p, timeout=120) == 7
        assert c.output(p) == ref.stdout
    finally:
        c.close()
    assert cli("logs", pid, check=True).stdout == ref.stdout


def test_mach_task_migrate_from_a_client_runs_on_the_tasks_node(up, count_prog):
    """mach.task_migrate from a Python client goes to the task's node (here node 1, not
    the program's home 0), which keeps where the task went: the home follows it there,
    though the client that asked is gone."""
    c = Cluster.connect(up.spec)
    try:
        p = c.spawn(count_prog, args=["60"], node=0)
        c.migrate(p, 1)                                      # by the home: now on node 1
        row, = [r for r in c.ps() if r["program"] == f"0-{p.remote_id}"]
        assert row["node"] == 1
        code = ("import sys; from normach import Cluster, mach; c = Cluster.connect(sys.argv[1]); "
                "m = mach.task_migrate(c.task(1, int(sys.argv[2])), 2); print(m.node, flush=True)")
        mover = subprocess.run([sys.executable, "-c", code, up.spec, str(row["id"])],
                               capture_output=True, text=True, timeout=120)
        assert mover.stdout.strip() == "2", mover.stderr
        assert c.wait(p, timeout=120) == 7
        assert c.output(p).splitlines()[-2] == "round 59"
        assert [r for r in c.ps() if r["program"] == f"0-{p.remote_id}"] == []   # ended
    finally:
        c.close()


def test_run_streams_the_console_and_exits_with_the_status(up, count_prog):
    out = cli("run", "--node", "1", count_prog, "3")
    assert out.returncode == 7
    assert out.stdout.splitlines()[:3] == ["round 0", "round 1", "round 2"]


def test_kill_stops_a_program_wherever_it_moved(up, tmp_path):
    src = tmp_path / "spin.c"
    src.write_text("#include <mach.h>\nint main(void) { for (;;) swtch_pri(0); }\n")
    pid = cli("run", "--detach", "--node", "1", str(src), check=True).stdout.strip()
    cli("migrate", pid, "--to", "2", "--no-wait", check=True)
    cli("kill", pid, check=True)
    assert cli("wait", pid).returncode == 137
    assert cli("kill", "1-999").returncode == 127


def test_run_timeout_kills_the_program(up, tmp_path):
    src = tmp_path / "spin.c"
    src.write_text("#include <mach.h>\nint main(void) { for (;;) swtch_pri(0); }\n")
    out = cli("run", "--timeout", "1", str(src))
    assert out.returncode == 124 and "killed" in out.stderr


def test_clients_are_not_members_and_leave(up):
    """A client (CLI command, Cluster.connect) leaves on exit: no node keeps it."""
    for _ in range(5):
        cli("ps", check=True)
    c = Cluster.connect(up.spec)
    try:
        wait_until(lambda: all(c.node_stats(n)["clients"] == 1 for n in range(3)),
                          "only this client left on every node")
        assert all(c.node_stats(n)["members"] == [0, 1, 2] for n in range(3))
    finally:
        c.close()


def test_a_client_that_dies_is_forgotten(up):
    """A client killed without leaving is forgotten once silent for CLIENT_LEASE_S."""
    code = ("import sys; from normach import Cluster; c = Cluster.connect(sys.argv[1]); "
            "print('in', flush=True); sys.stdin.read()")
    p = subprocess.Popen([sys.executable, "-c", code, up.spec], stdout=subprocess.PIPE,
                         stdin=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "in\n"
    c = Cluster.connect(up.spec)
    try:
        assert all(c.node_stats(n)["clients"] == 2 for n in range(3))
        p.kill()
        p.wait()
        wait_until(lambda: all(c.node_stats(n)["clients"] == 1 for n in range(3)),
                          "the killed client forgotten", timeout=30)
    finally:
        c.close()
        p.stdin.close()
        p.stdout.close()


def test_a_wrong_secret_is_authentication_failed_not_node_down(up):
    out = cli("ps", "--cluster", f"{up.address}#{'00' * 32}", timeout=60)
    assert out.returncode == 125
    assert out.stderr.count("\n") == 1 and "authentication failed" in out.stderr


def test_no_command_line_holds_the_secret(up):
    """Node processes get the secret in their environment: /proc/PID/cmdline is
    readable by every local user."""
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    assert up.secret.encode() not in f.read(), pid
            except OSError:
                pass


def test_the_cluster_file_is_the_users_alone(up):
    from normach.cli.where import cluster_file
    path = cluster_file()
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert json.loads(path.read_text())["address"] == up.address


def test_zz_a_killed_node_rejoins_with_a_new_incarnation(up, count_prog):
    """kill -9 of node 2, then `normach node --index 2 ...` again: status shows it up
    with a new incarnation, and a program runs there.  (Last: it replaces node 2.)"""
    before = status()[2]["incarnation"]
    up.node2.kill()
    up.node2.wait()
    up.node2, up.hello2 = start_node(2, "127.0.0.3", up.address, up.secret)
    wait_until(lambda: status()[2]["state"] == "up", "node 2 up again")
    after = status()[2]
    assert after["incarnation"] != before and after["address"] == up.hello2["address"]
    out = cli("run", "--node", "2", count_prog, "2")
    assert out.returncode == 7 and out.stdout.startswith("round 0\nround 1\n")
    # and the nodes reach each other through it: a program migrates 2 -> 1
    pid = cli("run", "--detach", "--node", "2", count_prog, "20", check=True).stdout.strip()
    cli("migrate", pid, "--to", "1", "--no-wait", check=True)
    assert cli("wait", pid).returncode == 7


CLUSTER_MISTAKES = [
    # (arguments, environment additions, exit code, what the one line says)
    (["node", "--index", "7", "--join", "{address}"], {}, 125, "the cluster has 3 nodes"),
    (["node", "--index", "1", "--join", "{address}"], {}, 125, "up already"),
    (["node", "--index", "1", "--join", "{address}"], {"NORMACH_SECRET": "00" * 32}, 125,
     "authentication failed"),
    (["node", "--index", "1", "--nodes", "5", "--join", "{address}"], {}, 125, "has 3 nodes"),
    (["logs", "0-999"], {}, 127, "no program 0-999"),
    (["logs", "9-0"], {}, 127, "no node 9"),
    (["wait", "xyz"], {}, 125, "not a program id"),
    (["kill", "0-x"], {}, 125, "not a program id"),
    (["migrate", "0:x", "--to", "1"], {}, 125, "NODE:ID"),
    (["migrate", "0:999999", "--to", "1"], {}, 125, "no task 999999 on node 0"),
    (["migrate", "0-999", "--to", "9"], {}, 125, "--to 9"),
    (["run", "--node", "5", "/bin/true"], {}, 126, "cannot run here"),
    (["ps", "--cluster", "tcp://127.0.0.2:1#" + "00" * 32], {}, 125, "no cluster answers"),
]


@pytest.mark.parametrize("args,env,code,says", CLUSTER_MISTAKES,
                         ids=[" ".join(m[0]) for m in CLUSTER_MISTAKES])
def test_a_mistake_about_the_cluster_is_one_line_and_its_code(up, args, env, code, says):
    env = {**os.environ, "NORMACH_SECRET": up.secret, **env}
    out = cli(*[a.format(address=up.address) for a in args], env=env)
    assert out.returncode == code, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert says in lines[0], lines[0]


MOVER = ("import sys; from normach import Cluster, mach; c = Cluster.connect(sys.argv[1]); "
         "rows = [r for r in c.ps() if r['program'] == sys.argv[2]]; "
         "m = mach.task_migrate(c.task(rows[0]['node'], rows[0]['id']), int(sys.argv[3])); "
         "print(m.node, flush=True)")


def move_by_another_client(up, pid, to):
    """mach.task_migrate from a separate Python client, which exits at once."""
    out = subprocess.run([sys.executable, "-c", MOVER, up.spec, pid, str(to)],
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == str(to), out.stderr


def test_the_home_follows_moves_run_elsewhere_and_back_home(up, count_prog):
    """Moved at its home (0 -> 1 by task handle, 1 -> 2 as a program), then by other
    clients' mach.task_migrate, run by the task's node (2 -> 1 by node 2, 1 -> 0 by
    node 1): the home follows the chain back to itself; ps, status, wait keep working."""
    c = Cluster.connect(up.spec)
    try:
        p = c.spawn(count_prog, args=["60"], node=0)
        pid = f"0-{p.remote_id}"
        move_by_another_client(up, pid, 1)              # at its home, by task handle
        c.migrate(p, 2)
        move_by_another_client(up, pid, 1)
        move_by_another_client(up, pid, 0)
        row, = [r for r in c.ps() if r["program"] == pid]
        assert row["node"] == 0
        assert all(n["state"] == "up" for n in status().values())
        assert c.wait(p, timeout=120) == 7
        assert c.output(p).splitlines()[:-1] == [f"round {i}" for i in range(60)]
    finally:
        c.close()


def test_long_waits_do_not_starve_the_nodes_requests(up, tmp_path):
    """Many clients waiting on programs at once: the nodes still serve each other's DIPC
    requests (a control wait holds a handler thread for CTL_WAIT_S at most)."""
    import threading
    from normach import mach
    src = tmp_path / "spin.c"
    src.write_text("#include <mach.h>\nint main(void) { for (;;) swtch_pri(0); }\n")
    c = Cluster.connect(up.spec)
    try:
        p = c.spawn(str(src), node=1)
        waiters = [threading.Thread(target=lambda: _quiet_wait(up, p)) for _ in range(12)]
        for w in waiters:
            w.start()
        for _ in range(20):                              # node 0 asks node 1 for tasks
            t = c.task_create(node=1)
            child = mach.norma_task_create(c.task_create(node=0), False, 1)
            mach.task_terminate(child)
            mach.task_terminate(t)
        for w in waiters:
            w.join()
        assert all(n["state"] == "up" for n in status().values())
        c.kill(p)
        assert c.wait(p, timeout=60) == 137
    finally:
        c.close()


def _quiet_wait(up, p):
    from normach import KernError
    from normach.dipc.control import ctl_wait
    c = Cluster.connect(up.spec)
    try:
        for _ in range(3):
            try:
                c._control(p.home, ctl_wait(program=p.remote_id, timeout_ms=60_000), 90)
            except KernError:
                pass
    finally:
        c.close()


def test_output_larger_than_a_message_comes_whole(up, tmp_path):
    """A program that prints 3 MiB: Cluster.wait and output bring all of it (in chunks)."""
    src = tmp_path / "chatty.c"
    src.write_text('#include <mach.h>\n#include <stdio.h>\nint main(void) {\n'
                   '  for (int i = 0; i < 3 * 1024; i++) printf("%01023d\\n", i);\n'
                   '  return 0;\n}\n')
    c = Cluster.connect(up.spec)
    try:
        p = c.spawn(str(src), node=2)
        assert c.wait(p, timeout=300) == 0
        lines = c.output(p).splitlines()
        assert lines == ["%01023d" % i for i in range(3 * 1024)]
    finally:
        c.close()


def test_a_client_that_leaves_gives_back_its_rights_no_senders_comes(up):
    """A client that holds a send right (a Python handle it never deallocated) and
    closes: the port's node counts the right given back, so the port's no-senders
    notification comes, as when a send right is deallocated (D5.10)."""
    from normach import MsgOption, MsgType, Notify, PortRight, mach
    owner = Cluster.connect(up.spec)
    try:
        me = owner.local_task("watcher")
        server = owner.task_create(node=1, name="ns-server")
        name = mach.mach_port_allocate(server, PortRight.RECEIVE)
        notify = mach.mach_port_allocate(server, PortRight.RECEIVE)
        rcv = mach.mach_port_extract_right(server, notify, MsgType.MOVE_RECEIVE)
        mach.mach_port_insert_right(me, 0x4404, rcv, MsgType.MOVE_RECEIVE)
        other = Cluster.connect(up.spec)
        row, = [r for r in other.ps() if r["name"] == "ns-server"]
        held = mach.mach_port_extract_right(other.task(1, row["id"]), name, MsgType.MAKE_SEND)
        assert held is not None                       # a proxy in the other client
        notify_there = mach.mach_port_extract_right(me, 0x4404, MsgType.MAKE_SEND_ONCE)
        mach.mach_port_request_notification(server, name, Notify.NO_SENDERS, 1, notify_there,
                                            MsgType.MOVE_SEND_ONCE)
        other.close()                                 # `held` never deallocated
        got = mach.mach_msg_receive(me, 0x4404, MsgOption.RCV_TIMEOUT, 30_000)
        assert got.id == Notify.NO_SENDERS
    finally:
        owner.close()


def test_ctrl_c_stops_the_command_and_its_program(up, tmp_path):
    """Ctrl-C in `normach run` on a cluster: exit 130, and the program is killed."""
    src = tmp_path / "ready.c"
    src.write_text('#include <mach.h>\n#include <stdio.h>\n'
                   'int main(void) { printf("ready\\n"); for (;;) swtch_pri(0); }\n')
    p = subprocess.Popen([sys.executable, "-m", "normach.cli.main", "run", "--node", "2",
                          str(src)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "ready\n"
    p.send_signal(signal.SIGINT)
    assert p.wait(60) == 130
    assert "interrupted" in p.stderr.read()
    p.stdout.close()
    p.stderr.close()
    wait_until(lambda: not [r for r in json.loads(cli("ps", "--json", check=True).stdout)
                            if r["name"] == "ready.c"], "the program killed")
