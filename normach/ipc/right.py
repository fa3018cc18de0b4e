"""Rights in a space: moving them in and out, deallocating, destroying.

*Copyin* takes a right out of a space by disposition (the sender's side of the
P6.5 table) and gives the kernel a right of a *received type*:

  MOVE_RECEIVE   -> PORT_RECEIVE    the name loses the receive right
  MOVE_SEND      -> PORT_SEND       the name loses one uref
  COPY_SEND      -> PORT_SEND       unchanged; port srights +1
  MAKE_SEND      -> PORT_SEND       needs the receive right; srights+1, mscount+1
  MOVE_SEND_ONCE -> PORT_SEND_ONCE  the name goes away
  MAKE_SEND_ONCE -> PORT_SEND_ONCE  needs the receive right; sorights+1

A dead name may be moved or copied as a send / send-once right: the kernel then
holds IP_DEAD and the receiver gets MACH_PORT_DEAD (P6.6); MOVE_* consumes one
dead-name uref.

*Copyout* puts a kernel-held right into a space and returns its name; a send
right merges into the name already holding the port's send or receive right.

Copyin happens in two passes for a message (P6.15: on a send error the sender
keeps its rights): `ipc_right_copyin_check` simulates each copyin against a
ledger of what the names would have left, and only when the whole message
passes does `ipc_right_copyin` change anything.

When a name loses its last right while a dead-name request is pending, the
request's send-once right receives a PORT_DELETED notification; when its port
dies instead, the name becomes a dead name and the request fires DEAD_NAME.
"""

from __future__ import annotations

from .. import param
from ..errors import KernError, KernReturn
from ..mach_types import MACH_PORT_DEAD, MACH_PORT_NULL, MsgType, PortType
from .port import (IP_DEAD, ipc_port_clear_receiver, ipc_port_consume_sonce,
                   ipc_port_destroy, ipc_port_make_send, ipc_port_make_sonce,
                   ipc_port_release_send, ipc_port_release_sonce, port_valid)

DISPOSITIONS = frozenset({MsgType.MOVE_RECEIVE, MsgType.MOVE_SEND, MsgType.MOVE_SEND_ONCE,
                          MsgType.COPY_SEND, MsgType.MAKE_SEND, MsgType.MAKE_SEND_ONCE})
SEND_DISPOSITIONS = DISPOSITIONS - {MsgType.MOVE_RECEIVE}
RECEIVED_TYPES = frozenset({MsgType.PORT_RECEIVE, MsgType.PORT_SEND, MsgType.PORT_SEND_ONCE})

_RECEIVED = {
    MsgType.MOVE_RECEIVE: MsgType.PORT_RECEIVE,
    MsgType.MOVE_SEND: MsgType.PORT_SEND,
    MsgType.COPY_SEND: MsgType.PORT_SEND,
    MsgType.MAKE_SEND: MsgType.PORT_SEND,
    MsgType.MOVE_SEND_ONCE: MsgType.PORT_SEND_ONCE,
    MsgType.MAKE_SEND_ONCE: MsgType.PORT_SEND_ONCE,
}


def received_type(disposition: int) -> int:
    """The received type (P6.6) of a right sent with `disposition`."""
    return int(_RECEIVED[disposition])


# -- entry bookkeeping ---------------------------------------------------------

def _attach(space, entry, port, bits: int) -> None:
    """Give `entry` rights `bits` to `port` and record it on both sides."""
    entry.object = port
    entry.bits |= bits
    port.entries.add(entry)
    if bits & (PortType.SEND | PortType.RECEIVE):
        space._rev[port] = entry


def _forget(space, entry) -> None:
    """The entry holds no right any more: request -> PORT_DELETED, name freed."""
    from .notify import ipc_notify_port_deleted
    port = entry.object
    if port_valid(port):
        port.entries.discard(entry)
        if space._rev.get(port) is entry:
            del space._rev[port]
    entry.bits = PortType.NONE
    entry.object = None
    entry.urefs = 0
    notify, entry.dnrequest = entry.dnrequest, None
    space.entry_dealloc(entry)
    if notify is not None:
        ipc_notify_port_deleted(notify, entry.name)


