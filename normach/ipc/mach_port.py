"""The user-exported port calls (MIG subsystem mach_port, 3200).

Each routine takes the target IPCSpace first (the space of the task port the
caller named), checks its arguments in the order Mach does and raises
`KernError` with the code of spec §3.4; the internals it calls (space.py,
right.py, port.py) trust it.  All run with the kernel lock held.

Errors (codes: 3 NO_SPACE, 4 INVALID_ARGUMENT, 12 NOT_IN_SET, 13 NAME_EXISTS,
15 INVALID_NAME, 16 INVALID_TASK, 17 INVALID_RIGHT, 18 INVALID_VALUE,
19 UREFS_OVERFLOW, 20 INVALID_CAPABILITY, 21 RIGHT_EXISTS); every routine also
raises 16 when the space is dead, and 15 when a name it looks up is unknown:

| routine                       | other codes                                      |
|-------------------------------|--------------------------------------------------|
| allocate                      | 18 bad right kind; 3 space full                  |
| allocate_name                 | 18 bad right kind or name NULL/DEAD; 13 in use; 3 |
| deallocate                    | 17 receive-only or port set                      |
| destroy                       | -                                                |
| mod_refs                      | 18 bad right; 17 right not held; 18 bad delta     |
|                               | (receive/send-once/set not in {-1,0}, urefs < 0); |
|                               | 19 urefs > 65535                                 |
| get_refs                      | 18 bad right                                     |
| type, names                   | -                                                |
| rename                        | 18 new name NULL/DEAD; 13 new name in use        |
| insert_right                  | 18 bad name or type; 20 null/dead port; 13 name  |
|                               | used for something else; 21 right under another  |
|                               | name; 19 urefs overflow                          |
| extract_right                 | 18 bad disposition; 17 right not held            |
| move_member                   | 17 member not receive / after not a set; 12      |
|                               | removing a non-member                            |
| request_notification          | 18 bad id, port-destroyed with sync != 0, bad    |
|                               | notify type; 20 dead notify port; 17 no receive  |
|                               | right / no NMS / port set; 4 dead-name request   |
|                               | on a dead name with sync == 0                    |
| get_attributes                | 4 bad flavor; 17 not a receive right             |
| set_attributes                | 4 bad flavor; 18 qlimit > 16; 17 not receive     |
| set_mscount, set_seqno        | 17 not a receive right                           |
| get_set_status                | 17 not a port set                                |

Rights passed in (insert_right's right, request_notification's notify right)
are consumed in every case: on an error they are destroyed, as the MIG server
destroys a failed request.  Rights passed out (extract_right's result,
request_notification's previous request) belong to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import param
from ..errors import KernError, KernReturn
from ..mach_types import (MACH_PORT_NULL, MACH_PORT_TYPE, MsgType, Notify, PortFlavor,
                          PortRight, PortType)
from .kmsg import ipc_object_destroy
from .port import (ipc_port_alloc, ipc_port_nsrequest, ipc_port_pdrequest,
                   ipc_port_release_sonce, port_valid)
from .pset import ipc_pset_add, ipc_pset_alloc, ipc_pset_remove
from .right import (RECEIVED_TYPES, ipc_right_dead_delta, ipc_right_dealloc,
                    ipc_right_destroy, ipc_right_destroy_receive, ipc_right_dnrequest,
                    ipc_right_insert_at, ipc_right_send_delta)
from .space import name_valid

E = KernReturn


def _fail(code, detail: str = "") -> KernError:
    return KernError(code, detail)


def _active(space) -> None:
    assert space is None or space.kernel.lock.held()
    if space is None or not space.active:
        raise _fail(E.KERN_INVALID_TASK)


def _entry(space, name):
    entry = space.lookup(name) if isinstance(name, int) else None
    if entry is None:
        raise _fail(E.KERN_INVALID_NAME, repr(name) if not isinstance(name, int) else hex(name))
    return entry


def _receive(space, name):
    """The Port whose receive right `name` holds.  Raises: 15, 17."""
    entry = _entry(space, name)
    if not entry.has(PortType.RECEIVE):
        raise _fail(E.KERN_INVALID_RIGHT, f"{name:#x} is not a receive right")
    return entry.object


def _right_kind(right) -> int:
    try:
        right = PortRight(right)
    except ValueError:
        raise _fail(E.KERN_INVALID_VALUE, f"right {right!r}") from None
    if right >= PortRight.NUMBER:
        raise _fail(E.KERN_INVALID_VALUE, f"right {right!r}")
    return right


# -- allocation ------------------------------------------------------------------

_ALLOCATABLE = (PortRight.RECEIVE, PortRight.RECEIVE_NO_NMS, PortRight.PORT_SET, PortRight.DEAD_NAME)


def _check_allocatable(right) -> int:
    if right not in _ALLOCATABLE:
        raise _fail(E.KERN_INVALID_VALUE, f"cannot allocate right {right!r}")
    return right


def _fill(space, entry, right) -> None:
    """Put a new right of kind `right` under the empty `entry`."""
    if right in (PortRight.RECEIVE, PortRight.RECEIVE_NO_NMS):
        port = ipc_port_alloc(space.kernel, nms=(right == PortRight.RECEIVE))
        ipc_right_insert_at(space, entry, port, MsgType.PORT_RECEIVE)
    elif right == PortRight.PORT_SET:
        entry.bits = PortType.PORT_SET
        entry.object = ipc_pset_alloc(space.kernel, space)
    else:
        entry.bits = PortType.DEAD_NAME
        entry.urefs = 1


def mach_port_allocate(space, right) -> int:
    """A new receive right (RECEIVE or RECEIVE_NO_NMS), port set or dead name.  Returns the name."""
    _active(space)
    right = _check_allocatable(right)
    entry = space.entry_alloc()
    _fill(space, entry, right)
    return entry.name


def mach_port_allocate_name(space, right, name: int) -> None:
    """Like mach_port_allocate, under the caller's choice of name."""
    _active(space)
    right = _check_allocatable(right)
    if not name_valid(name):
        raise _fail(E.KERN_INVALID_VALUE, f"name {name!r}")
    if space.lookup(name) is not None:
        raise _fail(E.KERN_NAME_EXISTS, hex(name))
    _fill(space, space.entry_alloc_name(name), right)


