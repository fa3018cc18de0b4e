"""A node as an operating-system process: `python -m normach.node_process`.

The process runs one node kernel, its transport endpoint (tcp) and its DIPC
layer, prints one JSON line `{"node": I, "address": ..., "key": ...}` once it
listens (and has joined), and then serves: DIPC messages from the other nodes,
and the control protocol (dipc/control.py) from clients, until it is told to
shut down or killed.  `Cluster(nodes=N, processes=True)`, `normach up`,
`normach node` and the launcher (launcher.py) start these.

Membership.  The table maps each member node to [address, public key]; a key
is a node's identity.  A node joins through a member (`join`), which checks
that no live incarnation holds the index (a ping: a node that died may come
back) and tells every other member; a member replaces a known entry only once
the old incarnation is silent (`learn`).  Clients are not members: each node
records the clients that announced themselves to it (`admit_client`) and
forgets them when they leave or fall silent (`reap_clients`).

Programs.  The programs this node started (`ctl_spawn`) are kept in its
ProgramTable (programs.py) under ids HOME-K, and followed wherever they move.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time

from . import param
from .errors import KernError, KernReturn
from .dipc import control as _control  # noqa: F401  (declares the control messages it decodes)
from .programs import ProgramTable, port_uid, task_by_uid, task_exit


class NodeProcess:
    """One node kernel served over tcp."""

    def __init__(self, index: int, nnodes: int, listen: str, secret: bytes | None,
                 phys_bytes: int, memory: int | None = None, advertise: str | None = None):
        from . import boot
        from .dipc.net import DipcNet
        self.kernel = boot.node_kernel(index, nnodes, phys_bytes, memory)
        self.secret = secret
        self.net = DipcNet(index, listen, secret, handler=self.handle)
        self._address = advertised(self.net.endpoint.address, advertise)
        boot.connect(self.kernel, self.net, [])
        self.stopped = threading.Event()
        self.table = {index: [self.address, _key_str(self.net.endpoint.public_key)]}
        # membership: node -> [address, public key] (the key is the node's identity)
        self.console = None                           # the console server (first spawn)
        self.programs = ProgramTable(self.kernel, self.net)   # the programs started here
        self.started = time.monotonic()
        self.waiters = threading.BoundedSemaphore(param.CTL_WAITERS_MAX)   # see _budget
        self.refused_entries = 0                      # table entries refused (table_lock)
        self.pending: dict = {}                       # node -> entry waiting for the old one
        self.clients: dict = {}                       # client node -> time admitted (table_lock)
        self.table_lock = threading.Lock()            # guards table, pending, clients, console
        self.net.endpoint.on_peer_down(self._peer_down)
        from .servers import migration
        migration.listeners.append(self.programs.migrated)
        threading.Thread(target=self._reaper, daemon=True, name=f"node{index}-reaper").start()

    @property
    def address(self) -> str:
        """Where peers reach this node (its --advertise host, its bound port)."""
        return self._address

    def handle(self, sender: int, msg):
        """Control messages here; DIPC messages to the DIPC layer."""
        from .dipc import control as c
        if not msg.name.startswith("ctl_"):
            return self.net.handle(sender, msg)
        me = self.kernel.node
        if msg.name == "ctl_peers":
            if not self._member(sender):
                raise KernError(KernReturn.KERN_NO_ACCESS, "ctl_peers: only from a member")
            self.learn(msg.table)
            return c.ctl_ok(node=me)
        if msg.name == "ctl_join":
            return self.join(msg.node, msg.address, msg.key, sender)
        if msg.name == "ctl_leave":
            if sender >= self.kernel.nnodes:       # a client leaves for itself only
                self.leave(sender)
            return c.ctl_ok(node=me)
        if msg.name == "ctl_info":
            with self.table_lock:
                return c.ctl_table(node=me, nnodes=self.kernel.nnodes, table=dict(self.table))
        if msg.name == "ctl_task_create":
            return c.ctl_uid(uid=self._export(self._fresh_task(msg.label), sender))
        if msg.name == "ctl_host":
            host = self.kernel.host_priv if msg.privileged else self.kernel.host
            return c.ctl_uid(uid=self._export(host.port, sender))
        if msg.name == "ctl_audit":
            from .kern.audit import audit_kernel
            return c.ctl_problems(problems=audit_kernel(self.kernel))
        if msg.name == "ctl_task":
            return c.ctl_uid(uid=self._export(self._task_by_id(msg.task).itk_self, sender))
        if msg.name == "ctl_stats":
            return c.ctl_counts(counts=self.stats())
        if msg.name == "ctl_ps":
            from .ps import task_rows, to_wire
            return c.ctl_rows(rows=to_wire(task_rows(self.kernel)))
        if msg.name == "ctl_shutdown":
            self.stopped.set()
            return c.ctl_ok(node=me)
        if msg.name == "ctl_spawn":
            return self.spawn(msg, sender)
        if msg.name == "ctl_wait":
            return self.wait(msg.program, msg.timeout_ms)
        if msg.name == "ctl_follow":
            return self.follow(msg.program, msg.offset, msg.timeout_ms)
        if msg.name == "ctl_resume":
            self.resume(msg.program)
            return c.ctl_ok(node=me)
        if msg.name == "ctl_kill":
            from . import mach
            mach.task_terminate(self.programs.get(msg.program).handle)
            return c.ctl_ok(node=me)
        if msg.name == "ctl_migrate":
            return self.migrate(msg.program, msg.task, msg.node, msg.uid)
        if msg.name == "ctl_exit":
            with self._budget(msg.timeout_ms) as wait_s:
                done, status, reason = task_exit(self.kernel, _uid(msg.uid), wait_s)
            successor = self.programs.successor(_uid(msg.uid), 2.0) if done else None
            return c.ctl_exited(done=done, status=status, reason=reason,
                                successor=list(successor or []))
        if msg.name == "ctl_port":
            return c.ctl_uid(uid=self._export(self._task_by_uid(_uid(msg.uid)).itk_self, sender))
        if msg.name == "ctl_programs":
            return c.ctl_rows(rows=self.programs.rows())
        return None

    def stats(self) -> dict:
        """node_stats (normach/ps.py) and what `normach status` shows of a node process."""
        from .ps import node_stats
        counts = node_stats(self.kernel)
        xmm = self.net.xmm.stats if self.net.xmm is not None else {}
        with self.table_lock:
            clients, members = len(self.clients), sorted(self.table)
        counts.update(address=self.address, incarnation=self.net.endpoint.incarnation,
                      uptime_s=round(time.monotonic() - self.started, 1),
                      pages_in=xmm.get("pages_in", 0), pages_out=xmm.get("pushed_out", 0),
                      clients=clients, members=members,
                      down=self._down(),
                      programs=len(self.programs.rows()))
        return counts

    def _down(self) -> list:
        with self.kernel.lock:
            return sorted(n for n in self.kernel.remote.down if n < self.kernel.nnodes)

    # -- guest programs ------------------------------------------------------------------
    def spawn(self, msg, sender: int):
        """Load and start a program here (its console is this node's console server)."""
        from .dipc import control as c
        from .servers.console import launch
        with self.table_lock:
            if self.console is None:
                self.console = self._start_console()
        task, thread, out = launch(self.kernel, self.console, bytes(msg.image), msg.label,
                                   [str(a) for a in msg.argv], suspended=msg.suspended,
                                   privileged=bool(msg.privileged), root=msg.root or None)
        p = self.programs.add(msg.label, task, thread, out)
        return c.ctl_spawned(program=p.k, uid=self._export(task.itk_self, sender))

    def _start_console(self):
        """This node's console server, in a task of its own."""
        from .handles import Task
        from .ipc.port import ipc_port_make_send
        from .kern.task import task_create
        from .servers.console import ConsoleServer
        with self.kernel.lock:
            t = task_create(None, False, kernel=self.kernel, name="console")
            handle = Task(ipc_port_make_send(t.itk_self))
        return ConsoleServer(handle, f"console{self.kernel.node}")

    def _task_by_id(self, task_id: int):
        """The live task with `task_id` (as `normach ps` shows it).  Raises KERN_INVALID_ARGUMENT."""
        with self.kernel.lock:
            for t in self.kernel.tasks:
                if t.id == task_id and t.active:
                    return t
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"no task {task_id} on node {self.kernel.node}")

    @contextlib.contextmanager
    def _budget(self, timeout_ms):
        """How long a control request may wait on a handler thread: those threads also
        serve the other nodes' DIPC requests, so at most CTL_WAITERS_MAX wait at once,
        each at most CTL_WAIT_S (the client asks again); the others answer at once."""
        if not self.waiters.acquire(blocking=False):
            yield 0.0
            return
        try:
            yield min(_clamp_ms(timeout_ms), param.CTL_WAIT_S)
        finally:
            self.waiters.release()

    def _task_by_uid(self, uid: tuple):
        """The live task here whose port is `uid`.  Raises KERN_INVALID_ARGUMENT."""
        with self.kernel.lock:
            task = task_by_uid(self.kernel, uid)
        if task is None or not task.active:
            raise KernError(KernReturn.KERN_INVALID_ARGUMENT,
                            f"no task {uid[0]}.{uid[1]} on node {self.kernel.node}")
        return task

    def resume(self, k: int) -> None:
        """Start a program spawned suspended.  Raises: KERN_INVALID_ARGUMENT (no such program,
        or already started)."""
        from .kern.thread import thread_resume
        p = self.programs.get(k)
        with self.programs.lock:
            thread, p.thread = p.thread, None
        if thread is None:
            raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"program {k} was started")
        with self.kernel.lock:
            thread_resume(thread)

    def wait(self, k: int, timeout_ms: int):
        """The program's state after waiting up to `timeout_ms` for it to end, wherever
        it moved."""
        from .dipc import control as c
        p = self.programs.get(k)
        with self._budget(timeout_ms) as wait_s:
            end = time.monotonic() + wait_s
            ended = self.programs.state(p, 0)
            while ended is None and time.monotonic() < end:
                ended = self.programs.state(p, end - time.monotonic())
        last = max(0, p.out.end() - param.FOLLOW_CHUNK)  # its last words (ctl_follow: all)
        output = p.out.since(last, param.FOLLOW_CHUNK)[0]
        status, reason = ended or (0, "")
        return c.ctl_status(done=ended is not None, status=status, reason=reason, output=output)

    def follow(self, k: int, offset: int, timeout_ms: int):
        """The program's output from `offset` (up to FOLLOW_CHUNK bytes), once there is
        some or it ended or `timeout_ms` passed; with its end, if it ended and every
        byte it wrote was given."""
        from .dipc import control as c
        p = self.programs.get(k)
        if type(offset) is not int or offset < 0:
            raise KernError(KernReturn.MIG_BAD_ARGUMENTS, "ctl_follow: offset")
        with self._budget(timeout_ms) as wait_s:
            end = time.monotonic() + wait_s
            while True:
                ended = self.programs.state(p, 0)
                data, after = p.out.since(offset, param.FOLLOW_CHUNK)
                left = end - time.monotonic()
                if data or ended is not None or left <= 0:
                    break
                if self.programs.state(p, min(left, 0.05)) is None:
                    p.out.since(offset, 0, min(end - time.monotonic(), 0.05))
        done = ended is not None and not p.out.since(after, 1)[0]
        status, reason = ended if done else (0, "")
        return c.ctl_progress(done=done, status=status, reason=reason, output=data,
                              offset=after, node=p.node)

    def migrate(self, k: int, task_id: int, to: int, uid=None):
        """Move program `k` of this node (or, with k == -1, the task `task_id` here, or
        with task_id -1 too the task whose port is `uid`) to node `to`: the migration
        runs here and outlives whoever asked; this node keeps where the task went
        (ProgramTable.successor) for the program's home to follow.
        Raises: KernError, as task_migrate."""
        from .dipc import control as c
        from .handles import Task
        from .ipc.port import ipc_port_make_send
        from .servers.migration import task_migrate
        if type(to) is not int or not 0 <= to < self.kernel.nnodes:
            raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"no node {to}")
        if k == -1:
            task = self._task_by_id(task_id) if task_id != -1 else self._task_by_uid(_uid(uid))
            with self.kernel.lock:
                handle = Task(ipc_port_make_send(task.itk_self))
        else:
            handle = self.programs.get(k).handle
        try:
            m = task_migrate(handle, to)
        finally:
            if k == -1:
                handle.deallocate()
        reply = c.ctl_moved(node=m.node, uid=list(port_uid(m.task.port)), threads=m.threads,
                            rights=m.rights,
                            messages=m.messages, freeze_us=int(m.freeze_s * 1e6))
        if k == -1 and not getattr(m, "adopted", False):
            m.task.deallocate()                     # (else a program of this node holds it)
        return reply

    def learn(self, table: dict) -> None:
        """Add members (node -> [address, key]) this node did not know; a member's key
        is the only one its messages are taken from.  The entry of a member whose key
        is live (not declared down) does not change: nobody can redirect a live node's
        traffic or take its identity.  A new entry for a live member (the node was
        restarted, and this node has not yet seen the old one fall silent) waits in
        `pending` and takes effect when the old incarnation is declared down.
        Raises: KERN_INVALID_ARGUMENT (an entry that is not node index -> [address, key])."""
        if not all(_member_ok(n, e) and n < self.kernel.nnodes for n, e in table.items()):
            raise KernError(KernReturn.KERN_INVALID_ARGUMENT, "a membership table entry")
        for node, entry in table.items():
            with self.table_lock:
                if node == self.kernel.node or self.table.get(node) == entry:
                    continue
                replaced = node in self.table
            if replaced:
                self._answers(node)             # a silent old incarnation is declared down now
            with self.table_lock:
                self._enter_locked(node, entry)

    def _enter_locked(self, node: int, entry: list) -> None:
        """Make `entry` the member `node`'s, or keep it pending.  Conditions: table_lock held."""
        assert self.table_lock.locked()
        endpoint = self.net.endpoint
        if node in self.table and endpoint.key_live(node):
            if len(self.pending) >= 2 * self.kernel.nnodes and node not in self.pending:
                self.refused_entries += 1
                return
            self.pending[node] = entry              # applied once the old one is down
            return
        if not endpoint.bind_key(node, entry[1] or None):
            self.refused_entries += 1
            return
        self.pending.pop(node, None)
        self.table[node] = entry
        endpoint.add_peer(node, entry[0])
        if node not in self.net.peers:
            self.net.peers.append(node)

    def _peer_down(self, node: int) -> None:
        """on_peer_down (after DIPC's): a member restarted elsewhere takes its new entry
        now; a client or stranger forgotten leaves no trace in DIPC's down set."""
        with self.table_lock:
            entry = self.pending.get(node)
            if entry is not None:
                self._enter_locked(node, entry)
            gone = node >= self.kernel.nnodes and node not in self.clients
        if gone:
            with self.kernel.lock:
                self.kernel.remote.down.discard(node)

    def _member(self, node: int) -> bool:
        """`node` is a live member (its key is bound: its messages are its own)."""
        with self.table_lock:
            known = node in self.table and node != self.kernel.node
        return known and self.net.endpoint.key_live(node)

    def join(self, node: int, address: str, key: str = "", sender: int | None = None):
        """A node (index below nnodes) joins through this node: it gets the table and
        every other member learns of it, with its key: the one its join came with (or,
        from the launcher that started it, the one it printed).  A node whose old
        incarnation does not answer may join again (a restart).  A client (an index
        at or past nnodes) is recorded here alone (`admit_client`).
        Raises: KERN_INVALID_ARGUMENT (a bad entry; an index out of range; a live
        node's index)."""
        from .dipc import control as c
        key = key or _key_str(self.net.endpoint.sender_key())
        entry = [address, key]
        if not _member_ok(node, entry):
            raise KernError(KernReturn.KERN_INVALID_ARGUMENT, "ctl_join: node index and address")
        if node >= self.kernel.nnodes:                 # a client speaks for itself alone
            if sender is not None and node != sender:
                raise KernError(KernReturn.KERN_NO_ACCESS, "a client joins as itself")
            entry[1] = _key_str(self.net.endpoint.sender_key())
            return self.admit_client(node, entry)
        if node == self.kernel.node or (node in self.table and self._answers(node)):
            raise KernError(KernReturn.KERN_NAME_EXISTS,
                            f"node {node} is up already (its index is taken)")
        with self.table_lock:
            self._enter_locked(node, entry)
            if self.table.get(node) != entry:
                raise KernError(KernReturn.KERN_NAME_EXISTS, f"node {node} cannot join")
            table = dict(self.table)
        self._tell_members(table, node, entry)
        return c.ctl_table(node=node, nnodes=self.kernel.nnodes, table=table)

    def _answers(self, node: int) -> bool:
        """Does the incarnation of member `node` we know still answer?  (One ping; a
        silent one is declared down, which frees its index.)"""
        from .transport.messages import ping
        if not self.net.endpoint.key_live(node):
            return False
        try:
            self.net.endpoint.request(node, ping(seq=0), param.DIPC_HEARTBEAT_TIMEOUT_S)
            return True
        except KernError:
            return False

    def _tell_members(self, table: dict, node: int, entry: list) -> None:
        """Every other member learns of the new node; the new node learns every member."""
        from .dipc import control as c
        for n in [n for n in table if n not in (self.kernel.node, node)]:
            try:
                self.net.endpoint.request(n, c.ctl_peers(table={node: entry}), 10.0)
            except KernError:
                pass                                   # a member that is down learns nothing
        try:
            self.net.endpoint.request(node, c.ctl_peers(table=table), 10.0)
        except KernError:
            pass

    def admit_client(self, node: int, entry: list):
        """A client announces itself: this node (alone) can now send to it, and
        forgets it when it leaves or falls silent (`reap_clients`)."""
        from .dipc import control as c
        import time
        endpoint = self.net.endpoint
        with self.table_lock:
            if node not in self.clients and len(self.clients) >= param.CLIENTS_MAX:
                raise KernError(KernReturn.KERN_RESOURCE_SHORTAGE, "too many clients")
            if not endpoint.bind_key(node, entry[1] or None):
                raise KernError(KernReturn.KERN_NAME_EXISTS, f"client {node} is another's")
            endpoint.add_peer(node, entry[0])
            self.clients[node] = time.monotonic()
            self.net.clients.add(node)
            table = dict(self.table)
        return c.ctl_table(node=node, nnodes=self.kernel.nnodes, table=table)

    def leave(self, node: int, why: str = "left") -> None:
        """A client is forgotten: the rights it held are released (its proxies here
        die, D5.8), and nothing of it stays in the transport."""
        with self.table_lock:
            if self.clients.pop(node, None) is None:
                return
            self.net.clients.discard(node)
        self.net.endpoint.forget(node, why)

    def reap_clients(self) -> None:
        """Forget every client silent for CLIENT_LEASE_S (it died without leaving), and
        every other stranger (a one-off sender) silent as long."""
        now = time.monotonic()
        with self.table_lock:
            clients = list(self.clients.items())
            keep = set(self.table) | set(self.clients)
        for node, since in clients:
            heard = self.net.endpoint.last_heard(node) or since
            if now - max(heard, since) > param.CLIENT_LEASE_S:
                self.leave(node, f"silent for {param.CLIENT_LEASE_S} s")
        for node in self.net.endpoint.strangers(param.CLIENT_LEASE_S, keep):
            self.net.endpoint.forget(node, "a stranger, silent")

    def _reaper(self) -> None:
        while not self.stopped.wait(param.DIPC_HEARTBEAT_S):
            self.reap_clients()

    def _fresh_task(self, label: str):
        from .kern.task import task_create
        with self.kernel.lock:
            return task_create(None, False, kernel=self.kernel, name=label or "").itk_self

    def _export(self, port, node: int) -> list:
        """Export a new send right to `port` for the client `node`."""
        from .ipc.port import ipc_port_make_send
        from .mach_types import MsgType
        with self.kernel.lock:
            return self.kernel.remote.export_right(ipc_port_make_send(port), MsgType.PORT_SEND, node)

    def serve(self) -> None:
        print(json.dumps({"node": self.kernel.node, "address": self.address,
                          "key": _key_str(self.net.endpoint.public_key)}), flush=True)
        self.stopped.wait()
        self.shutdown()

    def shutdown(self) -> None:
        from .kern.task import task_terminate
        from .servers import migration
        if self.programs.migrated in migration.listeners:
            migration.listeners.remove(self.programs.migrated)
        with self.kernel.lock:
            for t in sorted(self.kernel.tasks, key=lambda t: t.id):
                if t.active:
                    task_terminate(t)
        self.kernel.machine.join()
        self.net.close()


