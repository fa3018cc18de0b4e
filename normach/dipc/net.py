"""DIPC over the transport: one endpoint per node, messages one-way and in order.

Messages from one node to another travel over one connection, so they arrive
in the order sent (D5.5).  A send to a node that is down, or a node declared
down by the transport, kills this node's proxies for that node's ports (D5.8).
"""

from __future__ import annotations

from ..kern.errors import KernError, KernReturn
from . import messages as m


class DipcNet:
    """Glue between a node's Dipc and its transport Endpoint."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.dipc = None

    def attach(self, dipc) -> None:
        self.dipc = dipc
        self.endpoint.on_peer_down(dipc.node_down)

    def send_message(self, node: int, fields: dict, raws: list) -> None:
        """Raises KernError(KERN_NODE_DOWN) if the node is known to be down."""
        msg = m.dipc_msg(ool_sizes=[len(r) for r in raws], ool=b"".join(raws), **fields)
        self.endpoint.send(node, msg)

    def send_port_dead(self, node: int, uid: list) -> None:
        self.endpoint.send(node, m.dipc_port_dead(uid=uid))

    def handle(self, sender: int, msg):
        """The endpoint's handler for DIPC messages (worker thread, no locks held)."""
        if msg.name == "dipc_msg":
            raws, pos = [], 0
            for size in msg.ool_sizes:
                if not isinstance(size, int) or size < 0 or pos + size > len(msg.ool):
                    self.dipc.stats["dropped_malformed"] += 1
                    return None
                raws.append(bytes(msg.ool[pos:pos + size]))
                pos += size
            self.dipc.receive(sender, msg.as_dict(), raws)
        elif msg.name == "dipc_port_dead":
            uid = msg.uid
            if isinstance(uid, list) and len(uid) == 2 and all(isinstance(x, int) for x in uid):
                self.dipc.port_dead(uid)
        else:
            raise KernError(KernReturn.MIG_BAD_ID, f"unexpected {msg.name}")
        return None
