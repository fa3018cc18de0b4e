"""A whole-node consistency check of IPC state (for tests and `normach` debugging).

`audit_ipc(kernel)` walks every task's space, every queued message (and the
rights inside it, recursively: a queued message may carry a receive right whose
own queue holds more messages) and every port the node ever made, then checks:

  * entry shape: the type bits are one of SEND, RECEIVE, SEND|RECEIVE,
    SEND_ONCE, PORT_SET, DEAD_NAME; the object matches them; urefs in
    1..UREFS_MAX for send and dead names, 0 (counting as 1) otherwise
  * no space names a dead port except as a dead name; one name per port (P6.3)
  * every live port has exactly one receive right: in one space, in the kernel
    (object port) or inside one queued message
  * port.srights = send names + send rights in queued messages + the kernel's
    own send rights (`kernel.kernel_held_send_rights()`, a Counter, if the
    kernel provides it); likewise sorights (`kernel_held_sonce_rights()`),
    where dead-name, no-senders and port-destroyed requests also hold
    send-once rights; receive rights a kernel call or handle holds outside any
    space come from `kernel_held_receive_rights()` if provided
  * port sets hold only live receive rights of their own space

It must run while no mach_msg is half-way (rights a running call holds are not
visible).  Returns a list of violation strings; empty means consistent.
"""

from __future__ import annotations

import collections

from .. import param
from ..mach_types import MsgType, PortType
from .ipc_kernel import ipc_state
from .kmsg import OOLPortsItem, PortItem
from .port import port_valid
from .pset import PortSet

_SHAPES = {PortType.SEND, PortType.RECEIVE, PortType.SEND | PortType.RECEIVE,
           PortType.SEND_ONCE, PortType.PORT_SET, PortType.DEAD_NAME}


class _Tally:
    """Counts of rights found, per port."""

    def __init__(self):
        self.receive = collections.Counter()
        self.send = collections.Counter()
        self.sonce = collections.Counter()
        self.ports: set = set()

    def add(self, port, msgt: int) -> None:
        if not port_valid(port) or msgt == MsgType.PORT_NAME:
            return
        self.ports.add(port)
        {MsgType.PORT_RECEIVE: self.receive, MsgType.PORT_SEND: self.send,
         MsgType.PORT_SEND_ONCE: self.sonce}[msgt][port] += 1


def _spaces(kernel) -> list:
    seen, out = set(), []
    tasks = list(getattr(kernel, "tasks", ()))
    if getattr(kernel, "kernel_task", None) is not None:
        tasks.append(kernel.kernel_task)
    for task in tasks:
        space = getattr(task, "itk_space", None)
        if space is not None and id(space) not in seen and space.active:
            seen.add(id(space))
            out.append(space)
    return out


def _check_entry(space, name, entry, tally: _Tally, bad: list) -> None:
    where = f"space {space.label()} name {name:#x}"
    bits = PortType(entry.bits)
    if entry.name != name or entry.space is not space:
        bad.append(f"{where}: entry thinks it is {entry.name:#x}")
    if bits not in _SHAPES:
        bad.append(f"{where}: bad type bits {bits!r}")
        return
    if entry.dnrequest is not None:
        tally.add(entry.dnrequest, MsgType.PORT_SEND_ONCE)
    if bits == PortType.PORT_SET:
        _check_set_entry(space, where, entry, bad)
        return
    if bits == PortType.DEAD_NAME:
        if entry.object is not None or not 1 <= entry.urefs <= param.UREFS_MAX:
            bad.append(f"{where}: bad dead name {entry!r}")
        return
    _check_port_entry(space, where, entry, bits, tally, bad)


def _check_set_entry(space, where, entry, bad) -> None:
    pset = entry.object
    if not isinstance(pset, PortSet) or not pset.active or pset.space is not space:
        bad.append(f"{where}: port set entry with object {pset!r}")
        return
    for port in pset.members:
        if not port.active or port.receiver is not space or port.pset is not pset:
            bad.append(f"{where}: set member {port!r} is not a live receive right here")