def _uid(uid) -> tuple:
    """A port uid from a peer: [node, serial].  Raises: MIG_BAD_ARGUMENTS."""
    if not (isinstance(uid, list) and len(uid) == 2 and all(type(x) is int for x in uid)):
        raise KernError(KernReturn.MIG_BAD_ARGUMENTS, "a port uid [node, serial]")
    return tuple(uid)


def _clamp_ms(timeout_ms) -> float:
    """A wait a client asked for, in seconds: 0 to a minute (a longer wait is asked again)."""
    return max(0, min(timeout_ms if type(timeout_ms) is int else 0, 60_000)) / 1000


def _member_ok(node, entry) -> bool:
    """A membership entry: a node index -> [tcp address, public key ("" if none)]."""
    return (type(node) is int and 0 <= node < 1 << 40 and isinstance(entry, list)
            and len(entry) == 2 and all(isinstance(x, str) and len(x) < 256 for x in entry)
            and entry[0].startswith("tcp://") and len(entry[1]) in (0, 40))


def _key_str(key) -> str:
    return key.decode() if isinstance(key, bytes) else (key or "")


def join_cluster(node: NodeProcess, seed: str) -> None:
    """Join a running cluster through the member at `seed` (normach node --join).  The
    request goes from a one-off sender with this node's key in it: a node that restarts
    is not heard under its index until the cluster has seen its old incarnation fall
    silent, which the join itself checks.
    Raises: KernError (KERN_NAME_EXISTS: the index is a live node's; KERN_NO_ACCESS:
    not the cluster's secret; KERN_NODE_DOWN: nobody answers at `seed`)."""
    from .dipc import control as c
    key = _key_str(node.net.endpoint.public_key)
    reply = _one_off(seed, node.secret,
                     c.ctl_join(node=node.kernel.node, address=node.address, key=key), 60.0)
    node.learn({int(n): e for n, e in reply.table.items()})