# -- references -------------------------------------------------------------------

def mach_port_deallocate(space, name: int) -> None:
    """Drop one uref of a send right or dead name, or a send-once right."""
    _active(space)
    ipc_right_dealloc(space, _entry(space, name))


def mach_port_destroy(space, name: int) -> None:
    """Destroy every right under `name`."""
    _active(space)
    ipc_right_destroy(space, _entry(space, name))


def _single_delta(space, entry, right, delta: int) -> None:
    if delta not in (-1, 0):
        raise _fail(E.KERN_INVALID_VALUE, f"delta {delta} on a single right")
    if delta == 0:
        return
    if right == PortRight.RECEIVE:
        ipc_right_destroy_receive(space, entry)
    else:
        ipc_right_destroy(space, entry)


def mach_port_mod_refs(space, name: int, right, delta: int) -> None:
    """Add `delta` user references of kind `right` to `name`."""
    _active(space)
    right = _right_kind(right)
    if not isinstance(delta, int):
        raise _fail(E.KERN_INVALID_VALUE, f"delta {delta!r}")
    entry = _entry(space, name)
    if not entry.has(MACH_PORT_TYPE(right)):
        raise _fail(E.KERN_INVALID_RIGHT, f"{name:#x} holds no {right.name}")
    if right in (PortRight.RECEIVE, PortRight.SEND_ONCE, PortRight.PORT_SET):
        _single_delta(space, entry, right, delta)
        return
    urefs = entry.urefs + delta
    if urefs < 0:
        raise _fail(E.KERN_INVALID_VALUE, f"urefs would be {urefs}")
    if urefs > param.UREFS_MAX:
        raise _fail(E.KERN_UREFS_OVERFLOW)
    if delta == 0:
        return
    if right == PortRight.SEND:
        ipc_right_send_delta(space, entry, delta)
    else:
        ipc_right_dead_delta(space, entry, delta)


def mach_port_get_refs(space, name: int, right) -> int:
    """User references of kind `right` held by `name` (receive, send-once, set: 0 or 1)."""
    _active(space)
    right = _right_kind(right)
    entry = _entry(space, name)
    if not entry.has(MACH_PORT_TYPE(right)):
        return 0
    if right in (PortRight.SEND, PortRight.DEAD_NAME):
        return entry.urefs
    return 1


# -- names ---------------------------------------------------------------------------

def mach_port_type(space, name: int) -> int:
    """The PortType bits of `name` (with DNREQUEST)."""
    _active(space)
    return _entry(space, name).type


def mach_port_names(space):
    """Returns: (names, types), sorted by name."""
    _active(space)
    names = sorted(space.table)
    return names, [space.table[n].type for n in names]


def mach_port_rename(space, old_name: int, new_name: int) -> None:
    """Move the rights of `old_name` to `new_name`."""
    _active(space)
    entry = _entry(space, old_name)
    if not name_valid(new_name):
        raise _fail(E.KERN_INVALID_VALUE, f"name {new_name!r}")
    if space.lookup(new_name) is not None:
        raise _fail(E.KERN_NAME_EXISTS, hex(new_name))
    space.entry_rename(entry, new_name)


