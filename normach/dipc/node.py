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
later are forwarded.

Queue limits hold for remote senders (D5.7): when a message from another node
fills a port's queue, that node is told to hold its senders, and told again
when a receive makes room (a few messages in flight may overshoot the limit).

No-senders across nodes (D5.9-D5.11): a send right that leaves its port's
node travels as a *transit*, counted at the principal like a local right; a
proxy keeps the transits of the rights it received and gives them all back
when its node's last send right to the port goes, so the principal sees
no-senders only when no node holds a send right and none is in flight.  A
proxy that passes a right on to a third node hands over one of its transits,
fetching a batch from the principal first if it would keep none for itself.

Forgetting.  A node that ran a million cross-node programs must not remember a
million ports.  A principal is forgotten as soon as no other node holds or is
sent a right to it (no transit given, no send-once right out): nothing can
name its uid any more, and a new right leaving for another node makes it a
principal again.  A proxy is forgotten when this node holds no right to it (not
those of other nodes' host ports: they live as long as their node).  A
port dies: its principal goes, and a port that came from another node leaves a
tombstone (a bounded set of uids) so that a late right for it is a dead name
rather than a new proxy.  Ports that other nodes may still forward to (those
that arrived here as receive rights) stay until they die.
"""

from __future__ import annotations

import collections
import logging

from .. import param
from ..errors import KernError, KernReturn
from ..ipc.kmsg import msgh_id
from ..mach_types import MsgType
from . import wire

log = logging.getLogger(__name__)
SPECIAL_UIDS = {"host": -2, "host_priv": -3}          # D5.1: kernel special ports' uids
SPECIAL_LIDS = frozenset(SPECIAL_UIDS.values())


class Dipc:
    """DIPC state of one node.

    Fields (kernel lock): principals {uid: Port}, proxies {uid: Port},
    given Counter {principal Port: n} (send rights this node's ports have out on other
      nodes as transits: counted in port.srights, so no-senders waits for them),
    transits Counter {proxy Port: n} (transits this node holds for a remote port; at
      least one while it has local send rights to it),
    remote_sonce Counter {Port: n} (send-once rights made here, now elsewhere),
    stats.
    """

    def __init__(self, kernel, net):
        self.kernel = kernel
        self.net = net
        self.node = kernel.node
        self.principals: dict = {}
        self.proxies: dict = {}
        self.given = collections.Counter()
        self.transits = collections.Counter()
        self.sonce_at: dict = collections.defaultdict(collections.Counter)  # Port -> {node: n}
        self.exported_to: dict = collections.defaultdict(set)  # Port -> nodes given rights to it
        self._sender = None                    # node of the message being received (lock held)
        self.remote_sonce = collections.Counter()
        self.tombstones: collections.OrderedDict = collections.OrderedDict()  # dead foreign uids
        self.down: set = set()                 # nodes declared down
        self.stats = collections.Counter()
        with kernel.lock:
            for kind, lid in SPECIAL_UIDS.items():
                port = getattr(kernel, kind).port
                port.uid = (self.node, lid)
                self.principals[port.uid] = port
        kernel.remote = self

    # -- rights leaving this node --------------------------------------------------------
    def export_right(self, port, msgt: int, node: int | None = None) -> list:
        """The uid of a right leaving this node; the local right is consumed.

        Conditions: kernel lock held.
        """
        from ..ipc.port import IP_DEAD, ipc_port_consume_sonce, ipc_port_release_send, port_valid
        if port is None or port is IP_DEAD or not port_valid(port):
            return list(wire.DEAD) if port is IP_DEAD else [0, 0]
        if port.proxy is not None:
            uid = list(port.proxy[0])
            if msgt == MsgType.PORT_SEND:
                if self.transits[port] < 1:            # could not get transits: node down
                    ipc_port_release_send(port)
                    return list(wire.DEAD)
                self.transits[port] -= 1               # the right travels with one transit
                ipc_port_release_send(port)
            else:
                ipc_port_consume_sonce(port)
            self._forget_proxy(port)                   # its last right here may have gone
            return uid
        uid = port.uid
        self.principals[uid] = port
        if node is not None:
            self.exported_to[port].add(node)           # told when the port dies (D5.12)
        if msgt == MsgType.PORT_SEND:
            self.given[port] += 1                      # the right becomes a transit (D5.9)
        else:
            self.remote_sonce[port] += 1
            if node is not None:
                self.sonce_at[port][node] += 1         # who to blame if it never comes back
        return list(uid)

    # -- transits (D5.9-D5.11) ---------------------------------------------------------------
    def ensure_transits(self, kmsg) -> None:
        """Before send rights for remote ports leave in `kmsg`, hold enough transits: one per
        right, plus one kept while local rights remain.  May release the kernel lock
        while asking the ports' nodes for a batch.  Conditions: kernel lock held."""
        from ..ipc.kmsg import OOLPortsItem, PortItem
        need = collections.Counter()
        rights = [(kmsg.reply, kmsg.reply_type)]
        for item in kmsg.body:
            if isinstance(item, PortItem):
                rights.append((item.port, item.msgt))
            elif isinstance(item, OOLPortsItem):
                rights += [(p, item.msgt) for p in item.ports]
        for port, msgt in rights:
            if msgt == MsgType.PORT_SEND and getattr(port, "proxy", None) is not None:
                need[port] += 1
        for port, n in need.items():
            want = n + (1 if port.srights > n else 0)
            if self.transits[port] < want:
                self._fetch_transits(port, want - self.transits[port] + param.DIPC_TRANSIT_BATCH)

    def _fetch_transits(self, proxy, n: int) -> None:
        uid, node = proxy.proxy
        self.kernel.lock.release()
        try:
            granted = self.net.transits_get(node, list(uid), n)
        except KernError:
            granted = 0
        finally:
            self.kernel.lock.acquire()
        self.transits[proxy] += granted
        self.stats["transits_fetched"] += granted

    def grant_transits(self, uid, n: int) -> int:
        """Another node asks for `n` transits of our port `uid` (worker thread, lock not held).
        Returns how many it gets (0 if the port is gone)."""
        with self.kernel.lock:
            port = self.principals.get(tuple(uid))
            if port is not None and port.active and port.proxy is None:
                port.srights += n
                self.given[port] += n
                return n
            forward = port.proxy[1] if port is not None and port.active else None
        if forward is None:
            return 0
        try:                                           # the port moved on: ask its new node
            return self.net.transits_get(forward, list(uid), n)
        except KernError:
            return 0

    def release_transits(self, uid, n: int) -> None:
        """A node gave back `n` transits of port `uid` (deliverer thread, lock not held)."""
        from ..ipc.port import ipc_port_release_send
        with self.kernel.lock:
            port = self.principals.get(tuple(uid))
            if port is None or not port.active:
                return
            if port.proxy is not None:                 # forwarded: the principal is elsewhere
                self._send_release(port.proxy[1], uid, n)
                return
            n = min(n, self.given[port])
            self.given[port] -= n
            for _ in range(n):
                ipc_port_release_send(port)            # at 0: no-senders (D5.10)
            self._forget(port)

    def release_all(self) -> int:
        """A client leaving: every transit it holds goes back to its port's node, as if
        each of its send rights were deallocated, so no-senders still comes on ports it
        named (its Python handles are never released one by one).  Returns the count.
        Lock not held."""
        with self.kernel.lock:
            held = [(p, self.transits.pop(p)) for p in list(self.transits)
                    if p.proxy is not None and p.active and self.transits[p] > 0]
            for proxy, n in held:
                uid, node = proxy.proxy
                self._send_release(node, list(uid), n)
        return sum(n for _, n in held)

    def _proxy_no_senders(self, proxy, _mscount) -> None:
        """A proxy's last local send right went: give its transits back (lock held)."""
        n = self.transits.pop(proxy, 0)
        if n and proxy.active:
            uid, node = proxy.proxy
            self._send_release(node, list(uid), n)
        self._forget_proxy(proxy)

    # -- forgetting what no other node can name ------------------------------------------------
    def _forget(self, port) -> None:
        """Forget principal `port` if no other node holds or is sent a right to it (the
        special host ports and ports that came from another node excepted).  Lock held."""
        if port is None or port.proxy is not None or port.uid is None:
            return
        uid = port.uid
        if uid[0] != self.node or uid[1] in SPECIAL_LIDS or port.migrated_in:
            return                                     # other nodes may route to it
        if self.given.get(port, 0) > 0 or self.remote_sonce.get(port, 0) > 0:
            return
        if self.principals.get(uid) is port:
            del self.principals[uid]
        self.given.pop(port, None)
        self.exported_to.pop(port, None)
        self.sonce_at.pop(port, None)
        self.remote_sonce.pop(port, None)
        self.stats["principals_forgotten"] += 1

    def _forget_proxy(self, proxy) -> None:
        """Forget a proxy this node holds no right to (not a forwarding principal, nor
        the proxy of another node's host port: those live as long as their node, and
        callers such as the migration manager know a host port by its proxy)."""
        if proxy is None or proxy.proxy is None or proxy.srights or proxy.sorights:
            return
        uid = proxy.proxy[0]
        if uid[1] in SPECIAL_LIDS or self.principals.get(uid) is proxy:
            return                                     # it forwards what still comes here
        if self.proxies.get(uid) is proxy:
            del self.proxies[uid]
        self.transits.pop(proxy, None)
        self.stats["proxies_forgotten"] += 1

    def _send_release(self, node: int, uid, n: int) -> None:
        try:
            self.net.send_transits_release(node, list(uid), n)
        except KernError:
            pass

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
        self.queue_space(port)                         # held senders retry against the new node
        sonce_total = port.sorights                    # every send-once right, wherever it is
        local_sonce = sonce_total - self.remote_sonce.pop(port, 0)
        self.sonce_at.pop(port, None)
        srights_total = port.srights                   # local send rights + transits given
        local = srights_total - self.given.pop(port, 0)
        ns, port.nsrequest = port.nsrequest, None      # the no-senders request moves too
        ns_uid = self.export_right(ns, MsgType.PORT_SEND_ONCE) if ns is not None else [0, 0]
        state = [port.qlimit, port.seqno, port.mscount, sonce_total, srights_total,
                 ns_uid[0], ns_uid[1], port.nssync]
        port.proxy = (uid, node)
        port.nms = False
        port.srights, port.sorights = local, local_sonce  # a proxy counts this node's rights
        if local:
            self.transits[port] = local                # backed by transits the new node counts
        port.no_senders_callback = self._proxy_no_senders
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
        qlimit, seqno, mscount, sonce_total, srights_total, ns0, ns1, nssync = state
        port = self.proxies.pop(uid, None)
        if port is None or not port.active:
            port = ipc_port_alloc(self.kernel)
            port.uid = uid
        local_send, local_sonce = port.srights, port.sorights
        held = self.transits.pop(port, 0)              # ours: they were counted in the total
        port.proxy = None
        port.remote_full = False
        port.nms = True
        port.no_senders_callback = None
        port.qlimit, port.seqno, port.mscount = qlimit, seqno, mscount
        port.sorights = sonce_total
        if sonce_total - local_sonce:
            self.remote_sonce[port] = sonce_total - local_sonce
        port.srights = srights_total - held + local_send
        if srights_total - held:
            self.given[port] = srights_total - held
        if (ns0, ns1) != (0, 0):
            port.nsrequest = self.import_right((ns0, ns1), MsgType.PORT_SEND_ONCE)
            port.nssync = nssync
        if self._sender is not None:
            self.exported_to[port].add(self._sender)   # the old node forwards: tell it of death
        port.migrated_in = True
        self.tombstones.pop(uid, None)
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
        if list(uid) == wire.DEAD or not self.known_node(uid[0]) or uid in self.tombstones:
            return IP_DEAD                             # (a node no member knows: never live)
        port = self.principals.get(uid)
        if port is not None and port.proxy is None:    # the principal is here
            if not port.active:
                return IP_DEAD
            if msgt == MsgType.PORT_SEND:
                if self.given[port] > 0:
                    self.given[port] -= 1              # a transit comes home as a local right
                else:
                    port.srights += 1
            elif not self._sonce_home(port, self._sender):
                return IP_DEAD                         # given up for dead already
            self._forget(port)                         # perhaps no other node names it now
            return port
        if port is None and uid[0] == self.node and uid not in self.proxies:
            return IP_DEAD                             # made here, gone
        proxy = self.proxy_for(uid)
        if msgt == MsgType.PORT_SEND:
            proxy.srights += 1
            self.transits[proxy] += 1                  # the right arrived with a transit
        else:
            proxy.sorights += 1
        return proxy

    def known_node(self, node) -> bool:
        """`node` is this node, a member it knows or a client it admitted (a uid naming
        anything else is dead)."""
        peers = getattr(self.net, "peers", None)
        return (node == self.node or peers is None or node in peers
                or node in getattr(self.net, "clients", ()))

    def _sonce_home(self, port, sender: int | None = None) -> bool:
        """A send-once right made here came back (used or passed home).  False if it was
        already given up for dead (its node was declared down): the right is stale."""
        if self.remote_sonce[port] <= 0:
            self.remote_sonce.pop(port, None)
            return False
        self.remote_sonce[port] -= 1
        if not self.remote_sonce[port]:
            del self.remote_sonce[port]
        at = self.sonce_at.get(port)
        if at:
            node = sender if at.get(sender) else next(iter(at))
            at[node] -= 1
            if not at[node]:
                del at[node]
            if not at:
                del self.sonce_at[port]
        return True

    def _sonce_lost(self, node: int) -> None:
        """`node` is down: the send-once rights it held for our ports will never be used;
        each becomes a send-once notification, as if destroyed unused (D5.11)."""
        from ..ipc.port import ipc_port_release_sonce
        for port in list(self.sonce_at):
            n = self.sonce_at[port].pop(node, 0)
            if not self.sonce_at[port]:
                del self.sonce_at[port]
            for _ in range(n):
                if self.remote_sonce[port] > 0 and port.active:
                    self.remote_sonce[port] -= 1
                    ipc_port_release_sonce(port)
                    self.stats["send_once_lost"] += 1
            if not self.remote_sonce.get(port, 1):
                del self.remote_sonce[port]
            self._forget(port)

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
            proxy.no_senders_callback = self._proxy_no_senders
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
        self.ensure_transits(kmsg)
        dest = kmsg.dest
        if not dest.active:                            # died while we fetched transits
            from ..ipc.kmsg import ipc_kmsg_destroy
            ipc_kmsg_destroy(kmsg)
            return
        uid, node = dest.proxy
        raws: list = []
        moved: list = []
        reply, reply_type = kmsg.take_reply()
        reply_uid = self.export_right(reply, reply_type, node) if reply_type else [0, 0]
        complex_ = kmsg.complex
        body = wire.encode_body(self, kmsg.body, raws, node, moved)
        kmsg.body = []
        dest_type = kmsg.dest_type
        kmsg.dest = None
        fields = dict(uid=list(uid), dest_type=int(dest_type), reply_uid=reply_uid,
                      rtype=int(reply_type), msg_id=int(kmsg.id), body=body,
                      complex=complex_, packed=kmsg.packed)
        self.stats["messages_sent"] += 1
        try:
            self.net.send_message(node, fields, raws)
        except KernError:
            self.node_down(node)
        except Exception as e:        # a message the wire cannot carry: checked at send, so a bug
            self.stats["dropped_unencodable"] += 1
            log.error("dipc: message %d to node %d dropped: %s", kmsg.id, node, e)
        # the destination right goes after the message: a transits_release its last right
        # causes follows the message on the same ordered connection, never overtakes it
        if dest_type == MsgType.PORT_SEND_ONCE:
            ipc_port_consume_sonce(dest)
        else:
            ipc_port_release_send(dest)
        self._forget_proxy(dest)
        from ..ipc.kmsg import ipc_kmsg_unqueue
        for port in moved:            # D5.14: the queue follows the right, in order
            while port.messages:
                self.forward(ipc_kmsg_unqueue(port))

    # -- receiving ---------------------------------------------------------------------------
    def receive(self, sender: int, fields: dict, raws: list) -> None:
        """A message from another node: rebuild it here and deliver it.

        Malformed messages are dropped and counted; a message for a port that is
        gone is answered with port_dead.  Conditions: kernel lock not held.
        """
        from ..ipc.kmsg import Kmsg, ipc_kmsg_deliver, ipc_kmsg_destroy
        try:
            uid, dest_type, reply_uid, reply_type, msg_id, items = _check(fields, [len(r) for r in raws])
        except ValueError as e:
            self.stats["dropped_malformed"] += 1
            log.warning("dipc: dropped a malformed message from node %d: %s", sender, e)
            return
        with self.kernel.lock:
            self._sender = sender
            dest = self.principals.get(uid) or self.proxies.get(uid)
            reply = self.import_right(reply_uid, reply_type) if reply_type else None
            body = wire.decode_body(self, items, raws)
            self.stats["messages_received"] += 1
            if dest is None or not dest.active:
                kmsg = Kmsg(dest=None, dest_type=dest_type, reply=reply, reply_type=reply_type,
                            id=msg_id, body=body)
                ipc_kmsg_destroy(kmsg)
                dead = True
            elif dest_type == MsgType.PORT_SEND_ONCE and dest.proxy is None \
                    and not self._sonce_home(dest, sender):
                self.stats["stale_send_once"] += 1     # its notification was sent already
                ipc_kmsg_destroy(Kmsg(dest=None, dest_type=dest_type, reply=reply,
                                      reply_type=reply_type, id=msg_id, body=body))
                dead = False
            else:
                if dest_type == MsgType.PORT_SEND:
                    dest.srights += 1                  # the right the message carries
                elif dest.proxy is not None:
                    dest.sorights += 1                 # passing through: forwarded below
                ipc_kmsg_deliver(Kmsg(dest=dest, dest_type=dest_type, reply=reply,
                                      reply_type=reply_type, id=msg_id, body=body,
                                      complex_bit=fields.get("complex") is True,
                                      packed=fields.get("packed") is True))
                self._check_full(dest, dest_type, sender)
                self._forget(dest)
                dead = False
        if dead:
            self.stats["port_dead_sent"] += 1
            try:
                self.net.send_port_dead(sender, list(uid))
            except KernError:
                pass

    # -- queue limits for remote senders (D5.7) -------------------------------------------
    def _check_full(self, port, dest_type: int, sender: int) -> None:
        """After queuing a remote message: if the queue is now full, the sender's node
        must hold its senders (send-once messages ignore the limit).  Lock held."""
        if (port.proxy is None and not port.kernel_receive and port.active
                and dest_type == MsgType.PORT_SEND and len(port.messages) >= port.qlimit
                and sender not in port.remote_waiters):
            port.remote_waiters.add(sender)
            self._send_queue_state(sender, port.uid, True)

    def queue_space(self, port) -> None:
        """The queue has room again: release the senders of every waiting node.  Lock held."""
        waiters, port.remote_waiters = port.remote_waiters, set()
        for node in waiters:
            self._send_queue_state(node, port.uid, False)

    def _send_queue_state(self, node: int, uid, full: bool) -> None:
        try:
            self.net.send_queue_state(node, list(uid), full)
        except KernError:
            pass

    def queue_state(self, uid, full: bool) -> None:
        """The port's node says its queue is full (hold senders) or has room (release them)."""
        with self.kernel.lock:
            proxy = self.proxies.get(tuple(uid))
            if proxy is not None and proxy.active:
                proxy.remote_full = full
                if not full:
                    proxy.cond.notify_all()

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
            self._sonce_lost(node)
            for uid in [u for u in self.proxies if u[0] == node]:
                self._kill_proxy(uid)
        finally:
            if not held:
                self.kernel.lock.release()

    def node_up(self, node: int) -> None:
        """`node` answers again after it was declared down (a new incarnation, whose
        uids name new ports): the tombstones of its old ports go.  Lock not held."""
        if node not in self.down:
            return
        with self.kernel.lock:
            self.down.discard(node)
            for uid in [u for u in self.tombstones if u[0] == node]:
                del self.tombstones[uid]

    def _kill_proxy(self, uid) -> None:
        from ..ipc.port import ipc_port_destroy
        proxy = self.proxies.pop(uid, None)
        if proxy is not None and proxy.active:
            self.stats["proxies_died"] += 1
            ipc_port_destroy(proxy)                    # port_died passes the news along

    def port_died(self, port) -> None:
        """A port dies here (lock held): every node we gave rights to it learns at once,
        so its names there become dead names and dead-name notifications fire (D5.12);
        a forwarding proxy passes the news down its chain (D5.15)."""
        nodes = self.exported_to.pop(port, set())
        for node in nodes:
            if node not in self.down:
                try:
                    self.net.send_port_dead(node, list(port.uid))
                except KernError:
                    pass
        port.srights -= self.given.pop(port, 0)       # transits out: nothing to count any more
        self.transits.pop(port, None)
        self.sonce_at.pop(port, None)
        self.remote_sonce.pop(port, None)
        uid = port.uid if port.proxy is None else port.proxy[0]
        if uid is not None:
            if self.principals.get(uid) is port:
                del self.principals[uid]
            if self.proxies.get(uid) is port:
                del self.proxies[uid]
            if uid[0] != self.node and uid[1] not in SPECIAL_LIDS:   # late rights: dead names
                self.tombstones[uid] = True
                while len(self.tombstones) > param.DIPC_TOMBSTONES:
                    self.tombstones.popitem(last=False)

    # -- norma special ports of other nodes (N1.27) -------------------------------------------
    def get_special_port(self, node: int, which: int):
        """A send right (a proxy) for special port `which` of another node, or None.

        Kernel ids are built locally from (node, id) without contacting the node;
        user ids cost one request.  Conditions: kernel lock held (released while
        waiting for the other node).  Raises: KERN_NODE_DOWN.
        """
        from ..mach_types import MAX_SPECIAL_KERNEL_ID, NORMA_HOST_PORT, NORMA_HOST_PRIV_PORT
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

    def export_special(self, which: int, node: int | None = None) -> list:
        """Serve another node's get: the uid of our special port `which` (a send right
        exported with it), or [0, 0].  Conditions: kernel lock not held."""
        from ..kern.host import host_special_port
        from ..mach_types import MAX_SPECIAL_ID
        with self.kernel.lock:
            valid = isinstance(which, int) and not isinstance(which, bool) \
                and 0 <= which < MAX_SPECIAL_ID
            port = host_special_port(self.kernel, which) if valid else None
            return self.export_right(port, MsgType.PORT_SEND, node) if port is not None else [0, 0]

    # -- tasks created for another node (norma_task_allocate, N1.13) ---------------------------
    def task_allocate(self, node: int, parent):
        """Create a task on `node` with what `parent`'s task_create child inherits (§0.1):
        ports and resource limits.  Returns a send right (a proxy) to its task port.
        Conditions: kernel lock held (released while the node answers).
        Raises: KERN_NODE_DOWN, or the node's error.
        """
        from ..ipc.port import ipc_port_copy_send
        def right(port):
            port = ipc_port_copy_send(port) if port is not None else None
            return self.export_right(port, MsgType.PORT_SEND, node) if port is not None else [0, 0]
        fields = dict(
            label=parent.name, vm_max=parent.ledger.vm_max, threads_max=parent.ledger.threads_max,
            bootstrap=right(parent.itk_bootstrap),
            registered=[right(p) for p in parent.itk_registered],
            exceptions=[[t, *right(p), b, f] for t, (p, b, f) in sorted(parent.exc_ports.items())],
            privileged=parent.privileged)
        self.kernel.lock.release()
        try:
            uid = self.net.task_allocate(node, **fields)
        finally:
            self.kernel.lock.acquire()
        self.stats["tasks_allocated_remotely"] += 1
        return self.import_right(uid, MsgType.PORT_SEND)

    def allocate_task(self, sender: int, msg) -> list:
        """Serve task_allocate from `sender`: a parentless task with the given ports and
        limits; returns its task port uid (a send right exported to `sender`)."""
        from ..ipc.port import ipc_port_make_send
        from ..kern.task import task_create
        _check_task_allocate(msg)         # all of it before anything is made or imported
        with self.kernel.lock:
            self._sender = sender
            task = task_create(None, False, kernel=self.kernel, name=msg.label)
            task.ledger.vm_max, task.ledger.threads_max = msg.vm_max, msg.threads_max
            task.privileged = bool(msg.privileged)
            task.itk_bootstrap = self._imported(msg.bootstrap)
            task.itk_registered = [self._imported(u) for u in msg.registered] + \
                [None] * (3 - len(msg.registered))
            task.exc_ports = {t: (self._imported([n, lid]), b, f)
                              for t, n, lid, b, f in msg.exceptions}
            return self.export_right(ipc_port_make_send(task.itk_self), MsgType.PORT_SEND, sender)

    def _imported(self, uid):
        from ..ipc.port import IP_DEAD
        port = self.import_right(uid, MsgType.PORT_SEND) if list(uid) != [0, 0] else None
        return None if port is IP_DEAD else port

    # -- audit support ---------------------------------------------------------------------
    def held_send_rights(self) -> collections.Counter:
        """Send rights counted at our principals that live elsewhere (transits given)."""
        return collections.Counter({p: n for p, n in self.given.items() if n > 0})

    def held_sonce_rights(self) -> collections.Counter:
        return collections.Counter({p: n for p, n in self.remote_sonce.items() if n})

    def audit(self) -> list[str]:
        """What this node should have forgotten (see "Forgetting" above): dead ports,
        principals no other node can name, proxies it holds no right to.  Lock held."""
        out = []
        for uid, port in self.principals.items():
            if not port.active:
                out.append(f"dipc: dead principal {uid} kept")
            elif (port.proxy is None and uid[0] == self.node and uid[1] not in SPECIAL_LIDS
                  and not port.migrated_in and self.given.get(port, 0) <= 0
                  and self.remote_sonce.get(port, 0) <= 0):
                out.append(f"dipc: principal {uid} kept, no other node can name it")
        for uid, proxy in self.proxies.items():
            if not proxy.active:
                out.append(f"dipc: dead proxy {uid} kept")
            elif (not proxy.srights and not proxy.sorights and uid[1] not in SPECIAL_LIDS
                  and self.principals.get(uid) is not proxy):
                out.append(f"dipc: proxy {uid} kept with no right to it")
        return out

    def __repr__(self) -> str:
        return (f"<Dipc node={self.node} principals={len(self.principals)} "
                f"proxies={len(self.proxies)} {dict(self.stats)}>")


def _check_task_allocate(msg) -> None:
    """Raises MIG_BAD_ARGUMENTS unless task_allocate's fields are well formed: uids of
    ints, at most 3 registered ports, limits >= 0, exception entries of 5 ints with
    distinct types 1..9, a known behavior and a 32-bit flavor."""
    from ..kern.exception import BEHAVIORS, EXC_TYPES_MAX
    ints = lambda xs: all(type(x) is int for x in xs)           # noqa: E731
    exceptions = msg.exceptions
    ok = (wire.uid_ok(msg.bootstrap) and len(msg.registered) <= 3
          and all(wire.uid_ok(u) for u in msg.registered)
          and type(msg.vm_max) is int and type(msg.threads_max) is int
          and msg.vm_max >= 0 and msg.threads_max >= 0
          and all(isinstance(e, list) and len(e) == 5 and ints(e) for e in exceptions))
    if ok:
        types = [e[0] for e in exceptions]
        ok = (len(set(types)) == len(types) and all(1 <= t <= EXC_TYPES_MAX for t in types)
              and all(e[3] in BEHAVIORS and 0 <= e[4] < 1 << 32 for e in exceptions))
    if not ok:
        raise KernError(KernReturn.MIG_BAD_ARGUMENTS, "task_allocate")


def _check(fields: dict, raw_sizes: list):
    """Validated header fields of a network message.  Raises ValueError."""
    try:
        uid = tuple(fields["uid"])
        reply_uid = list(fields["reply_uid"])
        dest_type, reply_type = int(fields["dest_type"]), int(fields["rtype"])
        msg_id, items = fields["msg_id"], fields["body"]
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"bad header: {e}") from None
    if not wire.uid_ok(list(uid)) or dest_type not in (MsgType.PORT_SEND, MsgType.PORT_SEND_ONCE):
        raise ValueError("bad destination")
    if reply_type not in (0, MsgType.PORT_SEND, MsgType.PORT_SEND_ONCE) or not wire.uid_ok(reply_uid):
        raise ValueError("bad reply")
    if msgh_id(msg_id) is None:
        raise ValueError(f"msgh_id {msg_id} is not 32 bits")
    wire.validate_body(items, raw_sizes)
    return uid, dest_type, reply_uid, reply_type, msgh_id(msg_id), items