def _one_off(seed: str, secret, msg, timeout: float):
    """`msg` to the member at `seed` from a sender of its own (an index nobody has)."""
    import random
    from .transport.endpoint import Endpoint
    me = (1 << 30) + random.randrange(1 << 20)
    with Endpoint(me, f"tcp://{_local_ip(seed)}:0", {0: seed}, None, secret=secret or None) as ep:
        return ep.request(0, msg, timeout)


def cluster_info(seed: str, secret: bytes | None, timeout: float = 10.0):
    """Ask the member at `seed` for the membership (ctl_info) before joining.
    Returns: the ctl_table reply.  Raises: KernError as join_cluster."""
    from .dipc import control as c
    return _one_off(seed, secret, c.ctl_info(node=0), timeout)


def tcp_address(where: str, default_port: int = 0) -> str:
    """`HOST[:PORT]` or `tcp://HOST:PORT` as a tcp endpoint address.
    Raises: ValueError (not an address)."""
    import ipaddress
    text = where[len("tcp://"):] if where.startswith("tcp://") else where
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, str(default_port)
    if not port.isdigit() or int(port) > 65535 or not host:
        raise ValueError(f"not HOST[:PORT]: {where!r}")
    if host != "*" and not host.replace("-", "").replace(".", "").isalnum():
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            raise ValueError(f"not a host name or address: {host!r}") from None
    return f"tcp://{host}:{int(port)}"


