"""One node's end of the kernel-to-kernel transport.

Sockets.  Each node has one `Endpoint`: a ZeroMQ ROUTER bound at the node's
address receives requests from every peer, and one DEALER per peer (connected
lazily, on the first message to that peer) carries this node's requests out
and their replies back.  A reply goes out through the ROUTER to the identity
the request came from, so requests always arrive on a ROUTER and replies always
on a DEALER.  The same code serves `inproc://` (nodes in one process, one shared
zmq context) and `tcp://` (nodes in other processes or machines).

One I/O thread.  zmq sockets are not thread-safe, and measurements showed that
blocking sockets driven by one dedicated thread beat zmq.asyncio by 2x.  So a
single I/O thread owns every socket of the endpoint and does all socket calls.
Other threads talk to it through a command deque plus a wake-up pipe polled
beside the sockets: `request` encodes on the caller's thread, registers a
waiter, queues a "send" command and sleeps on the waiter's lock; the I/O
thread sends, later receives the reply, decodes it, matches its seq to the
waiter and wakes it.  Handlers may block (wait for a kernel lock, or for another
node), so they never run on the I/O thread: incoming requests are decoded there
and passed to a small pool of worker threads, whose replies come back to the
I/O thread as "reply" commands.  Only `ping` is answered on the I/O thread
itself, so a liveness probe never queues behind blocked handlers.  All socket
sends are non-blocking: a peer that cannot take more data is declared down
instead of stalling the node.

Incarnations.  Every endpoint draws a random nonzero 64-bit incarnation at
start and sends it in every header.  The first message from a peer records its
incarnation; a message with a different one means the peer restarted: the old
incarnation is declared down.  A request that gets no answer within its timeout
declares the incarnation it was sent to down as well.  Declaring down is final
for that incarnation: waiters on it fail with KERN_NODE_DOWN, the peer's DEALER
is replaced (which discards what was queued for the dead incarnation, and
reconnects inproc addresses, which zmq does not do by itself), `on_peer_down`
callbacks run (in order, on a notifier thread), and anything that incarnation
sends afterwards is dropped as stale.  A new incarnation is accepted as soon as
it is heard from.

Trust.  Nothing a peer sends can raise anything but a counted drop: frames are
cut into chunks of a few KiB (framing.py) so that a stranger can make a node
hold no more than that before the handshake, and are decoded by
`protocol.decode` (WireError -> `dropped_malformed`); replies that are late,
duplicated, for unknown seqs, from a dead incarnation or on another peer's
connection are `dropped_stale`.  With a cluster secret every socket uses
CurveZMQ: the ROUTER is a curve server whose key pair is derived from the
secret (its public key is never sent in clear, so only a holder of the secret
can complete a handshake; refused handshakes are seen on a socket monitor and
counted as `dropped_unauthenticated`), and each endpoint's DEALERs use a key pair
of their own, drawn at random.  That key is the node's identity: the ZAP
handler hands the ROUTER each connection's client key (ZMQ User-Id), and a
message that says it comes from node N must come from N's key -- the key bound
to N by the membership (`bind_key`), or the one N first spoke with.  A
different key is `dropped_spoofed` while N's incarnation lives: a holder of the
secret cannot declare a live node restarted, nor speak for it.  Once N is
declared down a new key may take its place (the node restarted).  inproc
connections skip zmq security altogether (they never leave the process).
"""

import collections
import hashlib
import itertools
import logging
import os
import queue
import threading
import time
from _thread import allocate_lock

import zmq
import zmq.utils.z85
from zmq.utils.monitor import recv_monitor_message

from ..errors import KernError, KernReturn
from . import config, framing
from .messages import error_reply, ping, pong
from .protocol import WireError, decode, encode

log = logging.getLogger("normach.transport")

STAT_KEYS = ("sent", "received", "replies", "dropped_malformed", "dropped_unauthenticated",
             "dropped_spoofed", "dropped_stale", "handler_errors", "peers_down")

_HANDSHAKE_FAILED = (zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                     | zmq.EVENT_HANDSHAKE_FAILED_AUTH)
_WIRE_FRAME_MAX = config.FRAME_BYTES + 256  # a chunk plus CurveZMQ's per-frame box and header
_AUTHENTICATORS: dict = {}                  # zmq context -> its ZAP handler (one per context)
_AUTH_LOCK = threading.Lock()


