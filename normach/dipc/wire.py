"""Kernel messages in network form (spec D5.3, D5.4).

A message leaving a node carries no Port objects: its destination and every
right in it travel as a port uid `(node, lid)` — the node that made the port
and a number it chose — with the right's received type.  Inline bytes and ints
travel as they are; out-of-line memory travels as raw frames (copied eagerly
for now; issue 5 makes it lazy).  The receiving node turns every uid back into
a port: the principal if the port lives there, else a proxy (one per uid).

Right accounting across nodes:
  * a send right that leaves its node travels with one *transit* (node.py):
    the principal counts every transit out as a send right, proxies hold the
    transits of the rights they received and give them back when their node's
    last right goes, so no-senders fires only when no node holds a right;
  * a send-once right made at the principal stays counted there until a message
    sent with it comes back (consumed) or its holder destroys it unused (the
    send-once notification travels back as a message to the principal).
"""

from __future__ import annotations

from ..mach_types import MsgType

# item tags in network form
BYTES, INT, RIGHT, NAME, OOL, OOL_RIGHTS, BIG_BYTES, RECEIVE = "b", "i", "p", "n", "o", "P", "B", "R"
INLINE_MAX = 4096                   # inline data larger than this travels as a raw frame
DEAD = [-1, -1]                     # the uid of MACH_PORT_DEAD


def encode_body(dipc, body: list, raws: list, node: int, moved: list) -> list:
    """Network form of a kmsg body going to `node`; out-of-line data appended to `raws`,
    receive rights that migrate appended to `moved` (their queues follow the message).

    Conditions: kernel lock held.  The rights and memory in `body` are consumed.
    """
    from ..ipc.kmsg import OOLItem, OOLPortsItem, PortItem
    from ..vm.map import vm_map_copy_discard, vm_map_copy_read
    out = []
    for item in body:
        if isinstance(item, (bytes, bytearray)) and len(item) > INLINE_MAX:
            raws.append(bytes(item))
            out.append([BIG_BYTES, len(raws) - 1])
        elif isinstance(item, (bytes, bytearray)):
            out.append([BYTES, bytes(item)])
        elif isinstance(item, int):
            out.append([INT, int(item)])
        elif isinstance(item, PortItem):
            if item.msgt == MsgType.PORT_NAME:
                out.append([NAME, item.port])
            elif item.msgt == MsgType.PORT_RECEIVE:
                uid, state = dipc.export_receive(item.port, node)
                moved.append(item.port)
                out.append([RECEIVE, uid, state])
            else:
                out.append([RIGHT, dipc.export_right(item.port, item.msgt, node), int(item.msgt)])
        elif isinstance(item, OOLItem):
            data = b""
            if item.copy is not None:
                data = vm_map_copy_read(item.copy)
                vm_map_copy_discard(item.copy)
            raws.append(data)
            out.append([OOL, len(raws) - 1, int(item.size), int(item.copy_option)])
        elif isinstance(item, OOLPortsItem):
            out.append([OOL_RIGHTS, int(item.msgt),
                        [dipc.export_right(p, item.msgt, node) for p in item.ports]])
        else:
            raise AssertionError(f"unknown body item {item!r}")
    return out


def uid_ok(u) -> bool:
    """A uid in network form: a list of two plain ints (node, lid)."""
    return isinstance(u, list) and len(u) == 2 and all(type(x) is int for x in u)


_uid_ok = uid_ok


def validate_body(items, raw_sizes: list) -> None:
    """Raises ValueError unless `items` is a well-formed network body (checked before
    anything is imported, so a bad message changes nothing).  `raw_sizes`: the lengths
    of the message's raw frames (an OOL item's size must not exceed its frame)."""
    nraws = len(raw_sizes)
    if not isinstance(items, list):
        raise ValueError("body is not a list")
    for item in items:
        if not isinstance(item, list) or not item:
            raise ValueError("bad item")
        tag, n = item[0], len(item)
        ok = ((tag == BYTES and n == 2 and isinstance(item[1], bytes))
              or (tag in (INT, NAME) and n == 2 and isinstance(item[1], int))
              or (tag == BIG_BYTES and n == 2 and isinstance(item[1], int) and 0 <= item[1] < nraws)
              or (tag == RECEIVE and n == 3 and _uid_ok(item[1]) and isinstance(item[2], list)
                  and len(item[2]) == 8 and all(isinstance(x, int) for x in item[2])
                  and all(x >= 0 for x in item[2][:5]))
              or (tag == RIGHT and n == 3 and _uid_ok(item[1]) and isinstance(item[2], int))
              or (tag == OOL and n == 4 and all(isinstance(x, int) for x in item[1:])
                  and 0 <= item[1] < nraws and 0 <= item[2] <= raw_sizes[item[1]])
              or (tag == OOL_RIGHTS and n == 3 and isinstance(item[1], int)
                  and isinstance(item[2], list) and all(_uid_ok(u) for u in item[2])))
        if not ok:
            raise ValueError(f"bad item {item!r:.80}")
        if tag == RIGHT:
            _right_type(item[2])
        if tag == OOL_RIGHTS:
            _right_type(item[1])


def decode_body(dipc, items: list, raws: list) -> list:
    """Local kmsg body items from a validated network form.  Conditions: kernel lock held."""
    from ..ipc.kmsg import OOLItem, OOLPortsItem, PortItem
    from ..vm.map import vm_map_copy_from_bytes
    body = []
    for item in items:
        tag = item[0]
        if tag == BYTES and isinstance(item[1], bytes):
            body.append(item[1])
        elif tag == BIG_BYTES:
            body.append(raws[item[1]])
        elif tag == RECEIVE:
            body.append(PortItem(dipc.import_receive(item[1], item[2]), MsgType.PORT_RECEIVE))
        elif tag == INT and isinstance(item[1], int):
            body.append(item[1])
        elif tag == NAME:
            body.append(PortItem(int(item[1]), MsgType.PORT_NAME))
        elif tag == RIGHT:
            msgt = _right_type(item[2])
            body.append(PortItem(dipc.import_right(item[1], msgt), msgt))
        elif tag == OOL:
            data = raws[int(item[1])]
            copy = vm_map_copy_from_bytes(dipc.kernel, data) if data else None
            body.append(OOLItem(copy, int(item[2]), int(item[3])))
        elif tag == OOL_RIGHTS:
            msgt = _right_type(item[1])
            body.append(OOLPortsItem([dipc.import_right(u, msgt) for u in item[2]], msgt))
        else:
            raise ValueError(f"bad item {tag!r}")
    return body


def _right_type(msgt) -> int:
    if msgt not in (MsgType.PORT_SEND, MsgType.PORT_SEND_ONCE):
        raise ValueError(f"right type {msgt!r} cannot cross nodes")
    return int(msgt)
