"""Cluster: a set of node kernels seen as one system.

`Cluster(nodes=N)` builds N node kernels in this process (the embedded form).
Later forms run nodes as processes or on other machines; the interface stays
the same.  The cluster is the Python caller's entry point: it creates fresh
tasks, hands out host ports, and checks the kernels' invariants (`audit`).
"""

from __future__ import annotations

from . import param
from .handles import Host, Task
from .kern.errors import KernError, KernReturn
from .kern.kernel import Kernel


class Cluster:
    """N node kernels.  Use as a context manager; `close()` terminates every task."""

    def __init__(self, nodes: int = 1, processes: bool = False,
                 phys_bytes: int = param.PHYS_MEM_BYTES):
        if processes:
            raise KernError(KernReturn.KERN_FAILURE, "node processes are not available yet")
        if not isinstance(nodes, int) or nodes < 1:
            raise KernError(KernReturn.KERN_INVALID_ARGUMENT, "a cluster needs at least one node")
        self.kernels = [Kernel(i, nodes, phys_bytes) for i in range(nodes)]
        self.closed = False

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def kernel(self, node: int) -> Kernel:
        if not isinstance(node, int) or not 0 <= node < len(self.kernels):
            raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"no node {node}")
        return self.kernels[node]

    def task_create(self, node: int = 0, name: str = "") -> Task:
        """A fresh task on `node`: empty address space, no threads, default limits."""
        from .ipc.port import ipc_port_make_send
        from .kern.task import task_create
        k = self.kernel(node)
        with k.lock:
            t = task_create(None, False, kernel=k, name=name)
            return Task(ipc_port_make_send(t.itk_self))

    def host(self, node: int = 0) -> Host:
        from .ipc.port import ipc_port_make_send
        k = self.kernel(node)
        with k.lock:
            return Host(ipc_port_make_send(k.host.port))

    def host_priv(self, node: int = 0) -> Host:
        from .ipc.port import ipc_port_make_send
        k = self.kernel(node)
        with k.lock:
            return Host(ipc_port_make_send(k.host_priv.port))

    def tasks(self, node: int | None = None) -> list:
        """The live kernel Task objects (for `normach ps` and tests)."""
        ks = self.kernels if node is None else [self.kernel(node)]
        return [t for k in ks for t in sorted(k.tasks, key=lambda t: t.id)]

    def audit(self) -> list[str]:
        """Check every kernel's invariants; returns the violations (empty: all hold)."""
        from .kern.audit import audit_kernel
        return [f"node {k.node}: {e}" for k in self.kernels for e in audit_kernel(k)]

    def close(self) -> None:
        """Terminate every task on every node."""
        from .kern.task import task_terminate
        if self.closed:
            return
        self.closed = True
        for k in self.kernels:
            with k.lock:
                for t in sorted(k.tasks, key=lambda t: t.id):
                    if t.active:
                        task_terminate(t)

    def __repr__(self) -> str:
        return f"<Cluster {len(self.kernels)} nodes, {sum(len(k.tasks) for k in self.kernels)} tasks>"