def _check_port_entry(space, where, entry, bits, tally: _Tally, bad) -> None:
    port = entry.object
    if not port_valid(port) or not port.active:
        bad.append(f"{where}: names dead or missing port {port!r} as {bits!r}")
        return
    if entry not in port.entries:
        bad.append(f"{where}: port does not know this entry")
    if bits & PortType.SEND:
        tally.add(port, MsgType.PORT_SEND)
        if not 1 <= entry.urefs <= param.UREFS_MAX:
            bad.append(f"{where}: send urefs {entry.urefs}")
    elif entry.urefs != 0:
        bad.append(f"{where}: urefs {entry.urefs} on {bits!r}")
    if bits & (PortType.SEND | PortType.RECEIVE) and space.reverse_lookup(port) is not entry:
        bad.append(f"{where}: second name for {port!r} (P6.3)")
    if bits & PortType.SEND_ONCE:
        tally.add(port, MsgType.PORT_SEND_ONCE)
    if bits & PortType.RECEIVE:
        tally.add(port, MsgType.PORT_RECEIVE)
        if port.receiver is not space:
            bad.append(f"{where}: receive right but port.receiver is {port.receiver!r}")


def _walk_messages(ports, tally: _Tally) -> None:
    """Tally the rights in every queued message, following carried receive rights."""
    todo, done = list(ports), set()
    while todo:
        port = todo.pop()
        if port in done:
            continue
        done.add(port)
        for request in (port.nsrequest, port.pdrequest):
            tally.add(request, MsgType.PORT_SEND_ONCE)
        for kmsg in port.messages:
            tally.add(kmsg.dest, kmsg.dest_type)
            tally.add(kmsg.reply, kmsg.reply_type)
            for item in kmsg.body:
                rights = ([(item.port, item.msgt)] if isinstance(item, PortItem) else
                          [(p, item.msgt) for p in item.ports] if isinstance(item, OOLPortsItem)
                          else [])
                for p, msgt in rights:
                    tally.add(p, msgt)
                    if port_valid(p):
                        todo.append(p)


def _kernel_counter(kernel, method: str) -> collections.Counter:
    fn = getattr(kernel, method, None)
    return collections.Counter(fn()) if fn is not None else collections.Counter()


def _check_counts(kernel, tally: _Tally, bad: list) -> None:
    ksend = _kernel_counter(kernel, "kernel_held_send_rights")
    ksonce = _kernel_counter(kernel, "kernel_held_sonce_rights")
    krecv = _kernel_counter(kernel, "kernel_held_receive_rights")
    ports = set(tally.ports) | set(ipc_state(kernel).ports) | set(ksend) | set(ksonce)
    for port in ports:
        receive = tally.receive[port] + krecv[port] + (1 if port.kernel_receive else 0)
        if port.proxy is not None and port.active:
            receive += 1                  # a DIPC proxy: the receive right is on another node
        if port.active and receive != 1:
            bad.append(f"{port!r}: {receive} receive rights")
        if not port.active and receive:
            bad.append(f"{port!r}: dead port with a receive right")
        send = tally.send[port] + ksend[port]
        if port.srights != send:
            bad.append(f"{port!r}: srights {port.srights} != {send} found")
        sonce = tally.sonce[port] + ksonce[port]
        if port.sorights != sonce:
            bad.append(f"{port!r}: sorights {port.sorights} != {sonce} found")
        if port.pset is not None and (port.pset.space is not port.receiver or not port.pset.active):
            bad.append(f"{port!r}: in set {port.pset!r} of another space")


def audit_ipc(kernel) -> list[str]:
    """Check the node's IPC invariants.  Returns: violations (empty = consistent).

    Conditions: kernel lock held; no IPC operation in progress.
    """
    bad: list[str] = []
    tally = _Tally()
    for space in _spaces(kernel):
        for name, entry in list(space.table.items()):
            _check_entry(space, name, entry, tally, bad)
        for port, entry in space._rev.items():
            if space.table.get(entry.name) is not entry:
                bad.append(f"space {space.label()}: reverse map names a removed entry for {port!r}")
    _walk_messages(set(tally.ports) | set(ipc_state(kernel).ports), tally)
    _check_counts(kernel, tally, bad)
    return bad
