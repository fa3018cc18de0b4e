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
