"""Kernel messages: a message while it belongs to the kernel.

Between send and receive a message is a `Kmsg`.  Its port fields no longer hold
names (names mean something only inside one space) but the rights themselves:
`dest` is a Port together with the *received type* of the right the message
carries to it (PORT_SEND or PORT_SEND_ONCE), `reply` likewise (or None / IP_DEAD).
Copyin at send time turned the sender's names and dispositions into rights
(MOVE_* took the right out of the sender's space, COPY/MAKE_* made new ones);
copyout at receive time inserts the rights into the receiver's space and turns
them back into names.  So while a message is queued it *owns* rights: a send
right inside a queued message counts in `port.srights` exactly as a name does.

Body items (a Python list, in order):
  bytes                 inline data
  int                   an inline integer
  PortItem(port, msgt)  one right; msgt a received type (16 receive, 17 send,
                        18 send-once); port a Port, IP_DEAD or None.  With
                        msgt == PORT_NAME (15) `port` is a plain int, uninterpreted.
  OOLItem(copy, size)   out-of-line memory: a vm.map.VMMapCopy (None when size 0)
  OOLPortsItem(ports, msgt)  an out-of-line array of rights of one type

Destroying a message that is never received (its port died, it was too large,
a kernel server refused it) releases everything it owns: send rights are
released (perhaps firing no-senders), send-once rights are destroyed (send-once
notifications), receive rights are destroyed (their ports die or go to their
port-destroyed request), out-of-line memory is discarded.

Contract with the kernel object server (`normach.kern.ipc_kobject.server(kernel,
kmsg) -> Kmsg | None`): it is called with the kernel lock held.  It may take
rights out of the request (`take_reply()`, `take_item(i)`: the field is then
cleared and the caller owns the right); whatever is left in the request is
destroyed by ipc/ after it returns (including the request's destination send
right).  A returned Kmsg is sent with the internal send, ignoring queue limits;
`ipc_kmsg_make_reply(request, body)` builds one on the request's reply right.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import param
from ..kern.memory import QUEUED
from ..mach_types import MACH_MSGH_BITS, MACH_MSGH_BITS_COMPLEX, MsgType
from .ipc_kernel import ipc_state
from .port import (IP_DEAD, ipc_port_consume_sonce, ipc_port_destroy,
                   ipc_port_release_send, ipc_port_release_sonce, port_valid)

MACH_MSG_HEADER_SIZE = 24       # bits, size, remote, local, reserved, id (4 bytes each)
MACH_MSG_BODY_SIZE = 4          # descriptor_count, present when the message is complex
MACH_MSG_DESCRIPTOR_SIZE = 16   # one port / OOL / OOL-ports descriptor
MACH_MSG_INT_SIZE = 8           # an inline integer
INT_ITEM_MIN, INT_ITEM_END = -(1 << 63), 1 << 64      # an inline integer fits 64 bits


def msgh_id(value) -> int | None:
    """`value` as a msgh_id (a signed 32-bit integer_t; the unsigned spelling of the same
    32 bits is accepted), or None if it is not one."""
    if not isinstance(value, int) or isinstance(value, bool) or not -(1 << 31) <= value < (1 << 32):
        return None
    return value - (1 << 32) if value >= (1 << 31) else value


def int_item_ok(value) -> bool:
    """An inline integer of a message body fits its 8 bytes."""
    return isinstance(value, int) and INT_ITEM_MIN <= value < INT_ITEM_END


@dataclass
class PortItem:
    """A port right carried in a message body (see module docstring)."""

    port: object
    msgt: int


@dataclass
class OOLItem:
    """Out-of-line memory carried in a message: a VMMapCopy (or None for size 0)."""

    copy: object
    size: int
    copy_option: int = 1


@dataclass
class OOLPortsItem:
    """An out-of-line array of rights, all of received type `msgt`."""

    ports: list
    msgt: int


def item_size(item) -> int:
    """Bytes an item occupies in the message (the size a receive buffer must hold)."""
    if isinstance(item, (bytes, bytearray)):
        return (len(item) + 3) & ~3
    if isinstance(item, (PortItem, OOLItem, OOLPortsItem)):
        return MACH_MSG_DESCRIPTOR_SIZE
    return MACH_MSG_INT_SIZE


def is_descriptor(item) -> bool:
    return isinstance(item, (PortItem, OOLItem, OOLPortsItem))


def body_size(items, complex_bit: bool = False) -> int:
    """Header + body size of a message with these items (`complex_bit`: the sender set
    MACH_MSGH_BITS_COMPLEX, so the descriptor count is there even if it is 0)."""
    complex_ = complex_bit or any(is_descriptor(i) for i in items)
    return (MACH_MSG_HEADER_SIZE + (MACH_MSG_BODY_SIZE if complex_ else 0)
            + sum(item_size(i) for i in items))


@dataclass(eq=False)
class Kmsg:
    """A message owned by the kernel.

    Fields (guarded by the kernel lock while queued):
      dest, dest_type     destination Port and the received type of the right
                          carried to it (PORT_SEND or PORT_SEND_ONCE)
      reply, reply_type   reply Port / IP_DEAD / None and its received type (0 if none)
      id                  msgh_id
      body                list of items (module docstring)
      size                msgh_size (header + body bytes)
      stamp               node-wide arrival number, set at enqueue
      seqno               the port's sequence number, set at dequeue (P6.13)
      charged             bytes charged to the node's memory budget while queued
      complex_bit         the sender set MACH_MSGH_BITS_COMPLEX (kept with 0 descriptors)
      packed              a guest laid it out: descriptors, then one inline item
                          (kernel objects read it in MIG layout, docs/mig.md)
    """

    dest: object
    dest_type: int
    reply: object = None
    reply_type: int = 0
    id: int = 0
    body: list = field(default_factory=list)
    size: int = 0
    stamp: int = 0
    seqno: int = 0
    charged: int = 0
    complex_bit: bool = False
    packed: bool = False

    def __post_init__(self):
        if not self.size:
            self.size = body_size(self.body, self.complex_bit)

    @property
    def complex(self) -> bool:
        return self.complex_bit or any(is_descriptor(i) for i in self.body)

    @property
    def bits(self) -> int:
        """msgh_bits as the sender's side sees it: remote = dest, local = reply."""
        return (MACH_MSGH_BITS(self.dest_type, self.reply_type)
                | (MACH_MSGH_BITS_COMPLEX if self.complex else 0))

    def take_reply(self):
        """Remove the reply right from the message: returns (port, type); caller owns it."""
        taken = (self.reply, self.reply_type)
        self.reply, self.reply_type = None, 0
        return taken

    def take_item(self, i: int):
        """Remove body item i (replaced by None); the caller owns its rights/memory."""
        item, self.body[i] = self.body[i], None
        return item

    def __repr__(self) -> str:
        return (f"<Kmsg id={self.id} size={self.size} dest={self.dest!r}/{self.dest_type} "
                f"reply={self.reply!r}/{self.reply_type} items={len(self.body)}>")


