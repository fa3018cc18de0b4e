"""Ports: the kernel object behind every Mach capability.

A port is a message queue with exactly one *receive right* and any number of
*send rights* and *send-once rights*.  Whoever holds the receive right dequeues
the messages; holders of send rights enqueue them.  Rights live in three kinds of
place: in a task's port space (under a name, see space.py), inside a message in
transit (kmsg.py), or in the kernel itself (a task's self port, a port argument of
a kernel call, a notification request).  The port does not know all its holders;
it keeps counts:

  srights   send rights outstanding.  A space name holding N user references
            (urefs) counts ONE send right; so does a send right in a message or
            one the kernel holds.  When srights drops to 0 and a no-senders
            request is registered, a no-senders notification fires (P6.18 table).
  sorights  send-once rights outstanding.  A send-once right is consumed by the
            one message sent with it; destroyed unused, it generates a send-once
            notification to its port instead (so a client waiting for a reply
            learns that no reply will come).
  mscount   make-send count: send rights made from the receive right (P6.5
            table); carried in no-senders notifications so a server can tell a
            stale notification from a current one.

Where the receive right is, is kept behind the Port: `receiver` is the IPCSpace
holding it; `kernel_receive` is True for kernel object ports (task, thread, host
ports: a message to them is executed by the kernel, P6.18); neither means the
right is in transit inside a message, or momentarily held by a kernel call.
(For ports that live on another node, DIPC will add a proxy kind here; the rest
of ipc/ only asks the questions `is_kobject()` / `receive_space()`.)

Destruction: a port dies when its receive right is destroyed (ipc_port_destroy):
unless a port-destroyed request takes the receive right away (P6.18 table, id
69), every name for it in every space becomes a dead name, dead-name requests
fire, queued messages are destroyed, and a pending no-senders request becomes a
send-once notification (P6.20).  A dead port object lingers while counts refer
to it; nothing can be sent to it any more.
"""

from __future__ import annotations

import collections

from .. import param
from .ipc_kernel import ipc_state


class _DeadPort:
    """The `IP_DEAD` marker: a right to a port that has died (delivered as MACH_PORT_DEAD)."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "IP_DEAD"

    def __bool__(self) -> bool:
        return False


IP_DEAD = _DeadPort()


def port_valid(p) -> bool:
    """True for a real Port (not None, not IP_DEAD)."""
    return isinstance(p, Port)


class Port:
    """One Mach port.

    Fields (all guarded by the kernel lock; `kernel`, `uid`, `cond` fixed):
      kernel          the node kernel
      uid             (node, serial): identity shown in repr and by DIPC later
      active          False once the port is dead
      kobject, kotype the kernel object this port names and its kind ("task",
                      "thread", "host", "host_priv", ...), or None
      kernel_receive  True if the kernel holds the receive right (object port)
      receiver        IPCSpace holding the receive right, or None
      nms             no-senders detection enabled (D5.9/D5.10; off for
                      RECEIVE_NO_NMS ports)
      srights, sorights, mscount, seqno, qlimit   see the module docstring
      messages        deque of queued Kmsg, oldest first
      pset            the PortSet this port is a member of, or None
      nsrequest       send-once Port to notify on no-senders, or None
      nssync          the `sync` value given with the no-senders request
      pdrequest       send-once Port to receive the right on destruction, or None
      no_senders_callback  kernel-side no-senders hook for object ports, or None
      entries         set of IPCEntry (in any space) holding a right to this port
      cond            Condition on the kernel lock: receivers and blocked senders
                      wait here; notified on every change of queue or state
    """

    def __init__(self, kernel, nms: bool = True):
        state = ipc_state(kernel)
        self.kernel = kernel
        self.uid = (getattr(kernel, "node", 0), kernel.next_id())
        self.active = True
        self.kobject = None
        self.kotype: str | None = None
        self.kernel_receive = False
        self.receiver = None
        self.nms = nms
        self.srights = 0
        self.sorights = 0
        self.mscount = 0
        self.seqno = 0
        self.qlimit = param.PORT_QLIMIT_DEFAULT
        self.messages: collections.deque = collections.deque()
        self.pset = None
        self.nsrequest = None
        self.nssync = 0
        self.pdrequest = None
        self.no_senders_callback = None
        self.proxy = None          # (uid, node) when the receive right is on another node (DIPC)
        self.remote_full = False   # proxy: the port's node reported its queue full (D5.7)
        self.remote_waiters: set = set()   # principal: nodes whose senders wait for room (D5.7)
        self.migrated_in = False   # its receive right came from another node (DIPC keeps it)
        self.entries: set = set()
        self.cond = kernel.lock.condition()
        state.ports.add(self)
        state.stats.ports_allocated += 1

    # -- where the receive right is ---------------------------------------
    def is_kobject(self) -> bool:
        """True if messages to this port are executed by the kernel (P6.18)."""
        return self.kernel_receive

    def receive_space(self):
        """The IPCSpace holding the receive right, or None (kernel / in transit)."""
        return self.receiver

    def receiver_name(self) -> int:
        """The receive right's name in its space, or 0."""
        if self.receiver is None:
            return 0
        entry = self.receiver.reverse_lookup(self)
        return entry.name if entry is not None else 0

    def is_remote(self) -> bool:
        """True for a DIPC proxy: the receive right lives on another node."""
        return self.proxy is not None

    def location_hint(self) -> int:
        """The node where the receive right is believed to be (N1.30)."""
        return self.proxy[1] if self.proxy is not None else self.kernel.node

    @property
    def msgcount(self) -> int:
        return len(self.messages)

    def __repr__(self) -> str:
        where = ("kernel" if self.kernel_receive else
                 f"space:{self.receiver.label()}" if self.receiver is not None else "transit")
        state = "" if self.active else " DEAD"
        kind = f" {self.kotype}" if self.kotype else ""
        return (f"<Port {self.uid[0]}:{self.uid[1]}{kind}{state} rcv={where} "
                f"s={self.srights} so={self.sorights} ms={self.mscount} "
                f"seq={self.seqno} q={len(self.messages)}/{self.qlimit}>")


