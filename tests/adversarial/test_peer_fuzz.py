"""An authenticated peer fuzzes every declared protocol message (DESIGN §3.1).

Rule under test: nothing another node sends may crash a node, raise anything
but a Mach error (KernError) or a counted drop, leak a right, or break an
invariant.

For every message class in the protocol registry (transport, dipc, xmm, control)
values are generated field by field from the declared kinds, aimed at the live
state of a 3-node cluster (real port uids, task uids and xids, next to garbage):
well-typed values, edge integers, wrong-length and nested lists, lists holding
values of the wrong type, empty/oversized/odd raw frames; and values of the wrong
kind altogether (a list where an int is expected, a dict, None, ...).

Each message is packed by hand (msgpack, bypassing `encode`'s checks) and given to
`protocol.decode`, exactly as a node's I/O thread does:

* handler level (embedded inproc cluster, a few hundred messages per seed): what
  decode accepts is handed to the node the way the endpoint does it
  (`Endpoint._on_request` then `Endpoint._serve`: the one-way callback for seq 0,
  else the request handler on a thread holding no lock, its reply checked and
  encoded), from another real node index;
* wire level (tcp cluster with CurveZMQ, a smaller batch): decodable messages go
  through a real `Endpoint` speaking as another node (same node index and
  incarnation), undecodable frames through an authenticated raw DEALER; these
  must be counted as `dropped_malformed` and reach no handler;
* control protocol: the ctl_* messages to the handler of a node process
  (`NodeProcess.handle`, run in this process).

After every message the test waits for the work it started (the DIPC deliverers
reach a marker, XMM's background threads are flushed: state, never sleeps) and
audits, so an invariant broken is reported with the message that broke it (a
right count already off is reported again only if it moves).

What a node cannot check is left out: a message about an object from the node
that speaks for it (the manager's push, lock or adopt; a client's own release or
attach) is that node's word, and a lie there is a Byzantine node, not bad input.
The fuzzer never sends those as that node (`Live.speakers`); sent as any other
node they must be refused.

Afterwards: no exception but KernError escaped a handler, the one-way callback,
the DIPC deliverer or XMM's background thread; the endpoints' `handler_errors`,
DIPC's `delivery_errors` and XMM's `errors` stayed 0; no kernel panic; no node
sees a cluster node down; every node still serves normal cross-node work (ping, a
message to a remote port, vm_read of a clone on another node); `audit()` is empty.
Seeds are fixed; a failure lists each distinct problem with the message (type,
target, sender, fields) that caused it and the traceback.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
import traceback
import uuid

import msgpack
import pytest
import zmq

from normach import (Cluster, KernError, KernReturn, Message, MsgOption, MsgType, PortDesc,
                     PortRight, mach)
from normach import param
from normach.dipc import control as ctl
from normach.dipc import messages as dm
from normach.kern.routines import ROUTINES
from normach.transport import protocol
from normach.transport.endpoint import Endpoint, curve_keys
from normach.transport.messages import error_reply, ping
from normach.transport.protocol import PROTOCOL_VERSION, WireError, decode, encode
from normach.xmm import messages as xm  # noqa: F401  (declares the xmm messages)
from waiting import satisfied

PAGE = param.PAGE_SIZE
SEEDS = [1, 3, 13]             # together they hit every bug found so far (see the report)
HANDLER_MESSAGES = 300          # per seed, handler level
WIRE_MESSAGES = 120             # per seed, through tcp
CONTROL_MESSAGES = 80           # per seed, ctl_* to a node process's handler
SLOW_S = 8.0                    # a handler still running after this is reported as hung
SECRET = b"peer fuzz secret"
MARKER_NODE = 7777              # queue_space for uid [7777, n] is a no-op: drain markers

CLASSES = sorted(protocol._BY_ID.values(), key=lambda c: c.id)
ROUTINE_IDS = sorted(ROUTINES)

EDGE_INTS = [0, 1, -1, 2, 3, 5, 7, 15, 16, 17, 18, 255, PAGE - 1, PAGE, PAGE + 1, 3 * PAGE,
             -PAGE, 1 << 31, (1 << 32) - 1, 1 << 32, 1 << 40, 1 << 62, (1 << 63) - 1, -(1 << 63)]
EDGE_UINTS = [0, 1, 2, 3, PAGE, (1 << 32) - 1, 1 << 62, 1 << 63, (1 << 64) - 1]
ODD_SCALARS = [None, True, False, 0.5, -0.0, float("nan"), float("inf"), "", "x", "\u2603",
               b"", b"\x00\x01", (1 << 64) - 1, -(1 << 63), (1 << 63) - 1, -1]
# values of the wrong kind: decode must refuse every one of them
BAD_TOP = {
    "int": [[1], [], {"a": 1}, None, "1", b"1", 1.5, True],
    "uint": [-1, [0], None, "0", 0.0, False],
    "bool": [0, 1, None, "true", [], b""],
    "str": [b"x", 1, None, [], 2.5],
    "bytes": ["x", 1, None, []],
    "list": [5, None, {"a": 1}, "x", b"x", 1.5, True],
    "map": [[1], 1, None, "m", {(1, 2): 3}],
}


def nest(depth, leaf=1):
    v = leaf
    for _ in range(depth):
        v = [v]
    return v


def short(v, limit=160):
    """repr of a field value for reports (bytes and long values abbreviated)."""
    if isinstance(v, (bytes, bytearray)) and len(v) > 24:
        return f"<{len(v)} bytes>"
    if isinstance(v, list) and len(v) > 12:
        return "[" + ", ".join(short(x, 40) for x in v[:12]) + f", ... {len(v)} items]"
    r = repr(v)
    return r if len(r) <= limit else r[:limit] + "..."


# ------------------------------------------------------------------------- failures

class Findings:
    """Everything that went wrong, deduplicated by (where, exception type, innermost line)."""

    def __init__(self):
        self.items = []
        self.lock = threading.Lock()

    def add(self, where, detail, exc=None, tb=None):
        if exc is not None and tb is None:
            tb = "".join(traceback.format_exception(exc))
        with self.lock:
            self.items.append((where, detail, type(exc).__name__ if exc else "", tb or ""))

    @staticmethod
    def _site(tb):
        lines = [ln.strip() for ln in tb.splitlines() if ln.strip().startswith("File ")]
        ours = [ln for ln in lines if "/normach/" in ln] or lines
        return ours[-1] if ours else ""

    def report(self):
        seen, out = {}, []
        for where, detail, etype, tb in self.items:
            key = (where.split(" ")[0], etype, self._site(tb), "" if tb else detail)
            seen.setdefault(key, []).append((where, detail, tb))
        for (kind, etype, site, _), hits in seen.items():
            where, detail, tb = hits[0]
            out.append(f"== {kind}: {etype or 'problem'} x{len(hits)} at {site}\n   {where}\n   {detail}")
            if tb:
                out.append("   " + "\n   ".join(tb.rstrip().splitlines()[-8:]))
        return "\n".join(out)

    def __bool__(self):
        return bool(self.items)


class LogTrap(logging.Handler):
    """Collects ERROR records with a traceback from normach's loggers (handler errors
    on the endpoint's worker threads, deliverer errors, background job errors)."""

    def __init__(self, findings):
        super().__init__(logging.ERROR)
        self.findings = findings
        self.fmt = logging.Formatter()

    def emit(self, record):
        tb = self.fmt.formatException(record.exc_info) if record.exc_info else ""
        self.findings.add(f"log[{record.name}]", record.getMessage()[:600],
                          record.exc_info[1] if record.exc_info else None, tb)


