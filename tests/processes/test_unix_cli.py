"""The user's path for a Linux program on a cluster of node processes, every step a
separate `normach` process as a user's shell would run it: `normach cc --linux`,
`normach run --detach --root DIR`, `normach migrate ID --to 1`, then `--to 2` while it
runs, `normach wait ID` and `normach logs ID`.  The program's system calls keep going
to the Unix server of its first node, across node processes; it ends as it does
natively: the same status, the same output, the same file in DIR.
"""

import json
import subprocess

import pytest

from tests.processes.test_cluster_cli import cli
from tests.waiting import wait_until

# Writes a file line by line and feeds a child through a pipe for ~10 s; says "started"
# first (the test waits on it, not on the clock); exits 3, so that the status is its own.
WORKER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 100, p[2];
    if (pipe(p) != 0)
        return 10;
    pid_t child = fork();
    if (child == 0) {
        close(p[1]);
        long total = 0, v;
        while (read(p[0], &v, sizeof v) == sizeof v)
            total += v;
        printf("child sum %ld\n", total);
        return total == (long)rounds * (rounds - 1) / 2 ? 0 : 1;
    }
    close(p[0]);
    printf("started\n");
    fflush(stdout);
    FILE *f = fopen("worker.out", "w");
    if (!f)
        return 11;
    for (long i = 0; i < rounds; i++) {
        fprintf(f, "line %ld\n", i);
        fflush(f);
        if (write(p[1], &i, sizeof i) != sizeof i)
            return 12;
        if (i % 10 == 0)
            printf("round %ld\n", i), fflush(stdout);
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    close(p[1]);
    int status = -1;
    if (waitpid(child, &status, 0) != child)
        return 13;
    fclose(f);
    f = fopen("worker.out", "r");
    char line[64];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n++;
    fclose(f);
    printf("lines %d child %d\n", n, WEXITSTATUS(status));
    return 3;
}
"""
ROUNDS = 100


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    """The worker built by `normach cc --linux`, and (status, output, file) of its native run."""
    d = tmp_path_factory.mktemp("linux-worker")
    src = d / "worker.c"
    src.write_text(WORKER)
    exe = d / "worker"
    cli("cc", "--linux", "-o", str(exe), str(src), check=True)
    native_dir = d / "native"
    native_dir.mkdir()
    native = subprocess.run([str(exe), str(ROUNDS)], cwd=native_dir, capture_output=True,
                            text=True, timeout=60)
    assert native.returncode == 3 and f"lines {ROUNDS} child 0" in native.stdout, native
    return str(exe), native.stdout, (native_dir / "worker.out").read_text()


def test_U1_8_a_detached_linux_program_migrates_0_1_2_by_the_cli_and_ends_as_natively(up, worker,
                                                                                     tmp_path):
    exe, native_out, native_file = worker
    root = tmp_path / "root"
    root.mkdir()
    pid = cli("run", "--detach", "--root", str(root), exe, str(ROUNDS), check=True).stdout.strip()
    assert pid.startswith("0-"), pid
    wait_until(lambda: "started" in cli("logs", pid, check=True).stdout, what="the program to start")
    for node in (1, 2):                 # each fails if the program has ended meanwhile
        moved = cli("migrate", pid, "--to", str(node), check=True)
        assert f"moved {pid} to node {node}:" in moved.stdout
    row, = [r for r in json.loads(cli("ps", "--json", check=True).stdout) if r["program"] == pid]
    assert row["node"] == 2
    waited = cli("wait", pid)
    assert waited.returncode == 3, waited.stdout + waited.stderr
    assert cli("logs", pid, check=True).stdout == native_out
    assert (root / "worker.out").read_text() == native_file == "".join(
        f"line {i}\n" for i in range(ROUNDS))


def test_U1_8_run_root_on_node_processes_streams_a_linux_programs_output_and_status(up, worker,
                                                                                 tmp_path):
    """Unmoved, on node 1 (its Unix server in the node process of node 1): `normach run`
    prints what the program prints natively and exits with its status."""
    exe, native_out, native_file = worker
    out = cli("run", "--node", "1", "--root", str(tmp_path), exe, str(ROUNDS))
    assert (out.returncode, out.stdout) == (3, native_out), out.stderr
    assert (tmp_path / "worker.out").read_text() == native_file
