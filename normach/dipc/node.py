"""The DIPC layer of one node: principals, proxies, and messages across nodes.

Every port whose rights leave its node is a *principal* here, known by its
uid; every remote port this node holds rights for is a *proxy*: a local Port
whose `proxy` field says (uid, node).  Local IPC treats a proxy like any port:
rights to it sit in spaces under names, move in messages, merge (P6.7).  The
difference is at delivery: a message to a proxy is forwarded (`forward`) in
network form (`wire.py`) to the node of the principal, which rebuilds it with
its own ports and delivers it as if sent locally — queued for a receiver, or,
for a kernel object port, executed as a kernel call whose reply travels back
the same way (so kernel calls run on the target's home node, spec §1).

A message to a port that no longer exists comes back as `port_dead`: the
proxy dies here, its names become dead names and dead-name notifications fire
(D5.8); a node that stops answering kills every proxy for its ports.

A receive right sent to another node moves the principal there (D5.13-D5.17):
the old port turns into a forwarding proxy (its local send rights keep
working), and its queued messages follow the message that carries the right,
in order, so nothing is lost or reordered; messages that reach the old node
later are forwarded.  Not yet: queue limits for remote senders (D5.7),
no-senders across nodes (D5.9-D5.11: an exported port is pinned, see wire.py).
"""

from __future__ import annotations

import collections
import logging

from .. import param
from ..kern.errors import KernError, KernReturn
from ..mach_types import MsgType
from . import wire

log = logging.getLogger(__name__)
SPECIAL_UIDS = {"host": -2, "host_priv": -3}          # D5.1: kernel special ports' uids