def advertised(bound: str, advertise: str | None) -> str:
    """The address peers reach a node by: its bound address, with the host replaced by
    `advertise` (or, for a wildcard bind, by this machine's address)."""
    import socket
    host, port = bound[len("tcp://"):].rsplit(":", 1)
    if advertise:
        host = advertise
    elif host in ("0.0.0.0", "*", "[::]"):
        try:
            host = socket.gethostbyname(socket.gethostname())
        except OSError:
            raise NodeError("--listen on every interface needs --advertise HOST (this "
                            "machine's name does not resolve)") from None
    return f"tcp://{host}:{port}"


def _local_ip(seed: str) -> str:
    """This machine's address on the route to `seed` (where a client listens)."""
    import socket
    host = seed[len("tcp://"):].rsplit(":", 1)[0]
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((host, 9))                    # no packet is sent: a route lookup
            return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"


def secret_from_environment(fd: int | None = None) -> bytes | None:
    """The cluster secret, from an inherited file descriptor (hex) or the environment
    (NORMACH_SECRET, hex; removed once read): never from the command line, which any
    local user can read in /proc.  Raises: ValueError (not hex)."""
    import os
    if fd is not None:
        with os.fdopen(fd, "r") as f:
            text = f.read().strip()
    else:
        text = os.environ.pop("NORMACH_SECRET", "")
    return bytes.fromhex(text) if text else None


