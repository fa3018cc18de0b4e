"""NORMA node calls (spec §1.2, §1.3, §1.7, §1.8).

Each node has a fixed index (`norma_node_self`); a task's `child_node`
attribute redirects its task_create to another node (N1.5-N1.8); every node
keeps a table of special ports that any node can ask for by (node, id)
(`norma_get/set_special_port`): kernel ids 1-9 name the node's own device,
host and host_priv ports, user ids 10-39 are registered by servers (11 is the
name server).  The table holds no reference: a registered port that dies
vanishes from it.  These routines answer for the node the target object lives
on; asking about another node goes through DIPC.
"""

from __future__ import annotations

from ..errors import KernError, KernReturn
from ..kern.host import host_special_port
from ..mach_types import MAX_SPECIAL_ID, MAX_SPECIAL_KERNEL_ID

K = KernReturn


def node_valid(kernel, node) -> bool:
    """N1.2/N1.3: 0 <= node < NNODES (validity says nothing about liveness)."""
    return isinstance(node, int) and not isinstance(node, bool) and 0 <= node < kernel.nnodes


def norma_node_self(host) -> int:
    """N1.1: the node of the host port given."""
    return host.kernel.node


def task_set_child_node(task, child_node) -> None:
    """N1.6: set where task_create places children.  KERN_INVALID_ARGUMENT for a bad node."""
    if not task.active or not node_valid(task.kernel, child_node):
        raise KernError(K.KERN_INVALID_ARGUMENT, f"child node {child_node!r}")
    task.child_node = child_node


def _check_which(which, low: int, code) -> int:
    if not isinstance(which, int) or isinstance(which, bool) or not low <= which < MAX_SPECIAL_ID:
        raise KernError(code, f"special port id {which!r}")
    return which


def norma_get_special_port(host_priv, node, which):
    """N1.25-N1.27: a new send right for special port `which` of `node` (None if empty).

    Raises: KERN_INVALID_HOST (not host_priv: the caller converts), KERN_INVALID_ARGUMENT
    (bad id or node), KERN_NODE_DOWN (a remote node that does not answer).
    """
    kernel = host_priv.kernel
    _check_which(which, 0, K.KERN_INVALID_ARGUMENT)
    if not node_valid(kernel, node):
        raise KernError(K.KERN_INVALID_ARGUMENT, f"node {node!r}")
    if node != kernel.node:
        if kernel.remote is None:
            raise KernError(K.KERN_NODE_DOWN, f"node {node} is not reachable")
        return kernel.remote.get_special_port(node, which)
    return host_special_port(kernel, which)


def norma_set_special_port(host_priv, which, port) -> None:
    """N1.28: register `port` (a send right, consumed: the table keeps no reference) as
    user special port `which` of this node; None clears the slot.

    Raises: KERN_INVALID_VALUE (id outside 10..39), KERN_INVALID_RIGHT (already
    registered under another id), KERN_INVALID_ARGUMENT (dead port).
    """
    from ..ipc.port import IP_DEAD, ipc_port_release_send, port_valid
    kernel = host_priv.kernel
    try:
        _check_which(which, MAX_SPECIAL_KERNEL_ID, K.KERN_INVALID_VALUE)
        if port is IP_DEAD or (port_valid(port) and not port.active):
            raise KernError(K.KERN_INVALID_ARGUMENT, "dead port")
        for other, p in kernel.special_ports.items():
            if p is port and other != which and p.active:
                raise KernError(K.KERN_INVALID_RIGHT, f"already special port {other}")
        if port is None:
            kernel.special_ports.pop(which, None)
        else:
            kernel.special_ports[which] = port
    finally:
        if port_valid(port):
            ipc_port_release_send(port)


def norma_port_location_hint(task, port) -> int:
    """N1.30-N1.31: the node where `port`'s receive right is believed to be.

    Raises: KERN_INVALID_ARGUMENT for a dead or null port.
    """
    from ..ipc.port import ipc_port_release_send, port_valid
    try:
        if not port_valid(port) or not port.active:
            raise KernError(K.KERN_INVALID_ARGUMENT, "dead or null port")
        return port.location_hint() if hasattr(port, "location_hint") else port.kernel.node
    finally:
        if port_valid(port):
            ipc_port_release_send(port)
