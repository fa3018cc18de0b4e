"""What every user-level server does with a request it did not ask for.

A server's clients are guests, and guests are hostile: any message may arrive
on a server's port, with any id, any reply right (send-once, send, or none)
and any body (port rights of every kind, out-of-line memory).  In Mach a MIG
server's demux answers an unknown id with MIG_BAD_ID, a malformed request with
MIG_BAD_ARGUMENTS, and destroys what the request carried that the routine did
not consume (mach_msg_destroy), so nothing a client sends can pile up in the
server's space.  This module is that discipline for our Python servers:

  - `serve_one` runs one request through a handler; a `KernError` raised by
    the handler (the client's fault) becomes the error reply, any other
    exception is a server bug: it is logged and counted, answered with
    KERN_FAILURE, and the server goes on serving;
  - `discard` destroys the rights and out-of-line regions of a request that
    were not consumed;
  - `reply` answers on the reply right with the disposition it arrived with
    (a send-once right is moved, a send right moved too), and releases it if
    the answer cannot be sent;
  - `receive_one` receives the next request: a request that cannot be received
    whole (no room in the server's space for its reply right or its rights,
    too large) is counted and dropped, and the server receives the next; only
    the death of its own port or set ends the loop.

`ServerStats` counts requests, errors and bugs; the CLI and tests read them.
"""

from __future__ import annotations

import dataclasses
import logging

from .. import mach
from ..ipc.message import Message, OOLDesc, OOLPortsDesc, PortDesc
from ..errors import (MACH_MSG_IPC_KERNEL, MACH_MSG_IPC_SPACE, MACH_MSG_VM_SPACE,
                           KernError, KernReturn)
from ..mach_types import MsgOption, MsgType, PortRight

log = logging.getLogger("normach.servers")

_REPLY_DISPOSITION = {MsgType.PORT_SEND_ONCE: MsgType.MOVE_SEND_ONCE,
                      MsgType.PORT_SEND: MsgType.MOVE_SEND}


@dataclasses.dataclass
class ServerStats:
    """Counters of one server (guarded by the GIL: each is bumped by its own thread)."""

    requests: int = 0        # messages received
    refused: int = 0         # answered with an error the client caused (bad id, bad arguments)
    bugs: int = 0            # handler exceptions that were not Mach errors (logged)
    dropped: int = 0         # requests that could not be received whole (dropped)


_SOFT_BITS = MACH_MSG_IPC_SPACE | MACH_MSG_VM_SPACE | MACH_MSG_IPC_KERNEL
_MESSAGE_ERRORS = (KernReturn.MACH_RCV_HEADER_ERROR, KernReturn.MACH_RCV_BODY_ERROR,
                   KernReturn.MACH_RCV_TOO_LARGE)     # the request's fault, not the server's


def receive_one(task, name: int, stats: ServerStats) -> Message | None:
    """The next request on `name` (a port or port set of `task`), or None when the
    server's port, set or task is gone (any error that is not the request's).  A
    request the kernel could not hand over whole (a header or body error: no room
    for a right; too large) is dropped and counted: what it did deliver is
    destroyed, and the next is received."""
    while True:
        try:
            return mach.mach_msg_receive(task, name)
        except KernError as e:
            if e.code & ~_SOFT_BITS not in _MESSAGE_ERRORS:
                return None                     # the server's port, set or task is gone
            stats.dropped += 1
            delivered = getattr(e, "message", None)
            if delivered is not None:          # a body error: the message, items nulled
                discard(task, delivered)
                if delivered.remote_port:
                    _drop_right(task, delivered.remote_port, delivered.remote_disp)
            log.warning("server dropped a request it could not receive: %s", e)


def discard(task, m: Message, keep: tuple = ()) -> None:
    """Destroy what request `m` carried into `task`'s space, except the names in `keep`:
    received rights of its body (by their received type) and out-of-line regions."""
    for item in m.body:
        if isinstance(item, PortDesc):
            if item.name and item.name not in keep:
                _drop_right(task, item.name, item.disposition)
        elif isinstance(item, OOLPortsDesc):
            for name in item.names:
                if name and name not in keep:
                    _drop_right(task, name, item.disposition)
        elif isinstance(item, OOLDesc) and item.address and item.size:
            _quietly(mach.vm_deallocate, task, item.address, item.size)


def _drop_right(task, name: int, received: int) -> None:
    if received == MsgType.PORT_RECEIVE:
        _quietly(mach.mach_port_mod_refs, task, name, PortRight.RECEIVE, -1)
    else:                                   # send, send-once, or a dead name it became
        _quietly(mach.mach_port_deallocate, task, name)


def _quietly(fn, *args) -> None:
    try:
        fn(*args)
    except KernError:
        pass                                # already gone (the port died meanwhile)


def reply(task, m: Message, body: list) -> None:
    """Answer request `m` (id + 100) with `body` on its reply right, if it has one.
    A reply that cannot be sent (the client is gone, the right is not a send right)
    releases the right: nothing stays in the server's space."""
    if not m.remote_port:
        return
    disp = _REPLY_DISPOSITION.get(m.remote_disp)
    if disp is not None:
        try:
            mach.mach_msg_send(task, Message(remote_port=m.remote_port, remote_disp=disp,
                                             id=_reply_id(m.id), body=body),
                               MsgOption.SEND_TIMEOUT, 0)     # a full queue never blocks us
            return
        except KernError:
            pass
    _drop_right(task, m.remote_port, m.remote_disp)


def _reply_id(request_id: int) -> int:
    """The reply's id, request id + 100 (MIG's convention), kept in int32."""
    return ((request_id + 100 + (1 << 31)) % (1 << 32)) - (1 << 31)


def status_body(code: int) -> list:
    """The body of a reply that carries only a 4-byte status."""
    return [(int(code) & 0xFFFFFFFF).to_bytes(4, "little")]


def serve_one(task, m: Message, handler, stats: ServerStats) -> None:
    """Run `handler(m)` -> reply body (or None: the handler replied itself).  Errors
    become status replies; the request's unconsumed rights are destroyed on error.
    Nothing raised while serving (a bug included) leaves this function."""
    stats.requests += 1
    try:
        _serve(task, m, handler, stats)
    except Exception:                       # a bug in the reply or the clean-up
        stats.bugs += 1
        log.exception("server bug answering request id %#x", m.id & 0xFFFFFFFF)


def _serve(task, m: Message, handler, stats: ServerStats) -> None:
    try:
        body = handler(m)
    except KernError as e:
        stats.refused += 1
        discard(task, m)
        body = status_body(e.code)
    except Exception:                       # a server bug: never let it kill the server
        stats.bugs += 1
        log.exception("server bug on request id %#x", m.id & 0xFFFFFFFF)
        discard(task, m)
        body = status_body(KernReturn.KERN_FAILURE)
    if body is not None:
        reply(task, m, body)