def _drop_send_bit(space, entry) -> None:
    """The entry's send urefs reached 0 (the right itself is handled by the caller)."""
    entry.bits &= ~PortType.SEND
    entry.urefs = 0
    if not entry.bits:
        _forget(space, entry)


def _drop_receive_bit(space, entry) -> None:
    entry.bits &= ~PortType.RECEIVE
    if not entry.bits:
        _forget(space, entry)


def _dead_uref_dec(space, entry, n: int = 1) -> None:
    entry.urefs -= n
    if entry.urefs == 0:
        entry.bits = PortType.NONE
        space.entry_dealloc(entry)


def ipc_right_port_died(entry, port) -> None:
    """`port` died: its name in entry.space becomes a dead name (urefs kept; a
    send-once right becomes one uref); a dead-name request fires, adding one
    uref that the notification carries.  Conditions: kernel lock held.
    """
    from .notify import ipc_notify_dead_name
    space = entry.space
    assert not entry.has(PortType.RECEIVE), repr(entry)
    if entry.has(PortType.SEND):
        port.srights -= 1
        urefs = entry.urefs
    else:
        assert entry.has(PortType.SEND_ONCE)
        port.sorights -= 1
        urefs = 1
    if space._rev.get(port) is entry:
        del space._rev[port]
    entry.bits = PortType.DEAD_NAME
    entry.object = None
    entry.urefs = urefs
    if entry.dnrequest is not None:
        notify, entry.dnrequest = entry.dnrequest, None
        entry.urefs = min(entry.urefs + 1, param.UREFS_MAX)
        ipc_notify_dead_name(notify, entry.name)


# -- copyin ----------------------------------------------------------------------

def _ledger_state(entry) -> list:
    """[send urefs, receive, send-once, dead urefs] of an entry, for simulation."""
    return [entry.urefs if entry.has(PortType.SEND) else 0,
            entry.has(PortType.RECEIVE),
            entry.has(PortType.SEND_ONCE),
            entry.urefs if entry.has(PortType.DEAD_NAME) else 0]


def ipc_right_copyin_check(space, name: int, disposition: int, ledger: dict,
                           allow_dead: bool = True) -> bool:
    """Would copyin of (name, disposition) succeed after the copyins already in `ledger`?

    Records the simulated consumption in `ledger` (name -> state).  NULL and DEAD
    names pass (the caller decides if they are allowed there).  A dead name
    passes for send dispositions only if `allow_dead`.
    Conditions: kernel lock held; nothing is changed.
    """
    if name in (MACH_PORT_NULL, MACH_PORT_DEAD):
        return True
    entry = space.table.get(name)
    if entry is None:
        return False
    state = ledger.setdefault(name, _ledger_state(entry))
    send, recv, sonce, dead = state
    if disposition == MsgType.MOVE_RECEIVE:
        state[1] = False
        return recv
    if disposition in (MsgType.MAKE_SEND, MsgType.MAKE_SEND_ONCE):
        return recv
    if disposition == MsgType.COPY_SEND:
        return send > 0 or (allow_dead and dead > 0)
    if disposition == MsgType.MOVE_SEND:
        if send > 0:
            state[0] -= 1
            return True
    elif disposition == MsgType.MOVE_SEND_ONCE:
        if sonce:
            state[2] = False
            return True
    else:
        return False
    if allow_dead and dead > 0:
        state[3] -= 1
        return True
    return False


def ipc_right_copyin(space, name: int, disposition: int):
    """Take the right out of the space: returns (Port | IP_DEAD | None, received type).

    Conditions: kernel lock held; `ipc_right_copyin_check` passed for it.
    """
    assert space.kernel.lock.held()
    if name == MACH_PORT_NULL:
        return None, 0
    msgt = received_type(disposition)
    if name == MACH_PORT_DEAD:
        return IP_DEAD, msgt
    entry = space.table[name]
    if entry.has(PortType.DEAD_NAME):
        if disposition in (MsgType.MOVE_SEND, MsgType.MOVE_SEND_ONCE):
            _dead_uref_dec(space, entry)
        return IP_DEAD, msgt
    port = entry.object
    _COPYIN[disposition](space, entry, port)
    return port, msgt


