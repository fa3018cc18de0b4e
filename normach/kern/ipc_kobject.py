"""The kernel object server: messages to kernel ports are kernel calls (P6.18).

Two request layouts reach it: the items a Python caller sends (this module),
and the MIG layout of a guest's message (kern/mig_interface.py).

A message sent to a task, thread or host port is not queued: the kernel runs
the routine whose MIG id is the message id (`kern/routines.py`) on the object
the port names, synchronously, and queues the reply — `[return code, outs...]`
with id + 100, as MIG does — on the request's reply right.

Request body, one item per parameter in declaration order: an int for "int" and
"bool", bytes for "bytes", a port descriptor for "port" (its right is the
kernel's from then on) and for "poly" (its received type is the disposition),
an out-of-line port array for "ports".  Routines with "state" or "record"
parameters take their words as one bytes item of little-endian 64-bit values.
Reply items: ints for "int" and for each field of a "record", bytes, port
descriptors for rights, an out-of-line port array for lists of rights.

Both directions of this format live here: `server` decodes requests and
encodes replies; `request_body` and `reply_values` are what a node calling a
kernel object on another node (kern/remote_call.py) uses to build the request
and read the reply.
"""

from __future__ import annotations

import struct

from ..mach_types import MsgType
from . import records
from ..errors import KernError, KernReturn
from .routines import ROUTINES, convert_target

K = KernReturn


def server(kernel, kmsg):
    """Execute `kmsg` on the kernel object of its destination; returns the reply Kmsg.

    A request a guest laid out in its memory (`kmsg.packed`) is in MIG layout
    (docs/mig.md): kern/mig_interface.py reads it and answers in kind.
    Conditions: kernel lock held.
    """
    from ..ipc.kmsg import ipc_kmsg_make_reply
    if kmsg.packed:
        from .mig_interface import serve
        return serve(kernel, kmsg)
    r = ROUTINES.get(kmsg.id)
    if r is None:
        return ipc_kmsg_make_reply(kmsg, [int(K.MIG_BAD_ID)])
    try:
        target = convert_target(kmsg.dest, r.target)
        args = _decode_args(kmsg, r)
        result = r.impl(target, *args)
    except KernError as e:
        return ipc_kmsg_make_reply(kmsg, [e.code])
    outs = [] if not r.outs else [result] if len(r.outs) == 1 else list(result)
    body = [0]
    for kind, value in zip(r.outs, outs):
        body += _encode_out(kind, value)
    return ipc_kmsg_make_reply(kmsg, body)


def _item_fits(kind: str, item) -> bool:
    """The request item given for a parameter of `kind` is of the declared shape."""
    from ..ipc.kmsg import OOLPortsItem, PortItem
    if kind in ("int", "bool"):
        return isinstance(item, int)
    if kind == "bytes":
        return isinstance(item, (bytes, bytearray))
    if kind in ("port", "poly"):
        return isinstance(item, PortItem)
    if kind == "ports":
        return isinstance(item, OOLPortsItem)
    if kind in ("state", "record"):
        return isinstance(item, (bytes, bytearray)) and len(item) % 8 == 0
    return False


def _decode_args(kmsg, r) -> list:
    """The routine's arguments from a Python caller's request items; every item is
    checked before any right is taken out of the request (a refused request keeps
    its rights, destroyed with it).  Raises: MIG_BAD_ARGUMENTS."""
    if len(kmsg.body) != len(r.params) or not all(
            _item_fits(kind, item) for (_n, kind), item in zip(r.params, kmsg.body)):
        raise KernError(K.MIG_BAD_ARGUMENTS, f"request does not match {r.name}")
    args = []
    for i, (_name, kind) in enumerate(r.params):
        item = kmsg.body[i]
        if kind in ("int", "bool"):
            args.append(item)
        elif kind == "bytes":
            args.append(bytes(item))
        elif kind in ("port", "poly"):
            taken = kmsg.take_item(i)
            port = taken.port if taken.port else None
            args += [port, taken.msgt] if kind == "poly" else [port]
        elif kind == "ports":
            args.append([p or None for p in kmsg.take_item(i).ports])
        else:                                   # state, record: little-endian words
            args.append(list(struct.unpack(f"<{len(item) // 8}Q", item)))
    return args


RIGHT_OUTS = ("task", "thread", "port", "sonce", "right", "threads", "ports")


