"""Bringing a node up: the one ordered list every node follows (as xv6's main.c).

The embedded cluster, a node process, a cluster client and the tests all make
their nodes here, in this order:

1. the kernel core (kern/kernel.py): the lock, the frame pool and the default
   pager, the host and host_priv ports, the clocks — a node that can hold tasks;
2. the machine (machine/machine.py): the CPUs that run the node's threads;
3. the NORMA layer's routines, plugged into the routine table by importing
   `normach` (norma/routines.py: norma_task_*, the special ports, and task_create
   to a child node), and the migration manager (servers/migration.py), which
   `mach.task_migrate` reaches as a client;
4. with a transport: DIPC (ports across nodes, dipc/node.py) and XMM (memory
   across nodes, xmm/node.py) on the node's endpoint, and the heartbeat.

The core never imports the layers above it; this module is where they meet.
"""

from __future__ import annotations

from . import param


def node_kernel(node: int = 0, nnodes: int = 1, phys_bytes: int = param.PHYS_MEM_BYTES,
                memory_limit: int | None = None):
    """Steps 1-3: a node's kernel with its machine.  Returns: the Kernel."""
    from .kern.kernel import Kernel
    from .machine.machine import Machine
    from .servers.migration import task_migrate
    kernel = Kernel(node, nnodes, phys_bytes, memory_limit)
    kernel.machine = Machine(kernel)
    kernel.migration_server = task_migrate
    return kernel


def connect(kernel, net, peers) -> None:
    """Step 4: DIPC and XMM for `kernel` on its transport `net` (dipc/net.py DipcNet),
    whose members are `peers` (node numbers; the heartbeat pings them)."""
    from .dipc.node import Dipc
    from .xmm.node import Xmm
    net.attach(Dipc(kernel, net), Xmm(kernel, net), peers)