# -- creation ----------------------------------------------------------------

def ipc_port_alloc(kernel, nms: bool = True) -> Port:
    """A new active port whose receive right the caller will place.

    Conditions: kernel lock held.
    """
    assert kernel.lock.held()
    return Port(kernel, nms)


def ipc_kobject_alloc(kernel, kobject, kotype: str | None) -> Port:
    """A kernel object port: the kernel holds its receive right.

    No no-senders detection unless asked (`ipc_kobject_request_no_senders`).
    The caller usually makes a send right next (`ipc_port_make_send`).
    Conditions: kernel lock held.
    """
    port = ipc_port_alloc(kernel, nms=False)
    port.kernel_receive = True
    port.kobject = kobject
    port.kotype = kotype
    return port


def ipc_kobject_set(port: Port, kobject, kotype: str | None) -> None:
    """Point an object port at `kobject` (None, None when the object dies).

    The port stays alive; messages to it still go to the kernel object server,
    which then finds no object.  Conditions: kernel lock held.
    """
    assert port.kernel.lock.held()
    port.kobject = kobject
    port.kotype = kotype


def ipc_kobject_request_no_senders(port: Port, callback) -> None:
    """Call `callback(port, mscount)` (lock held) when the object port's srights drop to 0.

    Pass None to cancel.  Conditions: kernel lock held.
    """
    assert port.kernel.lock.held() and port.kernel_receive
    port.no_senders_callback = callback


# -- send and send-once rights ---------------------------------------------

def ipc_port_make_send(port: Port) -> Port:
    """Make a send right from the receive right: srights+1, mscount+1.

    Conditions: kernel lock held; port active.  Returns: port.
    """
    assert port.kernel.lock.held() and port.active
    port.srights += 1
    port.mscount += 1
    return port


def ipc_port_copy_send(port):
    """Copy a send right the caller holds.

    Returns: the port (srights+1); IP_DEAD if the port is dead (no count taken);
    None for None.  Conditions: kernel lock held.
    """
    if not port_valid(port):
        return port
    assert port.kernel.lock.held()
    if not port.active:
        return IP_DEAD
    port.srights += 1
    return port


def ipc_port_release_send(port) -> None:
    """Release one send right; may fire a no-senders notification.

    Accepts None / IP_DEAD (no-op).  Conditions: kernel lock held.
    """
    if not port_valid(port):
        return
    assert port.kernel.lock.held()
    assert port.srights > 0, f"srights underflow on {port!r}"
    port.srights -= 1
    if port.srights == 0 and port.active:
        _no_senders(port)


def _no_senders(port: Port) -> None:
    """srights just reached 0: honour a no-senders request (D5.10)."""
    if port.no_senders_callback is not None:
        port.no_senders_callback(port, port.mscount)
    if port.nsrequest is not None:
        from .notify import ipc_notify_no_senders
        notify, port.nsrequest = port.nsrequest, None
        ipc_notify_no_senders(notify, port.mscount)


def ipc_port_make_sonce(port: Port) -> Port:
    """Make a send-once right from the receive right: sorights+1.

    Conditions: kernel lock held; port active.  Returns: port.
    """
    assert port.kernel.lock.held() and port.active
    port.sorights += 1
    return port


def ipc_port_consume_sonce(port) -> None:
    """A send-once right was USED (a message sent with it was delivered): sorights-1.

    No notification.  Accepts None / IP_DEAD.  Conditions: kernel lock held.
    """
    if not port_valid(port):
        return
    assert port.sorights > 0, f"sorights underflow on {port!r}"
    port.sorights -= 1


