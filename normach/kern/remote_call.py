"""Kernel calls on objects of another node.

A kernel call whose target port is a proxy (the object lives on another node)
is made the way Mach's MIG stubs make every call: a request message, id = the
routine's id, to the object's kernel port, with a send-once reply right; the
request travels to the object's home node, runs there (ipc_kobject.server),
and the reply — `[return code, outs...]` — comes back.  Guests (kern/traps.py)
and the Python front end (normach/mach.py) both come here.
"""

from __future__ import annotations

import struct

from ..mach_types import MsgType
from .errors import KernReturn

K = KernReturn


def remote_call(kernel, routine, port, params, alive=lambda: True):
    """Run `routine` on the object behind proxy `port`; `params` are decoded values
    (rights the kernel holds, consumed).

    Returns (code, out kinds, out values, done): `done(consumed)` must be called
    once the outs were used (consumed=True: their rights now belong to the
    caller) or not (they are released).
    Conditions: kernel lock held (released while waiting for the reply).
    """
    from ..ipc.kmsg import Kmsg, ipc_kmsg_deliver, ipc_kmsg_destroy
    from ..ipc.port import ipc_port_alloc, ipc_port_copy_send, ipc_port_destroy, ipc_port_make_sonce
    reply_port = ipc_port_alloc(kernel)
    ipc_kmsg_deliver(Kmsg(dest=ipc_port_copy_send(port), dest_type=MsgType.PORT_SEND,
                          reply=ipc_port_make_sonce(reply_port),
                          reply_type=MsgType.PORT_SEND_ONCE, id=routine.id,
                          body=request_body(routine, params)))
    node = port.proxy[1] if port.proxy is not None else kernel.node
    down = kernel.remote.down if kernel.remote is not None else ()
    while not reply_port.messages and alive() and port.active and node not in down:
        reply_port.cond.wait(0.05)
    answer = reply_port.messages.popleft() if reply_port.messages else None
    ipc_port_destroy(reply_port)
    if answer is None:
        code = K.KERN_NODE_DOWN if node in down else K.MIG_SERVER_DIED
        return int(code), [], [], lambda consumed: None
    items = answer.body
    code = items[0] if items and isinstance(items[0], int) else int(K.MIG_REPLY_MISMATCH)
    kinds, values = reply_values(routine.outs, items[1:]) if code == 0 else ([], [])
    state = {"done": False}

    def done(consumed: bool) -> None:
        if state["done"]:
            return
        state["done"] = True
        if consumed:
            answer.body = []
        ipc_kmsg_destroy(answer)
    return code, kinds, values, done


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