def curve_keys(secret: bytes) -> tuple:
    """Derive the cluster's CurveZMQ key pair from its secret.

    Returns: (public key, secret key), both z85-encoded bytes.
    """
    assert isinstance(secret, bytes) and secret, "the cluster secret must be non-empty bytes"
    secret_key = zmq.utils.z85.encode(hashlib.sha256(b"normach-curve" + secret).digest())
    return zmq.curve_public(secret_key), secret_key


def _start_zap(ctx) -> None:
    """A ZAP handler for `ctx` (once): it lets every CURVE client in whose handshake
    succeeded -- i.e. who knew the server key -- and names it by its public key."""
    from zmq.auth.thread import ThreadAuthenticator
    with _AUTH_LOCK:
        if ctx in _AUTHENTICATORS:
            return
        auth = ThreadAuthenticator(ctx, log=logging.getLogger("normach.transport.zap"))
        auth.start()
        auth.configure_curve(domain="*", location=zmq.auth.CURVE_ALLOW_ANY)
        _AUTHENTICATORS[ctx] = auth


_serving = threading.local()                # .key: the sender's key of the request served


def _user_id(frame) -> bytes | None:
    """The ZAP User-Id (the sender's public key) of a received frame, if any."""
    try:
        uid = frame.get("User-Id")
    except (zmq.ZMQError, AttributeError):
        return None
    return uid.encode() if isinstance(uid, str) and uid else None


class _Call:
    """One request waiting for its reply.  Whoever removes the call from the
    endpoint's waiters (under the endpoint lock) owns it: it writes `result` or
    `error` once and then releases `done` once; the requester reads them after
    acquiring `done`.  (A bare lock: cheaper to wake than a threading.Event.)"""

    __slots__ = ("peer", "incarnation", "expect", "done", "result", "error")

    def __init__(self, peer, incarnation, expect):
        self.peer = peer
        self.incarnation = incarnation      # peer incarnation when sent (None: not yet known)
        self.expect = expect                # declared reply class
        self.done = allocate_lock()         # held until the call is finished
        self.done.acquire()
        self.result = None
        self.error = None


class _Peer:
    """What this node knows of one peer.  `address`, `incarnation` and `dead` are
    guarded by the endpoint lock; `dealer` belongs to the I/O thread alone."""

    __slots__ = ("address", "incarnation", "dead", "dealer", "key", "key_live", "heard", "monitor")

    def __init__(self, address):
        self.address = address              # where its ROUTER listens (None: only heard from)
        self.incarnation = None             # its live incarnation, once heard from
        self.dead = set()                   # its incarnations declared down
        self.dealer = None                  # our DEALER connected to it (I/O thread only)
        self.key = None                     # its public key (z85 bytes): its identity
        self.key_live = False               # bound and not declared down since
        self.heard = 0.0                    # time.monotonic() of its last admitted message
        self.monitor = None                 # the DEALER's handshake monitor (I/O thread only)