def ipc_port_release_sonce(port) -> None:
    """DESTROY an unused send-once right: a send-once notification goes to its port.

    Contrast with `ipc_port_consume_sonce` (the right was used).  The
    notification message itself carries the right, so sorights falls when it
    is received or destroyed.  Dead ports and kernel object ports get no
    notification: the count just drops.  Accepts None / IP_DEAD.
    Conditions: kernel lock held.
    """
    if not port_valid(port):
        return
    assert port.kernel.lock.held()
    if port.active and not port.kernel_receive:
        from .notify import ipc_notify_send_once
        ipc_notify_send_once(port)
    else:
        ipc_port_consume_sonce(port)


# -- requests -----------------------------------------------------------------

def ipc_port_nsrequest(port: Port, sync: int, notify):
    """Register a no-senders request; fire it at once if already no senders (P6.19).

    `notify` is a kernel-held send-once right (or None to cancel).
    Returns: the previous request (a send-once right the caller now owns) or None.
    Conditions: kernel lock held; port active with NMS.
    """
    assert port.kernel.lock.held() and port.active
    previous, port.nsrequest, port.nssync = port.nsrequest, notify, sync
    if notify is not None and port.srights == 0 and sync <= port.mscount:
        port.nsrequest = None
        from .notify import ipc_notify_no_senders
        ipc_notify_no_senders(notify, port.mscount)
    return previous


def ipc_port_pdrequest(port: Port, notify):
    """Register a port-destroyed request.  Returns: the previous one or None.

    Conditions: kernel lock held; port active.
    """
    assert port.kernel.lock.held() and port.active
    previous, port.pdrequest = port.pdrequest, notify
    return previous


# -- receive right ------------------------------------------------------------

def ipc_port_wakeup(port: Port) -> None:
    """Wake everyone waiting on the port (and on its set) to re-check their state.

    Conditions: kernel lock held.
    """
    port.cond.notify_all()
    if port.pset is not None:
        port.pset.cond.notify_all()


def ipc_port_clear_receiver(port: Port) -> None:
    """The receive right leaves its holder: out of its set, receivers woken.

    Receivers blocked on the port see MACH_RCV_PORT_DIED (D5.17).
    Conditions: kernel lock held.
    """
    assert port.kernel.lock.held()
    if port.pset is not None:
        from .pset import ipc_pset_remove
        ipc_pset_remove(port.pset, port)
    port.receiver = None
    port.cond.notify_all()


def ipc_port_destroy(port: Port) -> None:
    """Destroy a receive right (the caller has already taken it out of its holder).

    With a port-destroyed request the right is sent to the request's port
    instead and the port lives on.  Otherwise the port dies: every name for it
    becomes a dead name (dead-name requests fire), queued messages are
    destroyed, a pending no-senders request gets a send-once notification
    (P6.20), and blocked receivers and senders are woken.
    Conditions: kernel lock held; port active; receiver already None.
    """
    assert port.kernel.lock.held()
    assert port.active and port.receiver is None, repr(port)
    if port.pdrequest is not None:
        _destroy_to_pdrequest(port)
        return
    ipc_state(port.kernel).stats.ports_destroyed += 1
    if port.pset is not None:
        from .pset import ipc_pset_remove
        ipc_pset_remove(port.pset, port)
    if port.kernel.remote is not None:
        port.kernel.remote.port_died(port)          # D5.12: other nodes learn of it now
    port.active = False
    port.kernel_receive = False
    port.no_senders_callback = None
    ipc_port_wakeup(port)
    _kill_names(port)
    _destroy_queue(port)
    if port.nsrequest is not None:
        notify, port.nsrequest = port.nsrequest, None
        ipc_port_release_sonce(notify)


def _destroy_to_pdrequest(port: Port) -> None:
    """Port-destroyed request: the receive right travels to the notify port."""
    from .notify import ipc_notify_port_destroyed
    notify, port.pdrequest = port.pdrequest, None
    if port.pset is not None:
        from .pset import ipc_pset_remove
        ipc_pset_remove(port.pset, port)
    port.cond.notify_all()
    ipc_notify_port_destroyed(notify, port)


def _kill_names(port: Port) -> None:
    """Every space's name for the dying port becomes a dead name."""
    from .right import ipc_right_port_died
    for entry in list(port.entries):
        ipc_right_port_died(entry, port)
    port.entries.clear()


def _destroy_queue(port: Port) -> None:
    """Destroy the messages queued on a dead port (their rights released)."""
    from .kmsg import ipc_kmsg_destroy, ipc_kmsg_unqueue
    while port.messages:
        ipc_kmsg_destroy(ipc_kmsg_unqueue(port))