class DispatchSpy:
    """Stands in for DipcNet._dispatch (called by the node's one deliverer thread,
    unchanged): notes which delivered message raised, and recognizes drain markers
    (queue_space for uid [MARKER_NODE, n], which the generator never makes)."""

    def __init__(self, net, findings):
        self.net, self.orig, self.findings = net, net._dispatch, findings
        self.count = 0
        self.markers = {}
        self.next_marker = 0
        net._dispatch = self

    def __call__(self, sender, msg):
        if msg.name == "queue_space" and msg.uid[:1] == [MARKER_NODE]:
            ev = self.markers.pop(msg.uid[1], None)
            if ev is not None:
                ev.set()
            return None
        self.count += 1
        try:
            return self.orig(sender, msg)
        except Exception as e:
            self.findings.add(f"deliverer node {self.net.endpoint.node}",
                              f"{msg.name} from node {sender}: {fields_of(msg)}", e)
            raise

    def marker(self):
        """(a marker message, the Event set once the deliverer reaches it)."""
        self.next_marker += 1
        done = self.markers[self.next_marker] = threading.Event()
        return dm.queue_space(uid=[MARKER_NODE, self.next_marker]), done

    def drain(self, sender, timeout=10.0):
        """Wait until the deliverer handled everything queued before now."""
        marker, done = self.marker()
        assert self.net.oneway(sender, marker)
        return done.wait(timeout)


def fields_of(msg):
    return "{" + ", ".join(f"{n}={short(getattr(msg, n))}" for n in msg._names) + "}"


# ------------------------------------------------------------------------- live state

def connect(sender, receiver, name):
    """A receive right in `receiver`, a send right to it under `name` in `sender`."""
    rcv = mach.mach_port_allocate(receiver, PortRight.RECEIVE)
    send = mach.mach_port_extract_right(receiver, rcv, MsgType.MAKE_SEND)
    mach.mach_port_insert_right(sender, name, send, MsgType.MOVE_SEND)
    return rcv, name


def build_state(c):
    """Tasks with memory on every node, clones and a child across nodes (XMM managers,
    clients and copy objects), ports with send rights across nodes and messages queued
    with rights in them.  Returns what it made (kept alive while fuzzing)."""
    tasks = [c.task_create(node=n, name=f"fuzz{n}") for n in range(3)]
    addrs = []
    for n, t in enumerate(tasks):
        a = mach.vm_allocate(t, 0, 4 * PAGE, True)
        mach.vm_write(t, a, b"node %d" % n)
        mach.vm_write(t, a + 2 * PAGE, b"page two %d" % n)
        addrs.append(a)
    clones = [mach.norma_task_clone(tasks[0], True, 2), mach.norma_task_clone(tasks[1], True, 0)]
    child = mach.norma_task_create(tasks[2], True, 1)
    assert mach.vm_read(clones[0], addrs[0], 6) == b"node 0"
    assert mach.vm_read(clones[1], addrs[1] + 2 * PAGE, 10) == b"page two 1"
    links = []
    for a, b in ((0, 1), (1, 2), (2, 0)):
        rcv, name = connect(tasks[a], tasks[b], 0x7100 + 0x100 * a)
        mine = mach.mach_port_allocate(tasks[a], PortRight.RECEIVE)
        for i in range(2):      # the first is received, the second stays queued with its rights
            mach.mach_msg_send(tasks[a], Message(
                remote_port=name, remote_disp=MsgType.COPY_SEND, local_port=mine,
                local_disp=MsgType.MAKE_SEND_ONCE, id=70 + i,
                body=[PortDesc(mine, MsgType.MAKE_SEND), 5, b"rights inside"]))
        assert mach.mach_msg_receive(tasks[b], rcv, MsgOption.RCV_TIMEOUT, 5000).id == 70
        links.append((rcv, name, mine))
    return tasks, addrs, clones, child, links


