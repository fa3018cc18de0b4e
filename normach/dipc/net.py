"""DIPC over the transport: one endpoint per node, messages one-way and in order.

Messages from one node to another travel over one connection, so they arrive
in the order sent; the transport hands requests to a pool of worker threads,
so DIPC messages are then put in one queue and delivered by one thread, in
arrival order (D5.5).  A send to a node that is down, or a node declared
down by the transport, kills this node's proxies for that node's ports (D5.8).
"""

from __future__ import annotations

import logging
import queue
import threading

from .. import param
from ..errors import KernError, KernReturn
from ..transport.messages import ping
from . import messages as m

log = logging.getLogger(__name__)
_ONEWAY = frozenset({"dipc_msg", "dipc_port_dead", "transits_release", "queue_full", "queue_space"})


class DipcNet:
    """Glue between a node's Dipc and its transport Endpoint, and the heartbeat that
    declares a silent peer down."""

    def __init__(self, node: int, address: str, secret: bytes | None = None,
                 peers: dict | None = None, handler=None):
        """The node's endpoint at `address`; requests go to `handler` (default: DIPC's own),
        one-way DIPC messages straight to the in-order delivery queue."""
        from ..transport.endpoint import Endpoint
        self.endpoint = Endpoint(node, address, dict(peers or {}), handler or self.handle,
                                 secret=secret, oneway=self.oneway)
        self.dipc = None
        self.xmm = None
        self.peers: list[int] = []                    # the members: pinged by the heartbeat
        self.clients: set[int] = set()                # clients admitted (they ping us instead)
        self.client = False                           # a client's: pings only nodes not down
        self._stop = threading.Event()
        self._beat = None
        self._inbox: queue.Queue = queue.Queue()      # (sender, msg) in arrival order
        self._deliverer = None

    def attach(self, dipc, xmm, peers) -> None:
        """Serve `dipc` and `xmm` (the node's DIPC and XMM layers, made by boot.connect)
        and start the heartbeat to `peers`."""
        self.dipc = dipc
        self.xmm = xmm
        self.peers = list(peers)
        self.endpoint.on_peer_down(dipc.node_down)
        self.endpoint.on_peer_down(self.xmm.node_down)
        self._beat = threading.Thread(target=self._heartbeat, daemon=True,
                                      name=f"dipc-heartbeat-{dipc.node}")
        self._beat.start()
        self._deliverer = threading.Thread(target=self._deliver, daemon=True,
                                           name=f"dipc-deliver-{dipc.node}")
        self._deliverer.start()

    def _deliver(self) -> None:
        """Deliver DIPC messages one at a time, in the order they arrived."""
        while True:
            item = self._inbox.get()
            if item is None:
                return
            if isinstance(item, threading.Event):   # flush_deliveries: all before it is done
                item.set()
                continue
            try:
                self._dispatch(*item)
            except Exception:                      # a bug: keep the node serving
                self.dipc.stats["delivery_errors"] += 1
                log.exception("dipc: delivering a message failed")

    def flush_deliveries(self, timeout: float = 10.0) -> bool:
        """Wait until every DIPC message that arrived so far was delivered (tests,
        benchmarks; as Xmm.flush_background for the memory manager's work)."""
        done = threading.Event()
        self._inbox.put(done)
        return done.wait(timeout)

    def _heartbeat(self) -> None:
        """Ping every peer; one that does not answer in time is declared down."""
        seq = 0
        while not self._stop.wait(param.DIPC_HEARTBEAT_S):
            for node in self.peers:
                if self.client and node in self.dipc.down:
                    continue                   # a client keeps its lease with the live ones
                seq += 1
                try:
                    self.endpoint.request(node, ping(seq=seq), param.DIPC_HEARTBEAT_TIMEOUT_S)
                    self.dipc.node_up(node)
                except KernError:
                    pass                       # the endpoint declared it down: callbacks ran
                if self._stop.is_set():
                    return

    def close(self) -> None:
        self._stop.set()
        if self.xmm is not None:
            self.xmm.close()
        self.endpoint.close()
        self._inbox.put(None)
        for t in (self._beat, self._deliverer):
            if t is not None:
                t.join(5.0)

    def send_message(self, node: int, fields: dict, raws: list) -> None:
        """Raises KernError(KERN_NODE_DOWN) if the node is known to be down."""
        msg = m.dipc_msg(ool_sizes=[len(r) for r in raws], ool=b"".join(raws), **fields)
        self.endpoint.send(node, msg)

    def send_port_dead(self, node: int, uid: list) -> None:
        self.endpoint.send(node, m.dipc_port_dead(uid=uid))

    def transits_get(self, node: int, uid: list, count: int) -> int:
        """Ask `node` for `count` transits of port `uid`; returns how many were granted.

        Raises: KernError(KERN_NODE_DOWN)."""
        reply = self.endpoint.request(node, m.transits_get(uid=uid, count=count),
                                      param.DIPC_REQUEST_TIMEOUT)
        return max(0, int(reply.count))

    def send_queue_state(self, node: int, uid: list, full: bool) -> None:
        self.endpoint.send(node, (m.queue_full if full else m.queue_space)(uid=uid))

    def send_transits_release(self, node: int, uid: list, count: int) -> None:
        self.endpoint.send(node, m.transits_release(uid=uid, count=count))

    def task_allocate(self, node: int, **fields) -> list:
        """Ask `node` to create a task (norma_task_allocate); returns its task port uid."""
        return list(self.endpoint.request(node, m.task_allocate(**fields),
                                          param.DIPC_REQUEST_TIMEOUT).uid)

    def special_get(self, node: int, which: int, timeout: float) -> list:
        """The uid of `node`'s user special port `which` ([0, 0] if empty).

        Raises: KernError(KERN_NODE_DOWN) if the node does not answer.
        """
        return list(self.endpoint.request(node, m.special_get(which=which), timeout).uid)

    def handle(self, sender: int, msg):
        """The endpoint's handler (a worker thread, no locks held): requests are
        answered here; one-way DIPC messages are queued for in-order delivery."""
        if msg.name == "special_get":
            return m.special_reply(uid=self.dipc.export_special(msg.which, sender))
        if msg.name == "task_allocate":
            return m.task_allocated(uid=self.dipc.allocate_task(sender, msg))
        if msg.name == "transits_get":
            if not _uid_ok(msg.uid) or msg.count < 0:
                raise KernError(KernReturn.MIG_BAD_ARGUMENTS, "transits_get")
            return m.transits_granted(count=self.dipc.grant_transits(msg.uid, msg.count))
        if msg.name in _ONEWAY:
            self._inbox.put((sender, msg))
            return None
        if msg.name.startswith("xmm_") and self.xmm is not None:
            return self.xmm.handle(sender, msg)
        raise KernError(KernReturn.MIG_BAD_ID, f"unexpected {msg.name}")

    def oneway(self, sender: int, msg) -> bool:
        """The endpoint's I/O thread offers a one-way message: DIPC's go straight to the
        in-order delivery queue (no worker thread in between)."""
        if msg.name in _ONEWAY:
            self._inbox.put((sender, msg))
            return True
        return False

    def _dispatch(self, sender: int, msg) -> None:
        if msg.name == "dipc_msg":
            raws, pos = [], 0
            for size in msg.ool_sizes:
                if not isinstance(size, int) or size < 0 or pos + size > len(msg.ool):
                    self.dipc.stats["dropped_malformed"] += 1
                    return None
                raws.append(bytes(msg.ool[pos:pos + size]))
                pos += size
            self.dipc.receive(sender, msg.as_dict(), raws)
        elif msg.name in ("queue_full", "queue_space"):
            if _uid_ok(msg.uid):
                self.dipc.queue_state(msg.uid, msg.name == "queue_full")
        elif msg.name == "transits_release":
            if _uid_ok(msg.uid) and msg.count > 0:
                self.dipc.release_transits(msg.uid, msg.count)
        else:
            if _uid_ok(msg.uid):
                self.dipc.port_dead(msg.uid)


def _uid_ok(uid) -> bool:
    return isinstance(uid, list) and len(uid) == 2 and all(isinstance(x, int) for x in uid)
