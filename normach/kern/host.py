"""The host objects of a node: host (anyone may ask) and host_priv (privileged).

Both name the node they live on; norma_node_self and norma_get_special_port
answer for the node of the host port they are given.
"""

from __future__ import annotations


class Host:
    """Fields fixed after init: kernel, privileged, port."""

    def __init__(self, kernel, privileged: bool):
        self.kernel = kernel
        self.privileged = privileged
        self.port = None

    def init_port(self) -> None:
        from ..ipc.port import ipc_kobject_alloc
        self.port = ipc_kobject_alloc(self.kernel, self, "host_priv" if self.privileged else "host")

    @property
    def node(self) -> int:
        return self.kernel.node

    def __repr__(self) -> str:
        return f"<Host{'Priv' if self.privileged else ''} node={self.node}>"


CPU_TYPE_X86_64 = 0x01000007      # CPU_TYPE_I386 | CPU_ARCH_ABI64, as Mach numbers it
CPU_SUBTYPE_X86_64_ALL = 3


def host_info(host: Host, flavor) -> dict:
    """HOST_BASIC_INFO (a node is one CPU; its memory is the node's limit),
    HOST_SCHED_INFO (the 10 ms time slice), HOST_PRIORITY_INFO (fixed: normach
    schedules first-come first-served and keeps no priorities).
    Raises: KERN_INVALID_ARGUMENT (another flavor)."""
    from .. import param
    from ..mach_types import HostInfoFlavor as F
    from ..errors import KernError, KernReturn
    from .records import HOST_BASIC_INFO, HOST_PRIORITY_INFO, HOST_SCHED_INFO, record
    if flavor == F.HOST_BASIC_INFO:
        return record(HOST_BASIC_INFO, 1, 1, host.kernel.memory.limit, CPU_TYPE_X86_64,
                      CPU_SUBTYPE_X86_64_ALL)
    if flavor == F.HOST_SCHED_INFO:
        return record(HOST_SCHED_INFO, param.CPU_TIME_SLICE_MS, param.CPU_TIME_SLICE_MS)
    if flavor == F.HOST_PRIORITY_INFO:
        return record(HOST_PRIORITY_INFO, 0, 0, 0, 0, 31, 31, 0, 31)
    raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"host_info flavor {flavor}")


def host_kernel_version(host: Host) -> bytes:
    """The kernel's version string (NUL-terminated, as kernel_version_t)."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        v = version("normach")
    except PackageNotFoundError:
        v = "unknown"
    return f"normach {v}: NORMA-style Mach in Python, node {host.kernel.node}\0".encode()


def host_special_port(kernel, which: int):
    """A new send right for this node's special port `which` (a valid id), or None:
    the host and host_priv ports for their kernel ids, what a server registered for
    a user id (norma/node.py keeps the table).  Conditions: kernel lock held."""
    from ..ipc.port import ipc_port_copy_send, ipc_port_make_send
    from ..mach_types import MAX_SPECIAL_KERNEL_ID, NORMA_HOST_PORT, NORMA_HOST_PRIV_PORT
    if which == NORMA_HOST_PORT:
        return ipc_port_make_send(kernel.host.port)
    if which == NORMA_HOST_PRIV_PORT:
        return ipc_port_make_send(kernel.host_priv.port)
    if which < MAX_SPECIAL_KERNEL_ID:
        return None                                  # no device port (or unused kernel id)
    port = kernel.special_ports.get(which)
    if port is not None and not port.active:         # died: the slot empties itself
        del kernel.special_ports[which]
        port = None
    return None if port is None else ipc_port_copy_send(port)