def _copyin_move_receive(space, entry, port) -> None:
    _drop_receive_bit(space, entry)
    ipc_port_clear_receiver(port)
    port.mscount = 0            # D5.16: a moved receive right restarts its counts
    port.seqno = 0


def _copyin_move_send(space, entry, port) -> None:
    assert entry.has(PortType.SEND)
    if entry.urefs > 1:
        entry.urefs -= 1        # the name keeps its right; the message gets a new one
        port.srights += 1
    else:
        _drop_send_bit(space, entry)


def _copyin_copy_send(space, entry, port) -> None:
    assert entry.has(PortType.SEND)
    port.srights += 1


def _copyin_make_send(space, entry, port) -> None:
    assert entry.has(PortType.RECEIVE)
    ipc_port_make_send(port)


def _copyin_make_sonce(space, entry, port) -> None:
    assert entry.has(PortType.RECEIVE)
    ipc_port_make_sonce(port)


def _copyin_move_sonce(space, entry, port) -> None:
    assert entry.has(PortType.SEND_ONCE)
    entry.bits &= ~PortType.SEND_ONCE
    _forget(space, entry)


_COPYIN = {
    MsgType.MOVE_RECEIVE: _copyin_move_receive,
    MsgType.MOVE_SEND: _copyin_move_send,
    MsgType.COPY_SEND: _copyin_copy_send,
    MsgType.MAKE_SEND: _copyin_make_send,
    MsgType.MAKE_SEND_ONCE: _copyin_make_sonce,
    MsgType.MOVE_SEND_ONCE: _copyin_move_sonce,
}


# -- copyout ----------------------------------------------------------------------

def ipc_right_copyout(space, port, msgt: int) -> int:
    """Insert a kernel-held right of received type `msgt` into `space`; returns the name.

    None -> MACH_PORT_NULL; IP_DEAD or a dead port -> MACH_PORT_DEAD (the right
    is released).  A send right merges into the port's existing name (P6.7,
    urefs saturate at UREFS_MAX).
    Conditions: kernel lock held; space active.
    Raises: KERN_NO_SPACE if a new name is needed and the space is full (the
    right is then still the caller's).
    """
    assert space.kernel.lock.held() and space.active
    if port is None:
        return MACH_PORT_NULL
    if not port_valid(port):
        return MACH_PORT_DEAD
    if not port.active:
        _release_dead(port, msgt)
        return MACH_PORT_DEAD
    if msgt == MsgType.PORT_SEND:
        return _copyout_send(space, port)
    if msgt == MsgType.PORT_SEND_ONCE:
        entry = space.entry_alloc()
        _attach(space, entry, port, PortType.SEND_ONCE)
        return entry.name
    assert msgt == MsgType.PORT_RECEIVE and port.receiver is None, (msgt, port)
    return _copyout_receive(space, port)


def _release_dead(port, msgt: int) -> None:
    if msgt == MsgType.PORT_SEND:
        ipc_port_release_send(port)
    elif msgt == MsgType.PORT_SEND_ONCE:
        ipc_port_consume_sonce(port)


def _copyout_send(space, port) -> int:
    entry = space.reverse_lookup(port)
    if entry is None:
        entry = space.entry_alloc()
        _attach(space, entry, port, PortType.SEND)
        entry.urefs = 1
    elif entry.has(PortType.SEND):
        port.srights -= 1           # two send rights become one name with one more uref
        entry.urefs = min(entry.urefs + 1, param.UREFS_MAX)
    else:
        entry.bits |= PortType.SEND
        entry.urefs = 1
    return entry.name


def _copyout_receive(space, port) -> int:
    entry = space.reverse_lookup(port)
    if entry is None:
        entry = space.entry_alloc()
    _attach(space, entry, port, PortType.RECEIVE)
    port.receiver = space
    port.kernel_receive = False
    return entry.name