class NodeError(Exception):
    """A node cannot start or join (one line for the user)."""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m normach.node_process")
    ap.add_argument("--index", type=int, required=True)
    ap.add_argument("--nodes", type=int, default=0, help="cluster size (default: the seed's)")
    ap.add_argument("--listen", default="127.0.0.1")
    ap.add_argument("--advertise", default="")
    ap.add_argument("--secret-fd", type=int, default=None, help="read the secret (hex) from it")
    ap.add_argument("--join", default="", help="address of node 0 of a running cluster")
    ap.add_argument("--phys-bytes", type=int, default=param.PHYS_MEM_BYTES)
    ap.add_argument("--memory-bytes", type=int, default=0, help="the node's memory limit")
    a = ap.parse_args(argv)
    try:
        node = start(a)
    except NodeError as e:
        print(f"normach node: {e}", file=sys.stderr, flush=True)
        return 125
    node.serve()
    return 0


def start(a) -> NodeProcess:
    """Build the node of the parsed options and join it.  Raises: NodeError."""
    try:
        secret = secret_from_environment(a.secret_fd)
        listen = tcp_address(a.listen)
        seed = tcp_address(a.join) if a.join else ""
    except (ValueError, OSError) as e:
        raise NodeError(str(e)) from None
    nnodes = a.nodes
    if seed:
        nnodes = _seed_size(seed, secret, a.index, nnodes)
    if not 0 <= a.index < nnodes:
        raise NodeError(f"node index {a.index}: the cluster has {nnodes} nodes (0-{nnodes - 1})")
    try:
        node = NodeProcess(a.index, nnodes, listen, secret, a.phys_bytes, a.memory_bytes or None,
                           advertise=a.advertise or None)
    except KernError as e:
        raise NodeError(e.detail or e.name) from None
    if seed:
        try:
            join_cluster(node, seed)
        except KernError as e:
            node.shutdown()
            raise NodeError(f"cannot join {seed}: {e.detail or e.name}") from None
    return node


def _seed_size(seed: str, secret: bytes | None, index: int, nnodes: int) -> int:
    """The size of the cluster at `seed` (checking `nnodes` if given).  Raises: NodeError."""
    try:
        info = cluster_info(seed, secret)
    except KernError as e:
        if e.code == KernReturn.KERN_NO_ACCESS:
            raise NodeError(f"cannot join {seed}: authentication failed (wrong secret)") from None
        raise NodeError(f"cannot join {seed}: no cluster answers there ({e.name})") from None
    if nnodes and nnodes != info.nnodes:
        raise NodeError(f"--nodes {nnodes}: the cluster at {seed} has {info.nnodes} nodes")
    return info.nnodes


if __name__ == "__main__":
    sys.exit(main())