def right_item(kind: str, value):
    """The reply item of an out of a RIGHT_OUTS kind: a port right, or an out-of-line
    array of them (both reply layouts carry rights so)."""
    from ..ipc.kmsg import OOLPortsItem, PortItem
    from ..ipc.port import ipc_port_make_send
    if kind == "task":                        # a Task here, or a send right (a task elsewhere)
        right = ipc_port_make_send(value.itk_self) if hasattr(value, "itk_self") else value
        return PortItem(right, MsgType.PORT_SEND)
    if kind == "thread":
        return PortItem(ipc_port_make_send(value.ith_self), MsgType.PORT_SEND)
    if kind == "port":
        return PortItem(value, MsgType.PORT_SEND)
    if kind == "sonce":
        return PortItem(value, MsgType.PORT_SEND_ONCE)
    if kind == "right":
        port, msgt = value
        return PortItem(port, msgt)
    if kind == "threads":
        return OOLPortsItem([ipc_port_make_send(t.ith_self) for t in value], MsgType.PORT_SEND)
    assert kind == "ports", kind
    return OOLPortsItem(list(value), MsgType.PORT_SEND)


def _encode_out(kind: str, value) -> list:
    if kind in ("int", "int32"):
        return [int(value)]
    if kind == "bytes":
        return [bytes(value)]
    if kind in RIGHT_OUTS:
        return [right_item(kind, value)]
    if kind in ("state", "record"):
        return [int(w) for w in records.out_words(kind, value)]
    if kind == "names":
        names, types = value
        return [len(names), *map(int, names), *map(int, types)]
    if kind == "ints":
        return [len(value), *map(int, value)]
    raise AssertionError(f"unknown out kind {kind}")


# -- the calling side (kern/remote_call.py) ----------------------------------------

def request_body(routine, params) -> list:
    """The request items of a kernel call (the layout ipc_kobject.server decodes)."""
    from ..ipc.kmsg import OOLPortsItem, PortItem
    body, it = [], iter(params)
    for _name, kind in routine.params:
        v = next(it)
        if kind in ("int", "bool"):
            body.append(int(v))
        elif kind == "bytes":
            body.append(bytes(v))
        elif kind == "port":
            body.append(PortItem(v, MsgType.PORT_SEND))
        elif kind == "poly":
            body.append(PortItem(v, next(it) or MsgType.PORT_SEND))
        elif kind == "ports":
            body.append(OOLPortsItem(list(v), MsgType.PORT_SEND))
        else:                                 # state, record: little-endian words
            if hasattr(v, "to_words"):            # a thread state object
                v = v.to_words()
            words = v if isinstance(v, list) else [v]
            body.append(struct.pack(f"<{len(words)}Q", *words))
    return body


class Words:
    """A thread state as the words a reply carried."""

    def __init__(self, words):
        self.words = words

    def to_words(self):
        return self.words


def reply_values(kinds, items):
    """(out kinds, values) from a reply body made by ipc_kobject: task and thread outs
    become plain send rights ("port"), lists of them "ports"."""
    from ..ipc.kmsg import OOLPortsItem, PortItem
    out_kinds, values, i = [], [], 0
    for kind in kinds:
        if kind in ("task", "thread", "port", "sonce", "right"):
            item = items[i]
            assert isinstance(item, PortItem)
            out_kinds.append("right" if kind == "right" else "sonce" if kind == "sonce" else "port")
            values.append((item.port, item.msgt) if kind == "right" else item.port)
            i += 1
        elif kind in ("threads", "ports"):
            item = items[i]
            assert isinstance(item, OOLPortsItem)
            out_kinds.append("ports")
            values.append(list(item.ports))
            i += 1
        elif kind in ("names", "ints"):
            n = items[i]
            if kind == "names":
                values.append((items[i + 1:i + 1 + n], items[i + 1 + n:i + 1 + 2 * n]))
                i += 1 + 2 * n
            else:
                values.append(items[i + 1:i + 1 + n])
                i += 1 + n
            out_kinds.append(kind)
        elif kind in ("state", "record"):
            rest = [w for w in items[i:] if isinstance(w, int)]
            values.append(Words(rest) if kind == "state" else dict(enumerate(rest)))
            out_kinds.append(kind)
            i = len(items)
        else:
            values.append(items[i])
            out_kinds.append(kind)
            i += 1
    return out_kinds, values