class Live:
    """Real names to aim at: port uids (principals, proxies), task port uids, xids, and
    for each xid the nodes that speak for it (its manager node, the nodes that map it)."""

    def __init__(self, kernels):
        self.kernels = kernels
        self.refresh()

    def refresh(self):
        uids, tasks, xids, users = set(), set(), {}, {}
        for k in self.kernels:
            with k.lock:
                for uid, port in k.remote.principals.items():
                    uids.add(tuple(uid))
                    if port.kotype == "task":
                        tasks.add(tuple(uid))
                uids.update(tuple(u) for u in k.remote.proxies)
                for xid, mgr in k.xmm.managers.items():
                    xids[tuple(xid)] = mgr.size
                    users.setdefault(tuple(xid), set()).update(mgr.clients)
                for xid, p in k.xmm.pagers.items():
                    xids.setdefault(tuple(xid), p.size)
                    users.setdefault(tuple(xid), set()).add(k.node)
        self.uids = sorted(uids, key=repr)          # a peer may have planted odd ones
        self.tasks = sorted(tasks, key=repr)
        self.xids = sorted(xids.items(), key=repr)
        self.users = users

    def speakers(self, cls, f) -> set:
        """Nodes whose word on the live object a message names cannot be checked by the
        receiver (a manager's push or lock, a client's release): a lie from them is a
        Byzantine node, outside the rule.  The fuzzer never sends such a message as them;
        from any other node the receiver can and must refuse it."""
        def real(x):
            return (isinstance(x, list) and len(x) == 2 and all(isinstance(v, int) for v in x)
                    and tuple(x) in self.users)
        if cls.name in ("xmm_push", "xmm_lock", "xmm_adopt") and real(f.get("xid")):
            return {f["xid"][0]}
        if cls.name == "xmm_release" and real(f.get("xid")):
            return {f["xid"][0]} | self.users[tuple(f["xid"])]
        if cls.name == "xmm_attach" and isinstance(f.get("xids"), list):
            return set().union(*([{x[0]} | self.users[tuple(x)] for x in f["xids"] if real(x)]
                                 or [set()]))
        return set()


# ------------------------------------------------------------------------- generation