def ipc_right_insert_at(space, entry, port, msgt: int) -> None:
    """Put a kernel-held right under the existing or fresh `entry` (insert_right).

    Conditions: kernel lock held; the caller checked P6.3 (the entry is empty or
    already names this port, and msgt is compatible).
    """
    if msgt == MsgType.PORT_SEND:
        if entry.has(PortType.SEND):
            port.srights -= 1
            entry.urefs = min(entry.urefs + 1, param.UREFS_MAX)
        else:
            _attach(space, entry, port, PortType.SEND)
            entry.urefs = 1
    elif msgt == MsgType.PORT_SEND_ONCE:
        _attach(space, entry, port, PortType.SEND_ONCE)
    else:
        _attach(space, entry, port, PortType.RECEIVE)
        port.receiver = space
        port.kernel_receive = False


# -- deallocate / destroy / delta ---------------------------------------------------

def ipc_right_dealloc(space, entry) -> None:
    """mach_port_deallocate: drop one uref of a send or dead name, or a send-once right.

    Conditions: kernel lock held.  Raises: KERN_INVALID_RIGHT (receive-only / set).
    """
    if entry.has(PortType.DEAD_NAME):
        _dead_uref_dec(space, entry)
    elif entry.has(PortType.SEND_ONCE):
        ipc_right_destroy(space, entry)
    elif entry.has(PortType.SEND):
        ipc_right_send_delta(space, entry, -1)
    else:
        raise KernError(KernReturn.KERN_INVALID_RIGHT)


def ipc_right_send_delta(space, entry, delta: int) -> None:
    """Add `delta` send urefs (result checked by the caller to be in 0..MAX).

    At 0 the send right is released (no-senders may fire).
    Conditions: kernel lock held; entry has SEND.
    """
    port = entry.object
    entry.urefs += delta
    if entry.urefs == 0:
        _drop_send_bit(space, entry)
        ipc_port_release_send(port)


def ipc_right_dead_delta(space, entry, delta: int) -> None:
    """Add `delta` dead-name urefs; at 0 the name goes.  Conditions: lock held."""
    entry.urefs += delta
    if entry.urefs == 0:
        _dead_uref_dec(space, entry, 0)


def ipc_right_destroy_receive(space, entry) -> None:
    """Destroy the receive right named by `entry`; a send right under the same
    name stays (and becomes a dead name unless a port-destroyed request saves
    the port).  Conditions: kernel lock held; entry has RECEIVE.
    """
    port = entry.object
    _drop_receive_bit(space, entry)
    ipc_port_clear_receiver(port)
    ipc_port_destroy(port)


def ipc_right_destroy(space, entry) -> None:
    """mach_port_destroy: every right under the name goes.

    Receive right destroyed (with the name's send right, without no-senders:
    P6.20 then applies); send right released; send-once right destroyed
    (send-once notification); port set destroyed, members kept.
    Conditions: kernel lock held.
    """
    from .pset import ipc_pset_destroy
    bits, obj = entry.bits, entry.object
    if bits & PortType.DEAD_NAME:
        _dead_uref_dec(space, entry, entry.urefs)
        return
    if bits & PortType.PORT_SET:
        entry.bits = PortType.NONE
        entry.object = None
        space.entry_dealloc(entry)
        ipc_pset_destroy(obj)
        return
    _forget(space, entry)
    if bits & PortType.SEND_ONCE:
        ipc_port_release_sonce(obj)
    elif bits & PortType.RECEIVE:
        if bits & PortType.SEND:
            obj.srights -= 1
        ipc_port_clear_receiver(obj)
        ipc_port_destroy(obj)
    elif bits & PortType.SEND:
        ipc_port_release_send(obj)


def ipc_right_dnrequest(space, entry, sync: int, notify):
    """Register (or cancel, notify None) a dead-name request on a name.

    On a dead name (sync != 0, checked by the caller) the notification fires
    at once.  Returns: the previous request's send-once right or None.
    Conditions: kernel lock held; entry holds a port right or is a dead name.
    """
    from .notify import ipc_notify_dead_name
    if entry.has(PortType.DEAD_NAME):
        if notify is not None:
            entry.urefs = min(entry.urefs + 1, param.UREFS_MAX)
            ipc_notify_dead_name(notify, entry.name)
        return None
    previous, entry.dnrequest = entry.dnrequest, notify
    return previous
