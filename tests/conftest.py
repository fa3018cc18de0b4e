"""Shared fixtures: a cluster per test, audited when the test ends."""

import os
import tempfile

import pytest

from normach import Cluster

# The cluster file of `normach up` (cli/where.py) goes to a folder of this test run's
# own: no test finds the cluster of a developer's `normach up`, or leaves its file.
_RUNTIME = tempfile.mkdtemp(prefix="normach-test-run-")
os.environ["XDG_RUNTIME_DIR"] = _RUNTIME
os.environ.pop("NORMACH_CLUSTER", None)
os.environ.pop("NORMACH_CLUSTER_FILE", None)


@pytest.fixture
def cluster():
    """A one-node embedded cluster; every kernel invariant is audited after the test."""
    c = Cluster(nodes=1, phys_bytes=16 << 20)
    yield c
    problems = c.audit()
    c.close()
    problems += c.audit()
    assert problems == [], "\n".join(problems)


@pytest.fixture
def c3():
    """A three-node embedded cluster, audited (every node, and XMM across them) at the end."""
    c = Cluster(nodes=3, phys_bytes=16 << 20)
    yield c
    problems = c.audit()
    c.close()
    assert problems == [], "\n".join(problems)


@pytest.fixture
def task(cluster):
    """A fresh task on node 0."""
    return cluster.task_create(node=0)


TASK_NAME = 0x5003          # where `caller` holds its send right to `task`'s kernel port


@pytest.fixture
def caller(cluster, task):
    """A task holding a send right to `task`'s kernel port (under TASK_NAME) and a
    reply port: (caller task, reply port name)."""
    from normach import MsgType, PortRight, mach
    c = cluster.task_create(node=0, name="caller")
    mach.mach_port_insert_right(c, TASK_NAME, task, MsgType.COPY_SEND)
    reply = mach.mach_port_allocate(c, PortRight.RECEIVE)
    return c, reply


def pytest_unconfigure(config):
    import shutil
    shutil.rmtree(_RUNTIME, ignore_errors=True)