# -- inserting and extracting rights ------------------------------------------------

def _check_insert(space, name: int, port, msgt: int):
    """The entry to insert into (existing or None).  Raises: 18, 20, 13, 21, 19."""
    if msgt not in RECEIVED_TYPES:
        raise _fail(E.KERN_INVALID_VALUE, f"msgt {msgt!r}")
    if not name_valid(name):
        raise _fail(E.KERN_INVALID_VALUE, f"name {name!r}")
    if not port_valid(port) or not port.active:
        raise _fail(E.KERN_INVALID_CAPABILITY, "null or dead port")
    entry = space.lookup(name)
    if msgt == MsgType.PORT_SEND_ONCE:
        if entry is not None:
            raise _fail(E.KERN_NAME_EXISTS, hex(name))
        return None
    other = space.reverse_lookup(port)
    if entry is not None and (entry.object is not port or entry.has(PortType.SEND_ONCE)):
        raise _fail(E.KERN_NAME_EXISTS, hex(name))       # send-once names stand alone (P6.3)
    if other is not None and other is not entry:
        raise _fail(E.KERN_RIGHT_EXISTS, f"held as {other.name:#x}")
    if entry is not None and msgt == MsgType.PORT_SEND and entry.urefs >= param.UREFS_MAX:
        raise _fail(E.KERN_UREFS_OVERFLOW)
    return entry


def mach_port_insert_right(space, name: int, port, msgt_type: int) -> None:
    """Give `space` the kernel-held right (`port`, received type `msgt_type`) as `name`.

    The right is consumed (destroyed on error).
    """
    try:
        _active(space)
        entry = _check_insert(space, name, port, msgt_type)
        if entry is None:
            entry = space.entry_alloc_name(name)
        ipc_right_insert_at(space, entry, port, msgt_type)
    except KernError:
        if msgt_type in RECEIVED_TYPES:
            ipc_object_destroy(port, msgt_type)
        raise


def mach_port_extract_right(space, name: int, disposition: int):
    """Take a right out of `space` by disposition.  Returns: (Port | IP_DEAD, received type)."""
    _active(space)
    if name == MACH_PORT_NULL:
        raise _fail(E.KERN_INVALID_NAME, "null name")
    return space.copyin_right(name, disposition)


# -- port sets ------------------------------------------------------------------------

def mach_port_move_member(space, member: int, after: int) -> None:
    """Move receive right `member` into set `after` (MACH_PORT_NULL: out of its set)."""
    _active(space)
    port = _receive(space, member)
    if after == MACH_PORT_NULL:
        if port.pset is None:
            raise _fail(E.KERN_NOT_IN_SET, hex(member))
        ipc_pset_remove(port.pset, port)
        return
    entry = _entry(space, after)
    if not entry.has(PortType.PORT_SET):
        raise _fail(E.KERN_INVALID_RIGHT, f"{after:#x} is not a port set")
    ipc_pset_add(entry.object, port)


def mach_port_get_set_status(space, name: int) -> list[int]:
    """The names of the members of port set `name`, sorted."""
    _active(space)
    entry = _entry(space, name)
    if not entry.has(PortType.PORT_SET):
        raise _fail(E.KERN_INVALID_RIGHT, f"{name:#x} is not a port set")
    return sorted(p.receiver_name() for p in entry.object.members)


# -- notifications ---------------------------------------------------------------------

def _check_notify(notify, notify_msgt: int) -> None:
    if notify is None:
        return
    if not port_valid(notify) or not notify.active:
        raise _fail(E.KERN_INVALID_CAPABILITY, "dead notify port")
    if notify_msgt != MsgType.PORT_SEND_ONCE:
        raise _fail(E.KERN_INVALID_VALUE, f"notify type {notify_msgt}")


def _request(space, name: int, msg_id: int, sync: int, notify):
    entry = _entry(space, name)
    if msg_id == Notify.DEAD_NAME:
        if entry.has(PortType.DEAD_NAME):
            if sync == 0:
                raise _fail(E.KERN_INVALID_ARGUMENT, "dead-name request on a dead name")
        elif not entry.has(PortType.PORT_RIGHTS):
            raise _fail(E.KERN_INVALID_RIGHT, f"{name:#x} holds no port right")
        return ipc_right_dnrequest(space, entry, sync, notify)
    if not entry.has(PortType.RECEIVE):
        raise _fail(E.KERN_INVALID_RIGHT, f"{name:#x} is not a receive right")
    port = entry.object
    if msg_id == Notify.PORT_DESTROYED:
        return ipc_port_pdrequest(port, notify)
    if not port.nms:
        raise _fail(E.KERN_INVALID_RIGHT, "port has no no-senders detection")
    return ipc_port_nsrequest(port, sync, notify)


