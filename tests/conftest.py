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


def pytest_unconfigure(config):
    import shutil
    shutil.rmtree(_RUNTIME, ignore_errors=True)
