"""Notifications: messages the kernel sends about ports (spec §6.5).

A task asks for a notification with mach_port_request_notification, handing the
kernel a send-once right (the "notify port").  When the event happens the kernel
sends one message on that send-once right with the internal send (never blocked
by a queue limit, P6.12), consuming it.  Each notification is a Kmsg whose
destination is the notify right and whose body is:

  id 65 PORT_DELETED    [name]       the name lost its last right (request gone)
  id 69 PORT_DESTROYED  [PortItem(receive right)]   instead of destroying the port
  id 70 NO_SENDERS      [mscount]    last send right gone (D5.10)
  id 71 SEND_ONCE       []           a send-once right was destroyed unused; sent
                                     on that very right
  id 72 DEAD_NAME       [name]       the port of a name died; the name gained one
                                     uref that the notification "carries"

If the notify right is dead the message is simply destroyed (what it carries is
released: a port-destroyed notification then destroys the receive right).
"""

from __future__ import annotations

from ..mach_types import MsgType, Notify
from .ipc_kernel import ipc_state
from .kmsg import Kmsg, PortItem, ipc_kmsg_send_internal
from .port import port_valid


def _send(notify, msg_id: int, body: list) -> None:
    """Send one notification on the send-once right `notify` (consumed)."""
    if port_valid(notify):
        ipc_state(notify.kernel).stats.notifications += 1
    kmsg = Kmsg(dest=notify, dest_type=MsgType.PORT_SEND_ONCE, id=msg_id, body=body)
    ipc_kmsg_send_internal(kmsg)


def ipc_notify_no_senders(notify, mscount: int) -> None:
    """No-senders notification carrying the make-send count.  Conditions: kernel lock held."""
    _send(notify, Notify.NO_SENDERS, [mscount])


def ipc_notify_send_once(port) -> None:
    """Send-once notification, sent on the destroyed send-once right itself.

    Conditions: kernel lock held.
    """
    _send(port, Notify.SEND_ONCE, [])


def ipc_notify_dead_name(notify, name: int) -> None:
    """Dead-name notification for `name` (in the requesting space).  Conditions: lock held."""
    _send(notify, Notify.DEAD_NAME, [name])


def ipc_notify_port_deleted(notify, name: int) -> None:
    """Port-deleted notification: `name` lost its last right while a dead-name
    request was pending.  Conditions: kernel lock held."""
    _send(notify, Notify.PORT_DELETED, [name])


def ipc_notify_port_destroyed(notify, port) -> None:
    """Port-destroyed notification: the receive right of `port` moves into it.

    Conditions: kernel lock held; port.receiver already None.
    """
    assert port.receiver is None
    _send(notify, Notify.PORT_DESTROYED, [PortItem(port, MsgType.PORT_RECEIVE)])
