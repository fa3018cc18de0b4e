"""IPC test fixtures: a real node kernel and real tasks, audited after every test.

`k` is a Kernel whose lock the test body holds (IPC internals require it);
threaded tests use `kernel` instead and take the lock themselves.
"""

import pytest

from normach.ipc.audit import audit_ipc
from normach import boot
from normach.kern.task import task_create


@pytest.fixture
def kernel():
    k = boot.node_kernel(phys_bytes=4 << 20)
    yield k
    with k.lock:
        problems = audit_ipc(k)
    assert problems == [], "\n".join(problems)


@pytest.fixture
def k(kernel):
    """The kernel, with its lock held for the whole test body."""
    with kernel.lock:
        yield kernel


@pytest.fixture
def new_task(kernel):
    """Factory: a fresh task (call with the lock held)."""
    def make(name=""):
        return task_create(None, False, kernel=kernel, name=name)
    return make