def mach_port_request_notification(space, name: int, msg_id: int, sync: int, notify,
                                   notify_msgt: int = MsgType.PORT_SEND_ONCE):
    """Register a PORT_DESTROYED, NO_SENDERS or DEAD_NAME request on `name`.

    `notify`: a kernel-held send-once right, or None to cancel.
    Returns: the previous request's send-once right (the caller's now) or None.
    """
    try:
        _active(space)
        _natural(sync, "sync")
        if msg_id not in (Notify.PORT_DESTROYED, Notify.NO_SENDERS, Notify.DEAD_NAME):
            raise _fail(E.KERN_INVALID_VALUE, f"notification id {msg_id}")
        if msg_id == Notify.PORT_DESTROYED and sync != 0:
            raise _fail(E.KERN_INVALID_VALUE, "port-destroyed request with sync")
        _check_notify(notify, notify_msgt)
        return _request(space, name, msg_id, sync, notify)
    except KernError:
        if port_valid(notify) and notify_msgt == MsgType.PORT_SEND_ONCE:
            ipc_port_release_sonce(notify)
        raise


# -- attributes ------------------------------------------------------------------------

@dataclass
class PortLimits:
    """MACH_PORT_LIMITS_INFO."""

    qlimit: int = param.PORT_QLIMIT_DEFAULT


@dataclass
class PortStatus:
    """MACH_PORT_RECEIVE_STATUS (mach_port_status_t without the mps_ prefix)."""

    pset: int
    seqno: int
    mscount: int
    qlimit: int
    msgcount: int
    sorights: int
    srights: int          # tri-state (D5.10): 0 none, 1 some, 2 no NMS information
    pdrequest: bool
    nsrequest: bool
    flags: int = 0


def _status(space, port) -> PortStatus:
    pset_name = 0
    if port.pset is not None:
        for entry in space.table.values():
            if entry.object is port.pset:
                pset_name = entry.name
    srights = (1 if port.srights else 0) if port.nms else 2
    return PortStatus(pset=pset_name, seqno=port.seqno, mscount=port.mscount,
                      qlimit=port.qlimit, msgcount=len(port.messages),
                      sorights=port.sorights, srights=srights,
                      pdrequest=port.pdrequest is not None,
                      nsrequest=port.nsrequest is not None)


def mach_port_get_attributes(space, name: int, flavor: int):
    """LIMITS_INFO -> PortLimits; RECEIVE_STATUS -> PortStatus; DNREQUESTS_SIZE -> int."""
    _active(space)
    if flavor not in (PortFlavor.LIMITS_INFO, PortFlavor.RECEIVE_STATUS, PortFlavor.DNREQUESTS_SIZE):
        raise _fail(E.KERN_INVALID_ARGUMENT, f"flavor {flavor!r}")
    port = _receive(space, name)
    if flavor == PortFlavor.LIMITS_INFO:
        return PortLimits(qlimit=port.qlimit)
    if flavor == PortFlavor.RECEIVE_STATUS:
        return _status(space, port)
    return sum(1 for e in port.entries if e.dnrequest is not None)


def _qlimit_of(info) -> int:
    if isinstance(info, PortLimits):
        value = info.qlimit
    elif isinstance(info, dict):
        value = info.get("qlimit", info.get("mpl_qlimit"))
    else:
        value = info
    if not isinstance(value, int) or value < 0 or value > param.PORT_QLIMIT_MAX:
        raise _fail(E.KERN_INVALID_VALUE, f"qlimit {value!r}")
    return value


def mach_port_set_attributes(space, name: int, flavor: int, info) -> None:
    """LIMITS_INFO: info is a PortLimits, {"qlimit": n} or n.  DNREQUESTS_SIZE: accepted, no effect."""
    _active(space)
    if flavor == PortFlavor.LIMITS_INFO:
        qlimit = _qlimit_of(info)
        port = _receive(space, name)
        port.qlimit = qlimit
        port.cond.notify_all()
    elif flavor == PortFlavor.DNREQUESTS_SIZE:
        _receive(space, name)
    else:
        raise _fail(E.KERN_INVALID_ARGUMENT, f"flavor {flavor!r}")


def _natural(value, what: str) -> int:
    """A natural_t argument (unsigned 32-bit).  Raises KERN_INVALID_VALUE."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << 32:
        raise _fail(E.KERN_INVALID_VALUE, f"{what} {value!r}")
    return int(value)


def mach_port_set_mscount(space, name: int, mscount: int) -> None:
    _active(space)
    port = _receive(space, name)
    port.mscount = _natural(mscount, "mscount")


def mach_port_set_seqno(space, name: int, seqno: int) -> None:
    _active(space)
    port = _receive(space, name)
    port.seqno = _natural(seqno, "seqno")