class Gen:
    """Field values for a message class, from its declared kinds and the live state."""

    def __init__(self, rng, live, nnodes=3):
        self.rng, self.live, self.nnodes = rng, live, nnodes

    # -- pickers
    def chance(self, p):
        return self.rng.random() < p

    def pick(self, seq):
        return seq[self.rng.randrange(len(seq))]

    def node(self):
        return self.pick([0, 1, 2, 0, 1, 2, -1, 3, 1 << 40])

    def any_int(self):
        return self.pick(EDGE_INTS) if self.chance(0.6) else self.rng.randrange(-(1 << 63), 1 << 63)

    def small(self):
        return self.pick([0, 1, 2, 3, 4, 5, 7, 8, 16, -1, 100])

    def uid(self):
        r = self.rng.random()
        if r < 0.55 and self.live.uids:
            return list(self.pick(self.live.uids))
        if r < 0.7 and self.live.tasks:
            return list(self.pick(self.live.tasks))
        n = self.pick([0, 1, 2])
        return self.pick([[0, 0], [-1, -1], [n, -2], [n, -3], [n, self.rng.randrange(1, 300)],
                          [self.node(), self.rng.randrange(-5, 300)], [1 << 62, 0],
                          [0, (1 << 63) - 1]])

    def xid_size(self):
        if self.live.xids and self.chance(0.75):
            xid, size = self.pick(self.live.xids)
            return list(xid), size
        if self.live.xids and self.chance(0.5):
            (x0, x1), size = self.pick(self.live.xids)
            return self.pick([[x0, x1 + 1], [x0, x1 - 1], [(x0 + 1) % 3, x1]]), size
        return self.pick([[0, 0], [-1, -1], [1, 1 << 61], [self.node(), self.rng.randrange(300)]]), 4 * PAGE

    def offset(self, size):
        pages = max(size // PAGE, 1)
        return self.pick([0, PAGE, size - PAGE, size, PAGE * self.rng.randrange(pages), 1, PAGE + 3,
                          -PAGE, 1 << 40, 1 << 62, (1 << 63) - 1])

    def access(self):
        return self.pick([0, 1, 2, 3, 3, 1, 5, 7, -1, 1 << 40])

    def seqno(self):
        return self.pick([0, 1, 2, 3, self.rng.randrange(1, 60), 1 << 62, -1, (1 << 63) - 1])

    def count(self):
        return self.pick([0, 1, 2, 100, -1, 1 << 31, 1 << 62, (1 << 63) - 1, -(1 << 63)])

    def text(self):
        return self.pick(["", "x", "fuzz", "\u2603\u00e9", "a" * 3000, "\x00nul", "tcp:/broken",
                          "nonsense address", "%s%n"])

    def raw(self):
        return self.pick([b"", b"x", bytes(PAGE), bytes(PAGE - 1), bytes(3 * PAGE),
                          bytes(range(256)) * 3, bytes(1 << 20)])

    def scalar(self):
        return self.pick([self.any_int(), self.small(), self.text()[:20], b"b", None, True, 1.5])

    def generic(self, kind, depth=0):
        if kind == "int":
            return self.any_int()
        if kind == "uint":
            return self.pick(EDGE_UINTS) if self.chance(0.6) else self.rng.randrange(1 << 64)
        if kind == "bool":
            return self.chance(0.5)
        if kind == "str":
            return self.text()
        if kind == "bytes":
            return self.pick([b"", b"x", bytes(100), bytes(5000)])
        if kind == "raw":
            return self.raw()
        if kind == "list":
            n = self.pick([0, 1, 2, 3, 5])
            return [self.generic("list", depth + 1) if depth < 3 and self.chance(0.3)
                    else self.scalar() for _ in range(n)]
        if kind == "map":
            return {self.pick([0, 1, 2, "k", b"b", 5 << 40]): self.scalar()
                    for _ in range(self.pick([0, 1, 3]))}
        raise AssertionError(kind)

    # -- structured fields
    def body_item(self):
        t = self.pick("bbinpppPoBR")
        if t == "b":
            return ["b", self.pick([b"", b"hello", bytes(5000)])]
        if t == "i":
            return ["i", self.any_int()]
        if t == "n":
            return ["n", self.any_int()]
        if t == "B":
            return ["B", self.pick([0, 1, -1, 5])]
        if t == "o":
            return ["o", self.pick([0, 1, -1]), self.pick([0, 1, PAGE, 1 << 40]), self.pick([0, 1, 2, 7])]
        if t == "p":
            return ["p", self.uid(), self.pick([17, 18, 17, 18, 16, 15, 0, 99])]
        if t == "P":
            return ["P", self.pick([17, 18, 16]), [self.uid() for _ in range(self.pick([0, 1, 2]))]]
        return ["R", self.uid(), [self.pick([0, 1, 5, 16, -1]) for _ in range(5)]
                + [self.pick([0, 1, 2]), self.rng.randrange(300), self.pick([0, 1])]]

    def vector(self):
        """An xmm_vm_map vector: sorted entries naming live objects (or none)."""
        out, start = [], self.pick([0x2000_0000, 0x1000, 0, 0x7FFF_FFFF_0000])
        for _ in range(self.pick([0, 1, 1, 2, 3])):
            (xid, size) = self.xid_size() if self.chance(0.8) else ([-1, -1], 0)
            pages = max(1, min(size // PAGE, 4)) if size else 1
            end = start + PAGE * pages
            out.append([start, end, xid[0], xid[1], 0, size, self.pick([3, 3, 1, 7, 8]),
                        self.pick([7, 7, 3, 1]), self.pick([0, 1, 1, 2, 3]),
                        self.pick([0, 1]), self.pick([0, 1])])
            start = end + PAGE * self.pick([0, 1, 16])
        return out

    def exception_entry(self):
        n, lid = self.uid()
        return [self.pick([1, 2, 3, 1, 2, 10, -1, 1 << 40]), n, lid, self.pick([1, 2, 3, 0, -1]),
                self.pick([0, 1, 4, 1 << 33])]

    def fields(self, cls, target):
        """Well-typed values aimed at the live state, for exactly the declared fields
        (declarations may gain fields: those get generic values of their kind)."""
        f = self._fields(cls, target)
        return {n: f[n] if n in f else self.generic(k) for n, k in cls.fields}

    def _fields(self, cls, target):
        name, f = cls.name, {}
        g = self
        if name == "dipc_msg":
            f["uid"] = g.uid()
            f["dest_type"] = g.pick([17, 18, 17, 18, 16, 15, 0, -1, 1 << 40])
            f["reply_uid"] = g.uid() if g.chance(0.6) else [0, 0]
            f["rtype"] = g.pick([0, 17, 18, 0, 16, 99]) if f["reply_uid"] != [0, 0] else 0
            f["msg_id"] = (g.pick(ROUTINE_IDS) if g.chance(0.4)
                           else g.pick([0, 1, 70, (1 << 32) - 1, 1 << 32, -1, (1 << 63) - 1,
                                        g.rng.randrange(1 << 31)]))
            f["body"] = [g.body_item() for _ in range(g.pick([0, 1, 2, 3, 5]))]
            chunks = [g.pick([0, 1, 10, PAGE, 3 * PAGE]) for _ in range(g.pick([0, 1, 2]))]
            f["ool"] = b"".join(bytes(range(256)) * (n // 256) + bytes(n % 256) for n in chunks)
            f["ool_sizes"] = chunks if g.chance(0.8) else g.pick([[len(f["ool"]) + 1], [-1], [0, 0, 0]])
            return f
        if name in ("dipc_port_dead", "queue_full", "queue_space", "special_reply",
                    "task_allocated", "ctl_uid"):
            f["uid"] = g.uid()
            return f
        if name == "special_get":
            return {"which": g.pick([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, -1, 1 << 40, (1 << 63) - 1])}
        if name in ("transits_get", "transits_release"):
            return {"uid": g.uid(), "count": g.count()}
        if name == "task_allocate":
            return {"label": g.text(), "vm_max": g.pick([0, 1 << 40, -1, PAGE, (1 << 63) - 1]),
                    "threads_max": g.pick([0, 1, 1024, -1, (1 << 63) - 1]),
                    "bootstrap": g.uid() if g.chance(0.7) else [0, 0],
                    "registered": [g.uid() for _ in range(g.pick([0, 1, 3, 4]))],
                    "exceptions": [g.exception_entry() for _ in range(g.pick([0, 1, 2, 3]))]}
        xid, size = g.xid_size()
        if name == "xmm_request":
            return {"xid": xid, "offset": g.offset(size), "desired": g.access(), "has": g.access(),
                    "ahead": g.pick([0, 1, 8, 64, 65, -1, 1 << 40])}
        if name == "xmm_lock":
            return {"xid": xid, "offset": g.offset(size), "keep": g.access(), "seq": g.seqno()}
        if name == "xmm_attach":
            n = g.pick([0, 1, 2])
            xids = [g.xid_size()[0] for _ in range(n)]
            gens = [g.pick([0, 1, 2, -1, 1 << 62]) for _ in range(n if g.chance(0.8) else n + 1)]
            return {"xids": xids, "gens": gens}
        if name in ("xmm_release", "xmm_push"):
            offs = [g.offset(size) if g.chance(0.3) else PAGE * g.rng.randrange(max(size // PAGE, 1))
                    for _ in range(g.pick([0, 1, 2, 3]))]
            seqs = [g.seqno() if g.chance(0.3) else g.rng.randrange(1, 40) for _ in offs]
            data = b"".join(bytes([65 + i]) * PAGE for i in range(len(offs)))
            if g.chance(0.2):
                data = g.raw()
            f = {"xid": xid, "offsets": offs, "seqs": seqs, "data": data}
            if name == "xmm_release":
                f.update(gen=g.pick([0, 1, 2, -1, 1 << 62]), final=g.chance(0.5))
            return f
        if name == "xmm_vm_map":
            task = list(g.pick(g.live.tasks)) if g.live.tasks and g.chance(0.7) else g.uid()
            return {"task": task, "entries": g.vector()}
        if name in ("xmm_copy", "xmm_adopt"):
            return {"xid": xid}
        if name == "xmm_where":
            return {"xid": xid, "ranges": [[g.offset(size), g.pick([0, PAGE, size, 1 << 40, -1])]
                                           for _ in range(g.pick([0, 1, 2, 4]))]}
        if name == "ctl_peers":
            return {"table": {g.pick([1, 2, 3, "4", "x", b"5", "", 1 << 40, -1]):
                              g.pick([g.text()[:30], 5, None, b"tcp://", [1]])
                              for _ in range(g.pick([1, 2, 3]))}}
        if name == "ctl_join":
            return {"node": g.pick([0, 1, 2, 3, 5, -1, 1 << 40]),
                    "address": g.pick(["", "nonsense", "\u2603", "tcp:/broken"])}
        if name == "ctl_spawn":
            return {"label": g.text(), "argv": [g.text()[:20] for _ in range(g.pick([0, 1, 3]))],
                    "suspended": g.chance(0.8),
                    "image": g.pick([b"", b"\x7fELF", b"\x7fELF\x02\x01\x01" + bytes(60), g.raw()])}
        if name == "ctl_wait":
            return {"program": g.pick([0, 1, -1, 1 << 40]), "timeout_ms": g.pick([0, 1, 10, -1, -(1 << 63)])}
        return {n: g.generic(k) for n, k in cls.fields}

    # -- mutations
    def chaos_list(self, v):
        g = self
        r = g.rng.random()
        if not v or r < 0.15:
            return g.pick([[], [g.pick(ODD_SCALARS)], nest(g.pick([2, 8, 16, 17, 40])),
                           [g.pick(ODD_SCALARS) for _ in range(3)], [[1, 2]] * 3])
        v = list(v)
        i = g.rng.randrange(len(v))
        if r < 0.35:
            v[i] = g.pick(ODD_SCALARS)
        elif r < 0.5:
            v[i] = [v[i]]
        elif r < 0.6:
            v.append(g.pick(ODD_SCALARS + [[1, 2], [[0, 0]], nest(5)]))
        elif r < 0.7:
            del v[i]
        elif isinstance(v[i], list) and v[i]:
            w = list(v[i])
            j = g.rng.randrange(len(w))
            w[j] = g.pick(ODD_SCALARS + [[w[j]], nest(3), [1, 2]])
            if g.chance(0.3):
                w = w[:-1] if g.chance(0.5) else w + [0]
            v[i] = w
        else:
            v = v * g.pick([2, 40])
        return v

    def chaos_uid(self, v):
        """A uid/xid-shaped [a, b] made wrong inside: nested, short, long, odd scalars."""
        a, b = (v + [0, 0])[:2] if isinstance(v, list) else (0, 0)
        return self.pick([[[a], b], [a, [b]], [[a, b]], [a], [a, b, 0], [a, None], [None, b],
                          [str(a), b], [a, 1.5], [True, b], [a, b"x"], [a, (1 << 64) - 1],
                          [-(1 << 63), b], [], nest(16, a)])

    def mutate(self, cls, f):
        g = self
        plain = [(n, k) for n, k in cls.fields if k != "raw"]
        lists = [n for n, k in plain if k == "list"]
        r = g.rng.random()
        if r < 0.35 and lists:
            n = g.pick(lists)
            v = f[n]
            uidlike = isinstance(v, list) and len(v) == 2 and all(type(x) is int for x in v)
            if uidlike and g.chance(0.7):
                f[n] = g.chaos_uid(v)
            elif v and all(isinstance(x, list) for x in v) and g.chance(0.6):
                v = list(v)
                i = g.rng.randrange(len(v))
                v[i] = g.chaos_uid(v[i]) if len(v[i]) == 2 else g.chaos_list(v[i])
                f[n] = v
            else:
                f[n] = g.chaos_list(v)
        elif r < 0.45 and plain:
            n, k = g.pick(plain)
            f[n] = g.generic(k)
        elif r < 0.53 and plain:               # the wrong kind: decode's business
            n, k = g.pick(plain)
            f[n] = g.pick(BAD_TOP[k])
        elif r < 0.58 and len(cls._raw):
            f[g.pick(cls._raw)] = g.raw()
        return f

    def message(self, cls, target):
        f = self.fields(cls, target)
        if self.chance(0.6):
            f = self.mutate(cls, f)
        return f


def build_frames(cls, f, seq, node, inc):
    """The frames a peer would send for these values (packed by hand, no checks).
    None if msgpack cannot even pack them."""
    head = [PROTOCOL_VERSION, cls.id, seq, node, inc] + [f[n] for n, k in cls.fields if k != "raw"]
    try:
        frame0 = msgpack.packb(head, use_bin_type=True)
    except (OverflowError, TypeError, ValueError):
        return None
    return [frame0] + [f[n] for n in cls._raw]


def pick_seq(gen, cls):
    if cls.reply is not None:
        return 0 if gen.chance(0.1) else gen.rng.randrange(1, 1 << 32)
    return gen.rng.randrange(1, 1 << 32) if gen.chance(0.15) else 0


# ------------------------------------------------------------------------- delivery

def serve_like_endpoint(ep, sender, msg, seq):
    """What a node does with a decoded request (Endpoint._on_request on the I/O thread,
    then Endpoint._serve on a worker thread).  Returns a short outcome; raises what
    escaped the node's code."""
    if type(msg) is ping:
        return "ping (answered by the I/O thread)"
    if seq == 0 and ep._oneway is not None and ep._oneway(sender, msg):
        return "queued"
    if ep._handler is None:
        return "no handler"
    try:
        reply = ep._handler(sender, msg)
    except KernError as e:
        return f"KernError {e.code!r}"
    if seq == 0:
        return "one-way done"
    if reply is None:
        return "no reply"
    if type(reply) is not msg.reply_type() and type(reply) is not error_reply:
        raise AssertionError(f"handler answered {msg.name} with {reply.name}")
    encode(reply, seq, ep.node, ep.incarnation)      # a reply the node cannot send is a bug too
    return f"reply {reply.name}"


def run_with_deadline(fn, *args, timeout=SLOW_S):
    """Run fn on a fresh thread (a transport worker holds no lock either).
    Returns (finished, result, exception)."""
    box = {}

    def run():
        try:
            box["result"] = fn(*args)
        except BaseException as e:          # noqa: BLE001  (reported)
            box["exc"] = e
    t = threading.Thread(target=run, daemon=True, name="fuzz-handler")
    t.start()
    t.join(timeout)
    return (not t.is_alive()), box.get("result"), box.get("exc")


def describe(cls, f, target, sender, seq):
    return (f"{cls.name} to node {target} from node {sender} seq {seq}: "
            + "{" + ", ".join(f"{n}={short(f[n])}" for n, _k in cls.fields) + "}")


# ------------------------------------------------------------------------- checks

class Watch:
    """Log trap, deliverer spies and counters of a cluster under fuzz."""

    def __init__(self, c, findings):
        self.c, self.findings = c, findings
        self.nets = c._endpoints
        self.trap = LogTrap(findings)
        logging.getLogger("normach").addHandler(self.trap)
        self.spies = [DispatchSpy(net, findings) for net in self.nets]

    def close(self):
        logging.getLogger("normach").removeHandler(self.trap)

    def quiesce(self, timeout=30.0):
        """Wait until deliverers and XMM background threads are idle and stay idle."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            for k in self.c.kernels:
                if not k.xmm.flush_background(5.0):
                    self.findings.add(f"quiesce node {k.node}", "XMM background thread stuck")
            for n, spy in enumerate(self.spies):
                if not spy.drain((n + 1) % len(self.spies), 5.0):
                    self.findings.add(f"quiesce node {n}", "DIPC deliverer stuck")
            now = (tuple(s.count for s in self.spies),
                   tuple(sum(k.remote.stats.values()) for k in self.c.kernels),
                   tuple(sum(v for v in k.xmm.stats.values() if isinstance(v, int))
                         for k in self.c.kernels))
            if now == last:
                return True
            last = now
        self.findings.add("quiesce", f"work still pending after {timeout} s")
        return False

    def counters(self, tag):
        for net, k in zip(self.nets, self.c.kernels):
            st = net.endpoint.stats
            if st["handler_errors"]:
                self.findings.add(f"counter node {k.node}", f"{tag}: endpoint handler_errors = "
                                  f"{st['handler_errors']}")
            if k.remote.stats["delivery_errors"]:
                self.findings.add(f"counter node {k.node}", f"{tag}: dipc delivery_errors = "
                                  f"{k.remote.stats['delivery_errors']}")
            if k.xmm.stats.get("errors"):
                self.findings.add(f"counter node {k.node}", f"{tag}: xmm background errors = "
                                  f"{k.xmm.stats['errors']}")
            if k.machine.panics:
                self.findings.add(f"panic node {k.node}", k.machine.panics[0][:600])
            down = sorted(n for n in k.remote.down if isinstance(n, int) and 0 <= n < len(self.nets))
            if down:     # (nodes that do not exist, named by a peer's bogus uids, do not count)
                self.findings.add(f"down node {k.node}", f"{tag}: sees nodes {down} down")

    def names(self, tag, seen):
        """Every port uid and xid a node keeps is a pair of ints (a peer's garbage must
        not become a name in the kernel's tables), and every manager's object is still
        paged by its node's XmmPager (what the audit does not look at)."""
        def ok(u):
            return isinstance(u, tuple) and len(u) == 2 and all(isinstance(x, int) for x in u)
        for k in self.c.kernels:
            with k.lock:
                bad = [("principal", u) for u in k.remote.principals if not ok(u)]
                bad += [("proxy", u) for u in k.remote.proxies if not ok(u)]
                bad += [("xmm pager", x) for x in k.xmm.pagers if not ok(x)]
                bad += [("xmm manager", x) for x in k.xmm.managers if not ok(x)]
                # a manager's object is paged by the node's pager for its xid (Manager.client)
                bad += [("xmm manager whose object is not paged by its XmmPager", x)
                        for x, mgr in k.xmm.managers.items()
                        if mgr.obj.pager is not k.xmm.pagers.get(x)]
            for what, u in bad:
                key = f"node {k.node}: {what} named {u!r}"
                if key not in seen:
                    seen.add(key)
                    self.findings.add(f"kernel-table after {tag}", key)

    def audit(self, tag, seen=None):
        """Audit; report the problems not in `seen` (which is updated) as caused by `tag`.
        A right count already off stays the same problem while it is off by as much."""
        seen = set() if seen is None else seen
        problems = self.c.audit()
        for p in problems:
            key = _problem_key(p)
            if key not in seen:
                self.findings.add(f"audit after {tag}", p)
                seen.add(key)
        return problems


def _problem_key(p):
    m = re.match(r"(.*?<Port \S+).*: (s|so)rights (-?\d+) != (-?\d+) found$", p)
    return f"{m.group(1)}> {m.group(2)}rights off by {int(m.group(3)) - int(m.group(4))}" if m else p


def still_serves(c, findings, label):
    """Normal cross-node work on fresh objects: every node answers."""
    def step(what, fn):
        ok, result, exc = run_with_deadline(fn, timeout=20.0)
        if not ok:
            findings.add(f"liveness {label}", f"{what}: no answer within 20 s")
        elif exc is not None:
            findings.add(f"liveness {label}", what, exc)
        return result
    for a in range(3):
        for b in range(3):
            if a != b:
                step(f"ping {a}->{b}", lambda a=a, b=b:
                     c._endpoints[a].endpoint.request(b, ping(seq=5), 5.0))
    tasks = [c.task_create(node=n, name=f"after{n}") for n in range(3)]
    for a, b in ((0, 1), (1, 2), (2, 0)):
        def msg(a=a, b=b):
            rcv, name = connect(tasks[a], tasks[b], 0x7700 + 0x100 * a)
            mach.mach_msg_send(tasks[a], Message(remote_port=name, remote_disp=MsgType.COPY_SEND,
                                                 id=99, body=[b"after fuzz"]))
            m = mach.mach_msg_receive(tasks[b], rcv, MsgOption.RCV_TIMEOUT, 5000)
            assert (m.id, m.body[0]) == (99, b"after fuzz")
        step(f"message node {a} -> port on node {b}", msg)
    for n in range(3):
        def memory(n=n):
            a = mach.vm_allocate(tasks[n], 0, 2 * PAGE, True)
            mach.vm_write(tasks[n], a + PAGE, b"coherent %d" % n)
            clone = mach.norma_task_clone(tasks[n], True, (n + 1) % 3)
            assert mach.vm_read(clone, a + PAGE, 10) == b"coherent %d" % n
            mach.vm_write(clone, a, b"back")
            assert mach.vm_read(tasks[n], a, 4) == b"back"
            mach.task_terminate(clone)
        step(f"vm_read of a clone on node {(n + 1) % 3} of a task on node {n}", memory)


# ------------------------------------------------------------------------- tests

def schedule(gen, count, classes):
    """Every class at least twice, the rest weighted to the messages nodes serve."""
    served = [c for c in classes if c.name.startswith(("dipc_", "xmm_", "task_allocate",
                                                       "transits_", "special_get", "queue_"))
              and not c.name.endswith(("_reply", "_granted", "_allocated"))]
    order = list(classes) * 2
    gen.rng.shuffle(order)
    while len(order) < count:
        order.append(gen.pick(served) if gen.chance(0.7) else gen.pick(classes))
    return order


def fuzz(c, watch, findings, rng, count, deliver, refuse=None):
    """Generate `count` messages for `c` and hand each decodable one to
    `deliver(cls, msg, target, sender, seq, what)`, undecodable frames to `refuse(frames,
    target, sender)`.  After each message: wait for the work it started, then audit and
    check the kernels' tables; a new problem is reported with the message that caused it
    (or that first exposed it: a page the manager had no state for is audited only once
    some later message touches it)."""
    live = Live(c.kernels)
    gen = Gen(rng, live)
    stats = {"rejected by decode": 0, "unpackable": 0, "delivered": 0, "no sender": 0}
    seen = set()
    watch.audit("setup", seen)
    for i, cls in enumerate(schedule(gen, count, CLASSES)[:count]):
        live.refresh()
        target = rng.randrange(3)
        f = gen.message(cls, target)
        silent = live.speakers(cls, f)
        senders = [n for n in range(3) if n != target and n not in silent]
        if not senders:
            stats["no sender"] += 1
            continue
        sender = rng.choice(senders)
        seq = pick_seq(gen, cls)
        inc = c._endpoints[sender].endpoint.incarnation
        frames = build_frames(cls, f, seq, sender, inc)
        if frames is None:
            stats["unpackable"] += 1
            continue
        try:
            _header, msg = decode(frames)
        except WireError:
            stats["rejected by decode"] += 1                  # a counted drop: fine
            if refuse is not None:
                refuse(frames, target, sender)
            continue
        except Exception as e:                                # decode raises only WireError
            findings.add("decode", describe(cls, f, target, sender, seq), e)
            continue
        stats["delivered"] += 1
        what = describe(cls, msg.as_dict(), target, sender, seq)
        deliver(cls, msg, target, sender, seq, what)
        watch.quiesce()
        watch.audit(f"#{i} {what}", seen)
        watch.names(f"#{i} {what}", seen)
    return stats, seen


def check_after(c, watch, findings, seen):
    watch.quiesce()
    watch.counters("after fuzz")
    still_serves(c, findings, "after fuzz")
    watch.quiesce()
    watch.counters("after liveness")
    watch.audit("the liveness checks", seen)


@pytest.mark.parametrize("seed", SEEDS)
def test_fuzzed_messages_at_the_handlers_of_an_embedded_cluster(seed):
    findings = Findings()
    c = Cluster(nodes=3, phys_bytes=32 << 20)
    watch = Watch(c, findings)

    def deliver(cls, msg, target, sender, seq, what):
        ep = c._endpoints[target].endpoint
        ok, _result, exc = run_with_deadline(serve_like_endpoint, ep, sender, msg, seq)
        if not ok:
            findings.add(f"hung handler node {target}", what)
        elif exc is not None:
            findings.add(f"handler node {target}", what, exc)
    try:
        state = build_state(c)                                   # noqa: F841  (kept alive)
        watch.quiesce()
        stats, seen = fuzz(c, watch, findings, random.Random(seed), HANDLER_MESSAGES, deliver)
        check_after(c, watch, findings, seen)
    finally:
        watch.close()
        c.close()
    assert stats["delivered"] > HANDLER_MESSAGES // 2, stats
    assert not findings, f"seed {seed} {stats}:\n" + findings.report()


class RawPeer:
    """An authenticated raw DEALER (the cluster's curve keys): sends any frames."""

    def __init__(self, address, secret):
        pub, sec = curve_keys(secret)
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.curve_serverkey = pub
        self.sock.curve_publickey, self.sock.curve_secretkey = pub, sec
        self.sock.connect(address)

    def send(self, frames):
        """Sends `frames` as one message's logical frames (cut into the wire's chunks, as
        every sender must: a frame over the limit would only get the connection cut)."""
        from normach.transport import framing
        self.sock.send_multipart(framing.split([b"" if f is None else f for f in frames]))

    def close(self):
        self.sock.close(0)


def envelope_garbage(rng, node, inc):
    """Frames malformed below the level of field values."""
    body = [PROTOCOL_VERSION, dm.queue_space.id, 0, node, inc, [0, 0]]
    pk = lambda v: msgpack.packb(v, use_bin_type=True)  # noqa: E731
    return rng.choice([
        [pk([2] + body[1:])],                                  # another protocol version
        [pk([PROTOCOL_VERSION, 9999, 0, node, inc])],           # unknown id
        [pk(body[:4])],                                         # short header
        [pk(body + [1])],                                       # a value too many
        [pk(body), b"extra raw frame"],
        [pk({"not": "an array"})],
        [b"\xc1\xc1 not msgpack"],
        [b""],
        [pk(body[:5] + [nest(40)])],
        [pk([PROTOCOL_VERSION, xm.xmm_push.id, 1, node, inc, [0, 1], [0], [1]])],  # raw missing
    ])


@pytest.mark.parametrize("seed", SEEDS)
def test_fuzzed_messages_through_an_authenticated_tcp_endpoint(seed):
    findings = Findings()
    rng = random.Random(seed)
    c = Cluster(nodes=3, phys_bytes=32 << 20, transport="tcp", secret=SECRET)
    watch = Watch(c, findings)
    peers, raws = {}, {}
    expect_drops = {t: 0 for t in range(3)}

    def deliver(cls, msg, target, sender, seq, what):
        ep = peers[sender]
        if rng.random() < 0.3:         # first a mangled copy of it: decode must drop it
            plain = [(n, k) for n, k in cls.fields if k != "raw"]
            f = msg.as_dict()
            if plain and rng.random() < 0.7:
                n, k = rng.choice(plain)
                f[n] = rng.choice(BAD_TOP[k])
                frames = build_frames(cls, f, seq, sender, ep.incarnation)
            else:
                frames = envelope_garbage(rng, sender, ep.incarnation)
            if frames is not None:
                refuse(frames, target, sender, garbage=False)
        if seq == 0 or msg.reply is None:
            ep.send(target, msg)
            marker, done = watch.spies[target].marker()    # after it on the same connection
            ep.send(target, marker)
            if not done.wait(SLOW_S):
                findings.add(f"hung deliverer node {target}", what)
            return
        try:
            ep.request(target, msg, SLOW_S)
        except KernError as e:
            if e.code == KernReturn.KERN_NODE_DOWN:
                findings.add(f"hung handler node {target}", what)
        except Exception as e:
            findings.add(f"request node {target}", what, e)

    def refuse(frames, target, sender, garbage=True):
        raws[target].send(frames)
        expect_drops[target] += 1
        if garbage and rng.random() < 0.3:
            raws[target].send(envelope_garbage(rng, sender, peers[sender].incarnation))
            expect_drops[target] += 1
    try:
        state = build_state(c)                                   # noqa: F841
        watch.quiesce()
        addresses = {n: net.endpoint.address for n, net in enumerate(c._endpoints)}
        for s in range(3):     # speaks as node s: its index, incarnation and key (a node
            ep = Endpoint(s, "tcp://127.0.0.1:0", {n: a for n, a in addresses.items() if n != s},
                          None, secret=SECRET)          # gone bad, not a stranger: those are
            ep.incarnation = c._endpoints[s].endpoint.incarnation     # dropped_spoofed)
            ep._own = c._endpoints[s].endpoint._own
            peers[s] = ep
        for t in range(3):
            raws[t] = RawPeer(addresses[t], SECRET)
        base = {t: c._endpoints[t].endpoint.stats["dropped_malformed"] for t in range(3)}
        stats, seen = fuzz(c, watch, findings, rng, WIRE_MESSAGES, deliver, refuse)
        for t in range(3):     # every undecodable message was dropped and counted, nothing else
            ep = c._endpoints[t].endpoint
            if not satisfied(lambda ep=ep, t=t: ep.stats["dropped_malformed"] >= base[t] + expect_drops[t]):
                findings.add(f"wire node {t}", f"dropped_malformed {ep.stats['dropped_malformed']}"
                             f", expected {base[t]} + {expect_drops[t]}")
            if ep.stats["dropped_unauthenticated"]:
                findings.add(f"wire node {t}", "an authenticated peer was refused")
        check_after(c, watch, findings, seen)
    finally:
        for p in raws.values():
            p.close()
        for ep in peers.values():
            ep.close()
        watch.close()
        c.close()
    assert not findings, f"seed {seed} {stats}:\n" + findings.report()


@pytest.mark.parametrize("seed", SEEDS)
def test_fuzzed_control_messages_at_a_node_process_handler(seed):
    """The control protocol (ctl_*) served by a node process's handler."""
    from normach.kern.audit import audit_kernel
    from normach.node_process import NodeProcess
    findings = Findings()
    rng = random.Random(seed)
    node = NodeProcess(0, 3, f"inproc://normach-fuzz-{uuid.uuid4().hex[:10]}", None, 16 << 20)
    trap = LogTrap(findings)
    logging.getLogger("normach").addHandler(trap)
    try:
        live = Live([node.kernel])
        gen = Gen(rng, live)
        ctl_classes = [cl for cl in CLASSES if cl.name.startswith("ctl_")]
        order = list(ctl_classes) * 2
        while len(order) < CONTROL_MESSAGES:
            order.append(gen.pick(ctl_classes))
        rng.shuffle(order)
        ep = node.net.endpoint
        seen = {_problem_key(p) for p in audit_kernel(node.kernel)}
        for cls in order:
            sender = rng.choice([1, 2])
            f = gen.message(cls, 0)
            seq = pick_seq(gen, cls)
            frames = build_frames(cls, f, seq, sender, 1)
            if frames is None:
                continue
            try:
                _h, msg = decode(frames)
            except WireError:
                continue
            ok, _r, exc = run_with_deadline(serve_like_endpoint, ep, sender, msg, seq)
            what = describe(cls, msg.as_dict(), 0, sender, seq)
            if not ok:
                findings.add("hung control handler", what)
            elif exc is not None:
                findings.add("control handler", what, exc)
            node.net.xmm.flush_background(5.0)
            for p in audit_kernel(node.kernel):
                if _problem_key(p) not in seen:
                    findings.add(f"audit after {what}", p)
                    seen.add(_problem_key(p))
        try:
            assert isinstance(node.handle(1, ctl.ctl_audit(node=0)).problems, list)
            assert node.handle(1, ctl.ctl_task_create(label="after")).uid[0] == 0
            assert node.handle(1, ctl.ctl_ps(node=0)).rows
        except Exception as e:
            findings.add("liveness node process", "ctl_audit / ctl_task_create / ctl_ps", e)
        if ep.stats["handler_errors"]:
            findings.add("counter node process", f"handler_errors {ep.stats['handler_errors']}")
    finally:
        logging.getLogger("normach").removeHandler(trap)
        node.shutdown()
    assert not findings, f"seed {seed}:\n" + findings.report()
