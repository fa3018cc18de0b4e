"""A node as an operating-system process: `python -m normach.node_process`.

The process runs one node kernel, its transport endpoint (tcp) and its DIPC
layer, prints one JSON line `{"node": I, "address": ...}` once it listens,
and then serves: DIPC messages from the other nodes, and the control
protocol (dipc/control.py) from clients, until it is told to shut down or
killed.  `Cluster(nodes=N, processes=True)` starts N of these.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import threading

from . import param
from .kern.errors import KernError, KernReturn
from .dipc import control as _control  # noqa: F401  (declares the control messages it decodes)


class NodeProcess:
    """One node kernel served over tcp."""

    def __init__(self, index: int, nnodes: int, listen: str, secret: bytes | None,
                 phys_bytes: int, memory: int | None = None):
        from .dipc.net import DipcNet
        from .dipc.node import Dipc
        from .kern.kernel import Kernel
        self.kernel = Kernel(index, nnodes, phys_bytes, memory)
        self.net = DipcNet(index, listen, secret, handler=self.handle)
        self.net.attach(Dipc(self.kernel, self.net), [])
        self.stopped = threading.Event()
        self.table = {index: [self.address, _key_str(self.net.endpoint.public_key)]}
        # membership: node -> [address, public key] (the key is the node's identity)
        self.console = None                           # the console server (first spawn)
        self.programs: dict = {}                      # id -> (task, thread, Output) spawned here,
        self.program_ids = itertools.count()          # until a wait has reported its end
        self.refused_entries = 0                      # table entries refused (table_lock)
        self.table_lock = threading.Lock()            # guards table and console creation

    @property
    def address(self) -> str:
        return self.net.endpoint.address

    def handle(self, sender: int, msg):
        """Control messages here; DIPC messages to the DIPC layer."""
        from .dipc import control as c
        if not msg.name.startswith("ctl_"):
            return self.net.handle(sender, msg)
        me = self.kernel.node
        if msg.name == "ctl_peers":
            self.learn(msg.table)
            return c.ctl_ok(node=me)
        if msg.name == "ctl_join":
            return self.join(msg.node, msg.address, msg.key)
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
            from .ps import node_stats
            return c.ctl_counts(counts=node_stats(self.kernel))
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
        if msg.name == "ctl_resume":
            from .kern.thread import thread_resume
            _task, thread, _out = self._program(msg.program)
            with self.kernel.lock:
                thread_resume(thread)
            return c.ctl_ok(node=me)
        return None

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
                                   privileged=bool(msg.privileged))
        pid = next(self.program_ids)
        self.programs[pid] = (task, thread, out)
        return c.ctl_spawned(program=pid, uid=self._export(task.itk_self, sender))

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
        from .kern.errors import KernError, KernReturn
        with self.kernel.lock:
            for t in self.kernel.tasks:
                if t.id == task_id and t.active:
                    return t
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"no task {task_id} on node {self.kernel.node}")

    def _program(self, index: int):
        from .kern.errors import KernError, KernReturn
        if type(index) is not int or index not in self.programs:
            raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"no program {index}")
        return self.programs[index]

    def wait(self, index: int, timeout_ms: int):
        """The program's state after waiting up to `timeout_ms` for it to end."""
        import time
        from .dipc import control as c
        task, _thread, out = self._program(index)
        end = time.monotonic() + max(timeout_ms, 0) / 1000.0
        with self.kernel.lock:
            while task.active and time.monotonic() < end:
                self.kernel.task_events.wait(end - time.monotonic())
            done = not task.active
            status = task.exit_status if done else 0
            reason = task.exit_reason
        output = bytes(out.data)
        if done and timeout_ms > 0:
            self.programs.pop(index, None)          # its end was reported: forgotten
        return c.ctl_status(done=done, status=status or 0, reason=reason, output=output)

    def learn(self, table: dict) -> None:
        """Add members (node -> [address, key]) this node did not know; a member's key
        is the only one its messages are taken from.  The entry of a member whose key
        is live (not declared down) never changes: nobody can redirect a live node's
        traffic or take its identity.
        Raises: KERN_INVALID_ARGUMENT (an entry that is not node index -> [address, key])."""
        if not all(_member_ok(n, e) for n, e in table.items()):
            raise KernError(KernReturn.KERN_INVALID_ARGUMENT, "a membership table entry")
        endpoint = self.net.endpoint
        with self.table_lock:
            for node, (address, key) in table.items():
                if node == self.kernel.node or self.table.get(node) == [address, key]:
                    continue
                if node in self.table and endpoint.key_live(node):
                    self.refused_entries += 1           # a live member keeps its entry
                    continue
                if not endpoint.bind_key(node, key or None):
                    self.refused_entries += 1
                    continue
                self.table[node] = [address, key]
                endpoint.add_peer(node, address)
                if node not in self.net.peers:
                    self.net.peers.append(node)

    def join(self, node: int, address: str, key: str = ""):
        """A node (index below nnodes, a free slot) or a client (an index at or past
        nnodes) joins through this node: it gets the table and every other member
        learns of it, with its key: the one its join came with (or, from the launcher
        that started it, the one it printed)."""
        from .dipc import control as c
        key = key or _key_str(self.net.endpoint.sender_key())
        entry = [address, key]
        if not _member_ok(node, entry):
            raise KernError(KernReturn.KERN_INVALID_ARGUMENT, "ctl_join: node index and address")
        with self.table_lock:
            if node < 0 or node in self.table:
                raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"node {node} cannot join")
            table = dict(self.table)
        others = [n for n in table if n != self.kernel.node]
        self.learn({node: entry})
        for n in others:
            try:
                self.net.endpoint.request(n, c.ctl_peers(table={node: entry}), 10.0)
            except KernError:
                pass                                   # a member that is down learns nothing
        table[node] = entry
        if node < self.kernel.nnodes:                  # a node learns every member now
            try:
                self.net.endpoint.request(node, c.ctl_peers(table=table), 10.0)
            except KernError:
                pass
        return c.ctl_table(node=node, nnodes=self.kernel.nnodes, table=table)

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
        with self.kernel.lock:
            for t in sorted(self.kernel.tasks, key=lambda t: t.id):
                if t.active:
                    task_terminate(t)
        self.kernel.machine.join()
        self.net.close()