class Endpoint:
    """A node's transport endpoint: requests out, requests in, replies both ways."""

    def __init__(self, node: int, address: str, peers: dict, handler, secret: bytes | None = None,
                 context=None, oneway=None):
        """Bind the node's ROUTER at `address` and start the I/O thread.

        `peers` maps node index -> address; `handler(sender_node, msg)` answers
        incoming requests (returns the reply Message, or None for one-way
        messages; raises KernError to answer with that code).  It may be None
        for an endpoint that only sends.  `oneway(sender_node, msg) -> bool`, if
        given, sees each one-way message first, on the I/O thread: it must not
        block (e.g. it queues the message); True means it took the message, and
        no worker thread is involved (one thread hand-off less per message).
        Raises: KernError(KERN_INVALID_ARGUMENT) if the address cannot be bound.
        """
        self.node = node
        self.incarnation = int.from_bytes(os.urandom(8), "little") or 1
        self._handler = handler
        self._oneway = oneway
        self._ctx = context or zmq.Context.instance()
        self._keys = curve_keys(secret) if secret is not None else None
        self._own = zmq.curve_keypair() if secret is not None else None   # this node's identity
        self._lock = threading.Lock()       # guards everything below up to _thread
        self._closed = False
        self._waiters = {}                  # seq -> _Call
        self._peers = {int(n): _Peer(a) for n, a in peers.items()}
        self._stats = dict.fromkeys(STAT_KEYS, 0)
        self._callbacks = []                # on_peer_down callbacks
        self._cmds = collections.deque()    # commands for the I/O thread
        self._wake_pending = False          # a byte is in the wake pipe, unread
        self._pipe_closed = False           # _shutdown closed the wake pipe
        self._seqs = itertools.count(1)     # request seqs (0 means one-way)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._router = self._bind(address)
        self.address = self._router.getsockopt(zmq.LAST_ENDPOINT).decode()
        self._peers.setdefault(node, _Peer(None)).address = self.address
        self._monitor = self._router.get_monitor_socket(events=_HANDSHAKE_FAILED)
        self._jobs = queue.SimpleQueue()    # (ident, seq, sender, msg) for the handler threads
        self._notes = queue.SimpleQueue()   # nodes declared down, for the notifier thread
        self._workers = [threading.Thread(target=self._work, name=f"normach-n{node}-handler{i}",
                                          daemon=True) for i in range(config.HANDLER_THREADS)]
        self._workers.append(threading.Thread(target=self._notifier, daemon=True,
                                              name=f"normach-n{node}-notify"))
        for t in self._workers:
            t.start()
        self._dealers = {}                  # DEALER socket -> peer node (I/O thread only)
        self._monitors = {}                 # DEALER monitor socket -> peer node (I/O thread only)
        self._poller = zmq.Poller()         # (I/O thread only after start)
        self._poller.register(self._wake_r, zmq.POLLIN)
        self._poller.register(self._router, zmq.POLLIN)
        self._poller.register(self._monitor, zmq.POLLIN)
        self._thread = threading.Thread(target=self._run, name=f"normach-n{node}-io", daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------- public API
    @property
    def public_key(self) -> bytes | None:
        """This endpoint's identity on an authenticated transport (z85), or None."""
        return self._own[0] if self._own is not None else None

    def bind_key(self, node: int, key) -> bool:
        """`node` is the holder of public key `key` (the membership says so).
        Returns: False, binding nothing, if another key is bound to `node` and the
        incarnation that spoke with it was not declared down (a live node keeps its key)."""
        if key is None:
            return True
        key = key.encode() if isinstance(key, str) else bytes(key)
        with self._lock:
            p = self._peers.setdefault(int(node), _Peer(None))
            if p.key_live and p.key != key:
                return False
            p.key, p.key_live = key, True
            return True

    def key_live(self, node: int) -> bool:
        """A key is bound to `node` and it was not declared down since."""
        with self._lock:
            p = self._peers.get(node)
            return p is not None and p.key_live

    def peer_key(self, node: int) -> bytes | None:
        """The public key bound to `node`, or None."""
        with self._lock:
            p = self._peers.get(node)
            return p.key if p else None

    def sender_key(self) -> bytes | None:
        """The public key of whoever sent the request this handler thread serves."""
        return getattr(_serving, "key", None)

    def request(self, peer: int, msg, timeout: float | None):
        """Send a request to `peer` and wait for its reply.

        Returns: the reply Message (of the type declared as `msg`'s reply).
        Raises: KernError(KERN_NODE_DOWN) if the peer is down, did not answer
        within `timeout` seconds (None: wait until answered or down), or this
        endpoint is closed; KernError(code) if the peer answered error_reply;
        KernError(MIG_REPLY_MISMATCH) if it answered another message;
        KernError(KERN_INVALID_ARGUMENT) if `peer` has no known address;
        WireError if `msg` does not fit its declaration (a bug: nothing is sent).
        """
        expect = type(msg).reply_type()
        assert expect is not None, f"{msg.name} has no reply: use send()"
        seq = next(self._seqs)
        frames = encode(msg, seq, self.node, self.incarnation)
        with self._lock:
            p = self._peer_locked(peer)
            call = _Call(peer, p.incarnation, expect)
            self._waiters[seq] = call
            self._post_locked(("send", peer, frames, seq))
        self._wake()
        if not call.done.acquire(timeout=-1 if timeout is None else max(timeout, 0)):
            with self._lock:
                timed_out = self._waiters.get(seq) is call
                if timed_out:
                    del self._waiters[seq]
            if timed_out:
                self._declare_down(peer, call.incarnation, f"no answer within {timeout} s")
                raise KernError(KernReturn.KERN_NODE_DOWN, f"node {peer}: no answer to {msg.name}")
            call.done.acquire()             # finished meanwhile: its owner is about to release
        if call.error is not None:
            raise call.error
        return call.result

    def send(self, peer: int, msg) -> None:
        """Send a one-way message (seq 0: the peer sends no reply).  Delivery is
        not confirmed; a peer found down is declared down.
        Raises: KernError(KERN_NODE_DOWN) if this endpoint is closed,
        KernError(KERN_INVALID_ARGUMENT) if `peer` has no known address,
        WireError if `msg` does not fit its declaration.
        """
        frames = encode(msg, 0, self.node, self.incarnation)
        with self._lock:
            self._peer_locked(peer)
            self._post_locked(("send", peer, frames, 0))
        self._wake()

    def add_peer(self, node: int, address: str) -> None:
        """Record (or change) the address of a peer; a changed address gets a fresh DEALER."""
        with self._lock:
            p = self._peers.setdefault(int(node), _Peer(None))
            if p.address != address:
                p.address = address
                self._post_locked(("reset", int(node)))
        self._wake()

    def last_heard(self, node: int) -> float | None:
        """Returns: the time.monotonic() of the last message admitted from `node`, or
        None if it was never heard from (or was forgotten)."""
        with self._lock:
            p = self._peers.get(node)
            return p.heard if p is not None and p.heard else None

    def strangers(self, idle_s: float, keep) -> list[int]:
        """Senders not in `keep` (members, clients) silent for `idle_s`: one-off senders,
        departed strangers; each holds an entry here until forgotten."""
        now = time.monotonic()
        with self._lock:
            return [n for n, p in self._peers.items()
                    if n not in keep and n != self.node and now - p.heard > idle_s]

    def forget(self, node: int, reason: str) -> None:
        """Declare `node`'s live incarnation down (callbacks run) and drop what this
        endpoint holds for it: its entry and its DEALER (a departed client)."""
        with self._lock:
            p = self._peers.get(node)
            if p is None:
                return
            failed = self._declare_down_locked(node, p.incarnation)
            self._cmds.append(("forget", node))
        if failed is not None:
            self._finish_down(node, failed, reason)
        self._wake()

    def on_peer_down(self, callback) -> None:
        """Call `callback(node)` (on the notifier thread) whenever a peer
        incarnation is declared down: restart seen, timeout, or send refused."""
        with self._lock:
            self._callbacks.append(callback)

    @property
    def stats(self) -> dict:
        """Returns: a snapshot of the counters (keys: STAT_KEYS)."""
        with self._lock:
            return dict(self._stats)

    def peer_incarnation(self, node: int):
        """Returns: the live incarnation of `node` as last heard, or None."""
        with self._lock:
            p = self._peers.get(node)
            return p.incarnation if p else None

    @property
    def closed(self) -> bool:
        """close() was called (or the I/O thread stopped)."""
        with self._lock:
            return self._closed

    def close(self) -> None:
        """Stop the I/O thread (joined) and fail every waiting request with
        KERN_NODE_DOWN.  Idempotent.  Handlers still running finish, unanswered."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._cmds.append(("stop",))
        self._wake(force=True)
        if threading.current_thread() is not self._thread:
            self._thread.join()
        for _ in range(config.HANDLER_THREADS):
            self._jobs.put(None)            # handler threads exit when idle (not joined:
        self._notes.put(None)               # a handler may be blocked for a long time)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------- shared helpers

    def _peer_locked(self, peer):
        if self._closed:
            raise KernError(KernReturn.KERN_NODE_DOWN, f"node {self.node}: endpoint closed")
        p = self._peers.get(peer)
        if p is None or p.address is None:
            raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"no address for node {peer}")
        return p

    def _post_locked(self, cmd):
        self._cmds.append(cmd)

    def _wake(self, force=False):
        # Under the lock, so the pipe is never written after _shutdown closed it
        # (its fd number could already belong to another file).
        with self._lock:
            if self._pipe_closed or (self._wake_pending and not force):
                return
            self._wake_pending = True
            os.write(self._wake_w, b"\0")  # one byte per wake-up: never fills the pipe

    def _count(self, key, n=1):
        with self._lock:
            self._stats[key] += n

    def _declare_down(self, node, incarnation, reason):
        """Declare `incarnation` of `node` down (None: the incarnation we never
        learned).  Fails its waiters, replaces the DEALER, schedules callbacks."""
        with self._lock:
            failed = self._declare_down_locked(node, incarnation)
            if failed is None:
                return
        log.info("node %d: peer %d (incarnation %s) down: %s", self.node, node, incarnation, reason)
        self._finish_down(node, failed, reason)

    def _declare_down_locked(self, node, incarnation):
        p = self._peers.get(node)
        if p is None:
            return None
        if incarnation is None:             # sent before we knew: it went to whoever is there
            incarnation = p.incarnation
        if incarnation is not None and incarnation in p.dead:
            return None
        if incarnation is not None:
            p.dead.add(incarnation)
        if p.incarnation == incarnation:
            p.incarnation = None
            p.key_live = False              # a new key may speak for it now (a restart)
        failed = [(s, c) for s, c in self._waiters.items()
                  if c.peer == node and c.incarnation in (incarnation, None)]
        for s, _ in failed:
            del self._waiters[s]
        self._stats["peers_down"] += 1
        self._cmds.append(("reset", node))
        return [c for _, c in failed]

    def _finish_down(self, node, failed, reason):
        err = KernError(KernReturn.KERN_NODE_DOWN, f"node {node} down: {reason}")
        for c in failed:
            c.error = err
            c.done.release()
        self._wake()
        self._notes.put(node)

    def _notifier(self):
        """Notifier thread: run the on_peer_down callbacks, in order of the downs."""
        while (node := self._notes.get()) is not None:
            with self._lock:
                callbacks = list(self._callbacks)
            for cb in callbacks:
                try:
                    cb(node)
                except Exception:
                    log.exception("node %d: on_peer_down callback failed", self.node)
                    self._count("handler_errors")

    def _work(self):
        """Handler thread: serve requests until told to stop."""
        while (job := self._jobs.get()) is not None:
            try:
                _serving.key = job[4]
                self._serve(*job[:4])
            except Exception:               # a bug in _serve itself: keep the thread
                log.exception("node %d: serving a request failed", self.node)
                self._count("handler_errors")

    def _serve(self, ident, seq, sender, msg):
        """Worker thread: run the handler on one request and queue its reply."""
        try:
            if self._handler is None:
                raise KernError(KernReturn.MIG_BAD_ID, f"node {self.node} serves no requests")
            reply = self._handler(sender, msg)
            if seq == 0:
                return
            if reply is None:
                reply = error_reply(KernReturn.MIG_NO_REPLY, f"{msg.name}: no reply")
            elif type(reply) is not msg.reply_type() and type(reply) is not error_reply:
                raise AssertionError(f"handler answered {msg.name} with {reply.name}")
            frames = encode(reply, seq, self.node, self.incarnation)
        except KernError as e:
            if seq == 0:
                return
            frames = encode(error_reply(e.code, e.detail), seq, self.node, self.incarnation)
        except Exception:
            log.exception("node %d: handler failed on %r from node %d", self.node, msg, sender)
            self._count("handler_errors")
            if seq == 0:
                return
            frames = encode(error_reply(KernReturn.KERN_FAILURE, f"{msg.name}: handler error"),
                            seq, self.node, self.incarnation)
        with self._lock:
            if self._closed:
                return
            self._cmds.append(("reply", ident, frames))
        self._wake()

    # ------------------------------------------------------------ I/O thread

    def _bind(self, address):
        s = self._ctx.socket(zmq.ROUTER)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.MAXMSGSIZE, _WIRE_FRAME_MAX)
        s.setsockopt(zmq.HANDSHAKE_IVL, config.HANDSHAKE_IVL_MS)
        if self._keys is not None:
            _start_zap(self._ctx)
            s.curve_server = True
            s.curve_secretkey = self._keys[1]
        deadline = time.monotonic() + config.INPROC_BIND_RETRY_S
        while True:
            try:
                s.bind(address)
                return s
            except zmq.ZMQError as e:       # a closing endpoint may still hold the name
                if e.errno != zmq.EADDRINUSE or time.monotonic() > deadline:
                    s.close(0)
                    raise KernError(KernReturn.KERN_INVALID_ARGUMENT,
                                    f"cannot bind {address}: {e}") from None
                time.sleep(0.01)

    def _dealer(self, node):
        p = self._peers[node]
        if p.dealer is None:
            with self._lock:
                address = p.address
            d = self._ctx.socket(zmq.DEALER)
            d.setsockopt(zmq.LINGER, 0)
            d.setsockopt(zmq.MAXMSGSIZE, _WIRE_FRAME_MAX)
            d.setsockopt(zmq.HANDSHAKE_IVL, config.HANDSHAKE_IVL_MS)
            d.setsockopt(zmq.RECONNECT_IVL, config.RECONNECT_IVL_MS)
            d.setsockopt(zmq.RECONNECT_IVL_MAX, config.RECONNECT_IVL_MAX_MS)
            if self._keys is not None:
                d.curve_serverkey = self._keys[0]
                d.curve_publickey, d.curve_secretkey = self._own
            monitor = d.get_monitor_socket(events=_HANDSHAKE_FAILED) if self._keys else None
            try:
                d.connect(address)
            except zmq.ZMQError:            # an address zmq refuses: no sockets left behind
                if monitor is not None:
                    d.disable_monitor()
                    monitor.close(0)
                d.close(0)
                raise
            if monitor is not None:
                p.monitor = monitor
                self._monitors[monitor] = node
                self._poller.register(monitor, zmq.POLLIN)
            p.dealer = d
            self._dealers[d] = node
            self._poller.register(d, zmq.POLLIN)
        return p.dealer

    def _reset_dealer(self, node):
        p = self._peers.get(node)
        if p is not None and p.dealer is not None:
            self._poller.unregister(p.dealer)
            del self._dealers[p.dealer]
            if p.monitor is not None:
                p.dealer.disable_monitor()
                self._poller.unregister(p.monitor)
                del self._monitors[p.monitor]
                p.monitor.close(0)
                p.monitor = None
            p.dealer.close(0)
            p.dealer = None

    def _forget(self, node):
        """Drop a forgotten peer's entry, unless it spoke again since (a new incarnation)."""
        self._reset_dealer(node)
        with self._lock:
            p = self._peers.get(node)
            if p is not None and p.incarnation is None:
                del self._peers[node]

    def _on_dealer_monitor(self, monitor):
        """A DEALER's handshake failed: the peer does not hold our cluster secret (or
        we do not hold its): its waiters fail at once with KERN_NO_ACCESS."""
        node = self._monitors.get(monitor)
        while True:
            try:
                event = recv_monitor_message(monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            except Exception:               # a truncated monitor message: ignore it
                return
            if node is None or not event["event"] & _HANDSHAKE_FAILED:
                continue
            err = KernError(KernReturn.KERN_NO_ACCESS,
                            f"node {node}: authentication failed (not the cluster's secret)")
            with self._lock:
                self._stats["dropped_unauthenticated"] += 1
                failed = [(s, c) for s, c in self._waiters.items() if c.peer == node]
                for s, _ in failed:
                    del self._waiters[s]
            for _, c in failed:
                c.error = err
                c.done.release()

    def _run(self):
        try:
            while True:
                try:
                    if not self._step():
                        return
                except zmq.ContextTerminated:
                    return
                except Exception:           # a bug: keep the node's transport alive
                    log.exception("node %d: transport I/O thread error", self.node)
        finally:
            self._shutdown()

    def _step(self):
        """One turn of the I/O loop.  Returns: False once told to stop."""
        ready = dict(self._poller.poll())
        if self._wake_r in ready:
            try:
                os.read(self._wake_r, 4096)
            except BlockingIOError:
                pass
        if self._router in ready:
            self._drain(self._router, self._on_request)
        for sock in [s for s in ready if s in self._dealers]:
            if sock in self._dealers:       # not reset meanwhile
                self._drain(sock, self._on_reply)
        if self._monitor in ready:
            self._on_monitor()
        for sock in [s for s in ready if s in self._monitors]:
            self._on_dealer_monitor(sock)
        with self._lock:
            self._wake_pending = False
            cmds = list(self._cmds)
            self._cmds.clear()
        for cmd in cmds:
            if cmd[0] == "send":
                self._do_send(*cmd[1:])
            elif cmd[0] == "reply":
                self._do_reply(*cmd[1:])
            elif cmd[0] == "reset":
                self._reset_dealer(cmd[1])
            elif cmd[0] == "forget":
                self._forget(cmd[1])
            elif cmd[0] == "stop":
                return False
        return True

    def _drain(self, sock, on_frames, batch=64):
        for _ in range(batch):
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            on_frames(sock, frames)

    def _do_send(self, node, frames, seq):
        try:
            self._dealer(node).send_multipart(framing.split(frames), zmq.NOBLOCK)
        except zmq.ZMQError as e:           # Again: the peer takes nothing (dead inproc pipe, full queue)
            with self._lock:
                call = self._waiters.get(seq) if seq else None
                inc = call.incarnation if call else self._peers[node].incarnation
            self._declare_down(node, inc, f"cannot send: {e}")
            return
        self._count("sent")

    def _do_reply(self, ident, frames):
        try:
            self._router.send_multipart([ident, *framing.split(frames)], zmq.NOBLOCK)
        except zmq.ZMQError:                # requester gone or not reading: it will time out
            self._count("dropped_stale")
            return
        self._count("sent")

    def _admit(self, header, key=None):
        """Check a decoded message's sender: its key (None: unauthenticated transport)
        and its incarnation, noting restarts.
        Returns: True if the message is from the node's key and a live incarnation."""
        node, inc = header.node, header.incarnation
        with self._lock:
            p = self._peers.setdefault(node, _Peer(None))
            if inc in p.dead:
                self._stats["dropped_stale"] += 1
                return False
            if key is not None and p.key != key:
                if p.key is not None and p.key_live:
                    self._stats["dropped_spoofed"] += 1
                    return False
                p.key = key                 # first heard, or a restart after it was down
            if key is not None:
                p.key_live = True
            p.heard = time.monotonic()
            self._stats["received"] += 1
            if p.incarnation == inc:
                return True
            old = p.incarnation
            failed = self._declare_down_locked(node, old) if old is not None else None
            p.incarnation = inc
        if failed is not None:
            self._finish_down(node, failed, f"restarted as incarnation {inc}")
        return True

    def _on_request(self, sock, frames):
        if len(frames) < 2:
            self._count("dropped_malformed")
            return
        ident = frames[0].bytes
        key = _user_id(frames[1]) if self._keys is not None else None
        if self._keys is not None and key is None:
            self._count("dropped_unauthenticated")
            return
        try:
            header, msg = decode(framing.join(frames[1:]))
        except WireError as e:
            log.debug("node %d: malformed request dropped: %s", self.node, e.reason)
            self._count("dropped_malformed")
            return
        if not self._admit(header, key):
            return
        if type(msg) is ping:
            if header.seq:
                self._do_reply(ident, encode(pong(msg.seq), header.seq, self.node,
                                             self.incarnation))
            return
        if header.seq == 0 and self._oneway is not None:
            try:
                if self._oneway(header.node, msg):
                    return
            except Exception:                  # a bug in the callback: never stop the I/O thread
                log.exception("node %d: one-way callback failed", self.node)
                self._count("handler_errors")
                return
        self._jobs.put((ident, header.seq, header.node, msg, key))

    def _on_reply(self, sock, frames):
        try:
            header, msg = decode(framing.join(frames))
        except WireError as e:
            log.debug("node %d: malformed reply dropped: %s", self.node, e.reason)
            self._count("dropped_malformed")
            return
        if self._dealers.get(sock) != header.node:
            self._count("dropped_stale")    # a reply must come on the connection to its node
            return
        if not self._admit(header):
            return
        with self._lock:
            call = self._waiters.get(header.seq)
            if (call is None or call.peer != header.node
                    or call.incarnation not in (None, header.incarnation)):
                self._stats["dropped_stale"] += 1
                return
            del self._waiters[header.seq]
            self._stats["replies"] += 1
            if type(msg) is call.expect:
                call.result = msg
            elif type(msg) is error_reply:
                call.error = KernError(msg.code, msg.detail)
            else:
                call.error = KernError(KernReturn.MIG_REPLY_MISMATCH,
                                       f"expected {call.expect.name}, got {msg.name}")
        call.done.release()

    def _on_monitor(self):
        while True:
            try:
                event = recv_monitor_message(self._monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            except Exception:               # a truncated monitor message: ignore it
                return
            if event["event"] & _HANDSHAKE_FAILED:
                self._count("dropped_unauthenticated" if self._keys else "dropped_malformed")

    def _shutdown(self):
        for node in list(self._peers):
            self._reset_dealer(node)
        try:
            self._router.disable_monitor()
        except zmq.ZMQError:
            pass
        self._monitor.close(0)
        self._router.close(0)
        with self._lock:
            self._closed = True
            waiters = list(self._waiters.values())
            self._waiters.clear()
            self._pipe_closed = True
            os.close(self._wake_r)
            os.close(self._wake_w)
        err = KernError(KernReturn.KERN_NODE_DOWN, f"node {self.node}: endpoint closed")
        for c in waiters:
            c.error = err
            c.done.release()