# -- destruction ----------------------------------------------------------------

def ipc_object_destroy(port, msgt: int) -> None:
    """Destroy one right of received type `msgt` owned by the kernel.

    Conditions: kernel lock held.
    """
    if msgt == MsgType.PORT_NAME or not port_valid(port):
        return
    if msgt == MsgType.PORT_SEND:
        ipc_port_release_send(port)
    elif msgt == MsgType.PORT_SEND_ONCE:
        ipc_port_release_sonce(port)
    elif msgt == MsgType.PORT_RECEIVE:
        assert port.receiver is None
        if port.active:
            ipc_port_destroy(port)
    else:
        raise AssertionError(f"bad right type {msgt}")


def ipc_item_destroy(item) -> None:
    """Release what one body item owns.  Conditions: kernel lock held."""
    if isinstance(item, PortItem):
        ipc_object_destroy(item.port, item.msgt)
    elif isinstance(item, OOLPortsItem):
        for port in item.ports:
            ipc_object_destroy(port, item.msgt)
    elif isinstance(item, OOLItem) and item.copy is not None:
        from ..vm.map import vm_map_copy_discard
        vm_map_copy_discard(item.copy)
        item.copy = None


def ipc_kmsg_clean_body(kmsg: Kmsg) -> None:
    """Destroy everything in the body.  Conditions: kernel lock held."""
    body, kmsg.body = kmsg.body, []
    for item in body:
        ipc_item_destroy(item)


def ipc_kmsg_destroy(kmsg: Kmsg) -> None:
    """Destroy an undelivered message and every right and region it owns.

    The destination right is released without notification if the port is
    dead or a kernel port (a send-once right to a live user port gets a
    send-once notification: it was destroyed unused).
    Conditions: kernel lock held.
    """
    dest, dest_type = kmsg.dest, kmsg.dest_type
    kmsg.dest = None
    if port_valid(dest):
        ipc_state(dest.kernel).stats.messages_destroyed += 1
        ipc_object_destroy(dest, dest_type)
    reply, reply_type = kmsg.take_reply()
    ipc_object_destroy(reply, reply_type)
    ipc_kmsg_clean_body(kmsg)