class Dipc:
    """DIPC state of one node.

    Fields (kernel lock): principals {uid: Port}, proxies {uid: Port},
    pins Counter {Port: 1} (send rights held for exported ports),
    remote_sonce Counter {Port: n} (send-once rights made here, now elsewhere),
    stats.
    """

    def __init__(self, kernel, net):
        self.kernel = kernel
        self.net = net
        self.node = kernel.node
        self.principals: dict = {}
        self.proxies: dict = {}
        self.pins = collections.Counter()
        self.remote_sonce = collections.Counter()
        self.down: set = set()                 # nodes declared down
        self.stats = collections.Counter()
        with kernel.lock:
            for kind, lid in SPECIAL_UIDS.items():
                port = getattr(kernel, kind).port
                port.uid = (self.node, lid)
                self.principals[port.uid] = port
        kernel.remote = self

    # -- rights leaving this node --------------------------------------------------------
    def export_right(self, port, msgt: int) -> list:
        """The uid of a right leaving this node; the local right is consumed.

        Conditions: kernel lock held.
        """
        from ..ipc.port import IP_DEAD, ipc_port_consume_sonce, ipc_port_release_send, port_valid
        if port is None or port is IP_DEAD or not port_valid(port):
            return list(wire.DEAD) if port is IP_DEAD else [0, 0]
        if port.proxy is not None:
            uid = list(port.proxy[0])
            if msgt == MsgType.PORT_SEND:
                ipc_port_release_send(port)
            else:
                ipc_port_consume_sonce(port)
            return uid
        uid = port.uid
        self.principals[uid] = port
        if msgt == MsgType.PORT_SEND:
            if not self.pins[port]:
                self.pins[port] = 1
                port.srights += 1                     # the pin (see wire.py)
            ipc_port_release_send(port)
        else:
            self.remote_sonce[port] += 1
        return list(uid)

    # -- receive rights moving between nodes (D5.13-D5.17) ---------------------------------
    def export_receive(self, port, node: int):
        """A receive right leaves for `node`: this port becomes a forwarding proxy.

        Returns (uid, state) for the new principal: [qlimit, seqno, mscount,
        send-once rights outside the new node].  The caller sends the queued
        messages after the message carrying the right (`forward` does).
        Conditions: kernel lock held; the right is in transit (no receiver).
        """
        assert port.receiver is None and port.proxy is None and port.active
        uid = port.uid
        sonce_elsewhere = port.sorights                # all of them are outside `node` now
        self.remote_sonce.pop(port, None)
        if self.pins.pop(port, 0):
            port.srights -= 1                          # a proxy needs no pin
        state = [port.qlimit, port.seqno, port.mscount, sonce_elsewhere]
        port.proxy = (uid, node)
        port.nms = False
        self.principals[uid] = port                    # messages for it arriving here: forwarded
        self.proxies[uid] = port
        self.stats["receive_rights_sent"] += 1
        port.cond.notify_all()                         # blocked senders re-route (D5.15)
        return list(uid), state

    def import_receive(self, uid, state):
        """A receive right arrives: the port's principal is here now (in transit in the
        message being delivered).  Conditions: kernel lock held."""
        from ..ipc.port import ipc_port_alloc
        uid = tuple(uid)
        qlimit, seqno, mscount, sonce_elsewhere = state
        port = self.proxies.pop(uid, None)
        if port is None or not port.active:
            port = ipc_port_alloc(self.kernel)
            port.uid = uid
        port.proxy = None
        port.nms = True
        port.qlimit, port.seqno, port.mscount = qlimit, seqno, mscount
        port.sorights += sonce_elsewhere
        if sonce_elsewhere:
            self.remote_sonce[port] += sonce_elsewhere
        if not self.pins[port]:
            self.pins[port] = 1
            port.srights += 1                          # other nodes may hold send rights
        self.principals[uid] = port
        self.stats["receive_rights_received"] += 1
        return port

    # -- rights arriving here -------------------------------------------------------------
    def import_right(self, uid, msgt: int):
        """The local port for a right arriving as `uid` (principal or proxy), counted.

        Conditions: kernel lock held.
        """
        from ..ipc.port import IP_DEAD
        uid = tuple(uid)
        if uid == (0, 0):
            return None
        if list(uid) == wire.DEAD:
            return IP_DEAD
        port = self.principals.get(uid)
        if port is not None and port.proxy is None:    # the principal is here
            if not port.active:
                return IP_DEAD
            if msgt == MsgType.PORT_SEND:
                port.srights += 1
            else:
                self._sonce_home(port)
            return port
        if port is None and uid[0] == self.node and uid not in self.proxies:
            return IP_DEAD                             # made here, gone
        proxy = self.proxy_for(uid)
        if msgt == MsgType.PORT_SEND:
            proxy.srights += 1
        else:
            proxy.sorights += 1
        return proxy

    def _sonce_home(self, port) -> None:
        if self.remote_sonce[port] > 0:
            self.remote_sonce[port] -= 1
            if not self.remote_sonce[port]:
                del self.remote_sonce[port]

    def proxy_for(self, uid):
        """The proxy for a remote uid (made on first use).  Conditions: kernel lock held."""
        from ..ipc.port import ipc_port_alloc
        proxy = self.proxies.get(uid)
        if proxy is None or not proxy.active:
            if proxy is not None:
                return proxy                           # dead: rights to it are dead names
            proxy = ipc_port_alloc(self.kernel, nms=False)
            proxy.proxy = (uid, uid[0])
            proxy.uid = uid
            self.proxies[uid] = proxy
            self.stats["proxies_made"] += 1
        return proxy

    # -- sending ----------------------------------------------------------------------------
    def forward(self, kmsg) -> None:
        """Send a message whose destination is a proxy (kernel lock held).

        The message's rights and memory are consumed here.  A node that does not
        answer makes its proxies dead names; the send itself still succeeds (D5.8).
        """
        from ..ipc.port import ipc_port_consume_sonce, ipc_port_release_send
        dest = kmsg.dest
        uid, node = dest.proxy
        raws: list = []
        moved: list = []
        reply, reply_type = kmsg.take_reply()
        reply_uid = self.export_right(reply, reply_type) if reply_type else [0, 0]
        body = wire.encode_body(self, kmsg.body, raws, node, moved)
        kmsg.body = []
        if kmsg.dest_type == MsgType.PORT_SEND_ONCE:
            ipc_port_consume_sonce(dest)
        else:
            ipc_port_release_send(dest)
        kmsg.dest = None
        fields = dict(uid=list(uid), dest_type=int(kmsg.dest_type), reply_uid=reply_uid,
                      rtype=int(reply_type), msg_id=int(kmsg.id), body=body)
        self.stats["messages_sent"] += 1
        try:
            self.net.send_message(node, fields, raws)
        except KernError:
            self.node_down(node)
        except Exception as e:        # a message the wire cannot carry: checked at send, so a bug
            self.stats["dropped_unencodable"] += 1
            log.error("dipc: message %d to node %d dropped: %s", kmsg.id, node, e)
        for port in moved:            # D5.14: the queue follows the right, in order
            while port.messages:
                self.forward(port.messages.popleft())

    # -- receiving ---------------------------------------------------------------------------
    def receive(self, sender: int, fields: dict, raws: list) -> None:
        """A message from another node: rebuild it here and deliver it.

        Malformed messages are dropped and counted; a message for a port that is
        gone is answered with port_dead.  Conditions: kernel lock not held.
        """
        from ..ipc.kmsg import Kmsg, ipc_kmsg_deliver, ipc_kmsg_destroy
        try:
            uid, dest_type, reply_uid, reply_type, msg_id, items = _check(fields, len(raws))
        except ValueError as e:
            self.stats["dropped_malformed"] += 1
            log.warning("dipc: dropped a malformed message from node %d: %s", sender, e)
            return
        with self.kernel.lock:
            dest = self.principals.get(uid) or self.proxies.get(uid)
            reply = self.import_right(reply_uid, reply_type) if reply_type else None
            body = wire.decode_body(self, items, raws)
            self.stats["messages_received"] += 1
            if dest is None or not dest.active:
                kmsg = Kmsg(dest=None, dest_type=dest_type, reply=reply, reply_type=reply_type,
                            id=msg_id, body=body)
                ipc_kmsg_destroy(kmsg)
                dead = True
            else:
                if dest_type == MsgType.PORT_SEND:
                    dest.srights += 1                  # the right the message carries
                elif dest.proxy is not None:
                    dest.sorights += 1                 # passing through: forwarded below
                else:
                    self._sonce_home(dest)
                ipc_kmsg_deliver(Kmsg(dest=dest, dest_type=dest_type, reply=reply,
                                      reply_type=reply_type, id=msg_id, body=body))
                dead = False
        if dead:
            self.stats["port_dead_sent"] += 1
            try:
                self.net.send_port_dead(sender, list(uid))
            except KernError:
                pass

    def port_dead(self, uid) -> None:
        """The principal of `uid` is gone: its proxy here dies (D5.8).  Lock not held."""
        with self.kernel.lock:
            self._kill_proxy(tuple(uid))

    def node_down(self, node: int) -> None:
        """`node` stopped answering: every proxy for its ports dies.  Lock held or not."""
        held = self.kernel.lock.held()
        if not held:
            self.kernel.lock.acquire()
        try:
            self.down.add(node)
            for uid in [u for u in self.proxies if u[0] == node]:
                self._kill_proxy(uid)
        finally:
            if not held:
                self.kernel.lock.release()

    def _kill_proxy(self, uid) -> None:
        from ..ipc.port import ipc_port_destroy
        proxy = self.proxies.pop(uid, None)
        if proxy is not None and proxy.active:
            self.stats["proxies_died"] += 1
            ipc_port_destroy(proxy)

    # -- norma special ports of other nodes (N1.27) -------------------------------------------
    def get_special_port(self, node: int, which: int):
        """A send right (a proxy) for special port `which` of another node, or None.

        Kernel ids are built locally from (node, id) without contacting the node;
        user ids cost one request.  Conditions: kernel lock held (released while
        waiting for the other node).  Raises: KERN_NODE_DOWN.
        """
        from ..norma.node import MAX_SPECIAL_KERNEL_ID, NORMA_HOST_PORT, NORMA_HOST_PRIV_PORT
        if which < MAX_SPECIAL_KERNEL_ID:
            lid = {NORMA_HOST_PORT: SPECIAL_UIDS["host"],
                   NORMA_HOST_PRIV_PORT: SPECIAL_UIDS["host_priv"]}.get(which)
            if lid is None:
                return None
            return self.import_right((node, lid), MsgType.PORT_SEND)
        self.kernel.lock.release()
        try:
            uid = self.net.special_get(node, which, timeout=param.DIPC_REQUEST_TIMEOUT)
        finally:
            self.kernel.lock.acquire()
        if uid == [0, 0]:
            return None
        return self.import_right(uid, MsgType.PORT_SEND)

    def export_special(self, which: int) -> list:
        """Serve another node's get: the uid of our special port `which` (a send right
        exported with it), or [0, 0].  Conditions: kernel lock not held."""
        from ..norma.node import norma_get_special_port
        with self.kernel.lock:
            try:
                port = norma_get_special_port(self.kernel.host_priv, self.node, which)
            except KernError:
                port = None
            return self.export_right(port, MsgType.PORT_SEND) if port is not None else [0, 0]

    # -- audit support ---------------------------------------------------------------------
    def held_send_rights(self) -> collections.Counter:
        return collections.Counter({p: n for p, n in self.pins.items() if n})

    def held_sonce_rights(self) -> collections.Counter:
        return collections.Counter({p: n for p, n in self.remote_sonce.items() if n})

    def __repr__(self) -> str:
        return (f"<Dipc node={self.node} principals={len(self.principals)} "
                f"proxies={len(self.proxies)} {dict(self.stats)}>")


def _check(fields: dict, nraws: int):
    """Validated header fields of a network message.  Raises ValueError."""
    try:
        uid = tuple(fields["uid"])
        reply_uid = list(fields["reply_uid"])
        dest_type, reply_type = int(fields["dest_type"]), int(fields["rtype"])
        msg_id, items = int(fields["msg_id"]), fields["body"]
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"bad header: {e}") from None
    if len(uid) != 2 or dest_type not in (MsgType.PORT_SEND, MsgType.PORT_SEND_ONCE):
        raise ValueError("bad destination")
    if reply_type not in (0, MsgType.PORT_SEND, MsgType.PORT_SEND_ONCE) or len(reply_uid) != 2:
        raise ValueError("bad reply")
    wire.validate_body(items, nraws)
    return uid, dest_type, reply_uid, reply_type, msg_id, items
