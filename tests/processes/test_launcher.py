"""Nodes from an existing launcher: `mpirun -n 3 normach node --from-launcher` forms a
3-node cluster (normach/launcher.py), on which a program migrates 0 -> 1 -> 2."""

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from .test_cluster_cli import COUNT, cli

from waiting import wait_until

MPIRUN = shutil.which("mpirun")
pytestmark = pytest.mark.skipif(MPIRUN is None, reason="no mpirun on this machine "
                                "(apt-get install openmpi-bin; .ci/run does)")


def test_mpirun_ranks_become_nodes_and_a_program_migrates_across_them(tmp_path):
    pytest.importorskip("mpi4py", reason="the mpi extra (pip install 'normach[mpi]')")
    env = {**os.environ, "NORMACH_CLUSTER_FILE": str(tmp_path / "run" / "cluster.json"),
           "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_rmaps_base_oversubscribe": "1"}   # 3 ranks on a 2-core machine
    src = tmp_path / "count.c"
    src.write_text(COUNT)
    log = open(tmp_path / "mpirun.log", "w")
    job = subprocess.Popen([MPIRUN, "-n", "3", sys.executable, "-m", "normach.cli.main", "node",
                            "--from-launcher"], env=env, stdout=log, stderr=subprocess.STDOUT,
                           start_new_session=True)
    try:
        wait_until(lambda: os.path.exists(env["NORMACH_CLUSTER_FILE"]) or job.poll() is not None,
                   "the cluster file")
        assert job.poll() is None, (tmp_path / "mpirun.log").read_text()
        nodes = json.loads(cli("status", "--json", env=env, check=True).stdout)
        assert [(n["node"], n["state"], n["members"]) for n in nodes] == \
            [(i, "up", [0, 1, 2]) for i in range(3)]
        pid = cli("run", "--detach", "--node", "0", str(src), "60", env=env,
                  check=True).stdout.strip()
        for to in (1, 2):
            assert f"to node {to}" in cli("migrate", pid, "--to", str(to), "--no-wait",
                                          env=env, check=True).stdout
        assert cli("wait", pid, env=env).returncode == 7
        out = cli("logs", pid, env=env, check=True).stdout.splitlines()
        assert out[:-1] == [f"round {i}" for i in range(60)] and out[-1].startswith("sum ")
    finally:
        os.killpg(job.pid, signal.SIGTERM)
        try:
            job.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()
        log.close()