def _member_ok(node, entry) -> bool:
    """A membership entry: a node index -> [tcp address, public key ("" if none)]."""
    return (type(node) is int and 0 <= node < 1 << 40 and isinstance(entry, list)
            and len(entry) == 2 and all(isinstance(x, str) and len(x) < 256 for x in entry)
            and entry[0].startswith("tcp://") and len(entry[1]) in (0, 40))


def _key_str(key) -> str:
    return key.decode() if isinstance(key, bytes) else (key or "")


def join_cluster(node: NodeProcess, seed: str) -> None:
    """Join a running cluster through the member at `seed` (normach node --join)."""
    from .dipc import control as c
    node.net.endpoint.add_peer(0, seed)
    reply = node.net.endpoint.request(0, c.ctl_join(node=node.kernel.node, address=node.address,
                                                    key=""), 30.0)
    node.learn(reply.table)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m normach.node_process")
    ap.add_argument("--index", type=int, required=True)
    ap.add_argument("--nodes", type=int, required=True)
    ap.add_argument("--listen", default="tcp://127.0.0.1:0")
    ap.add_argument("--secret-hex", default="")
    ap.add_argument("--join", default="", help="address of node 0 of a running cluster")
    ap.add_argument("--phys-bytes", type=int, default=param.PHYS_MEM_BYTES)
    ap.add_argument("--memory-bytes", type=int, default=0, help="the node's memory limit")
    a = ap.parse_args(argv)
    secret = bytes.fromhex(a.secret_hex) if a.secret_hex else None
    node = NodeProcess(a.index, a.nodes, a.listen, secret, a.phys_bytes, a.memory_bytes or None)
    if a.join:
        join_cluster(node, a.join)
    node.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