# -- delivery --------------------------------------------------------------------

def ipc_kmsg_enqueue(port, kmsg: Kmsg) -> None:
    """Append to the port's queue and wake receivers.  No queue-limit check.

    Conditions: kernel lock held; port active, not a kernel port.
    """
    assert port.kernel.lock.held() and port.active and not port.kernel_receive
    kmsg.stamp = next(ipc_state(port.kernel).stamp)
    kmsg.charged = param.MSG_QUEUED_OVERHEAD + sum(len(i) for i in kmsg.body
                                         if isinstance(i, (bytes, bytearray)))
    port.kernel.memory.charge(QUEUED, kmsg.charged, force=True)   # checked at send
    port.messages.append(kmsg)
    port.cond.notify_all()
    if port.pset is not None:
        port.pset.cond.notify_all()


def ipc_kmsg_unqueue(port) -> Kmsg:
    """Take the oldest message off the port's queue (its charge given back).
    Conditions: kernel lock held; queue not empty."""
    kmsg = port.messages.popleft()
    port.kernel.memory.credit(QUEUED, kmsg.charged)
    kmsg.charged = 0
    return kmsg


def ipc_kmsg_deliver(kmsg: Kmsg) -> None:
    """Hand a copied-in message to its destination, whatever it is.

    Dead destination: destroyed (P6.14).  Kernel port: executed now (P6.18).
    Otherwise queued (the caller has already honoured the queue limit).
    Conditions: kernel lock held.
    """
    dest = kmsg.dest
    if not port_valid(dest) or not dest.active:
        ipc_kmsg_destroy(kmsg)
    elif dest.kernel_receive:
        _kobject_call(kmsg)
    elif dest.proxy is not None:
        dest.kernel.remote.forward(kmsg)          # DIPC: the receiver is on another node
    else:
        ipc_kmsg_enqueue(dest, kmsg)


def ipc_kmsg_send_internal(kmsg: Kmsg) -> None:
    """Kernel-internal send (notifications, kernel replies): never blocks (P6.12).

    Conditions: kernel lock held.
    """
    if port_valid(kmsg.dest):
        ipc_state(kmsg.dest.kernel).stats.kernel_sends += 1
    ipc_kmsg_deliver(kmsg)


def _kobject_call(kmsg: Kmsg) -> None:
    """Run a message to a kernel object port through the kernel object server."""
    kernel = kmsg.dest.kernel
    ipc_state(kernel).stats.kobject_calls += 1
    try:
        from ..kern import ipc_kobject
    except ModuleNotFoundError as e:
        if e.name != "normach.kern.ipc_kobject":
            raise
        ipc_kmsg_destroy(kmsg)
        return
    reply = ipc_kobject.server(kernel, kmsg)
    ipc_kmsg_destroy(kmsg)
    if reply is not None:
        ipc_kmsg_send_internal(reply)


def ipc_kmsg_make_reply(request: Kmsg, body: list, id: int | None = None) -> Kmsg | None:
    """A reply to `request` on its reply right (taken from the request).

    `id` defaults to request.id + 100 (the MIG convention).  Returns None if the
    request has no usable reply right (then nothing is taken).
    Conditions: kernel lock held.
    """
    if not port_valid(request.reply):
        return None
    reply, reply_type = request.take_reply()
    return Kmsg(dest=reply, dest_type=reply_type,
                id=request.id + 100 if id is None else id, body=list(body))


def ipc_kmsg_consume_dest(kmsg: Kmsg) -> None:
    """The message was received: the right it carried to its destination is used up.

    A send right is released (may fire no-senders); a send-once right is
    consumed without notification.  Conditions: kernel lock held.
    """
    dest, kmsg.dest = kmsg.dest, None
    if kmsg.dest_type == MsgType.PORT_SEND_ONCE:
        ipc_port_consume_sonce(dest)
    else:
        ipc_port_release_send(dest)


__all__ = ["Kmsg", "PortItem", "OOLItem", "OOLPortsItem", "IP_DEAD", "body_size",
           "ipc_kmsg_destroy", "ipc_kmsg_deliver", "ipc_kmsg_send_internal",
           "ipc_kmsg_enqueue", "ipc_kmsg_make_reply", "ipc_kmsg_consume_dest",
           "ipc_object_destroy"]
