"""Port sets: receive from many ports through one name (P6.21).

A port set is a name in one space that groups receive rights of that same space.
Receiving on the set returns the oldest message queued on any member (each
enqueued message carries a node-wide arrival stamp).  A receive right is a member
of at most one set; while it is, receiving on the member's own name fails with
MACH_RCV_IN_SET, and a thread already waiting on it is woken with
MACH_RCV_PORT_CHANGED.  Destroying a set leaves its members as plain receive
rights; threads waiting on the set are woken with MACH_RCV_PORT_DIED.
"""

from __future__ import annotations

from .ipc_kernel import ipc_state


class PortSet:
    """One port set.

    Fields (guarded by the kernel lock; `kernel`, `uid`, `space`, `cond` fixed):
      kernel   the node kernel
      uid      (node, serial)
      space    the IPCSpace the set lives in (members are receive rights there)
      active   False once destroyed
      members  set of member Ports
      cond     Condition on the kernel lock; set receivers wait here
    """

    def __init__(self, kernel, space):
        self.kernel = kernel
        self.uid = (getattr(kernel, "node", 0), kernel.next_id())
        self.space = space
        self.active = True
        self.members: set = set()
        self.cond = kernel.lock.condition()
        ipc_state(kernel).psets.add(self)

    def oldest_member(self):
        """The member whose head message arrived first, or None if all are empty."""
        best = None
        for port in self.members:
            if port.messages and (best is None or port.messages[0].stamp < best.messages[0].stamp):
                best = port
        return best

    def __repr__(self) -> str:
        state = "" if self.active else " DEAD"
        queued = sum(len(p.messages) for p in self.members)
        return f"<PortSet {self.uid[0]}:{self.uid[1]}{state} members={len(self.members)} q={queued}>"


def ipc_pset_alloc(kernel, space) -> PortSet:
    """A new empty set in `space`.  Conditions: kernel lock held."""
    assert kernel.lock.held()
    return PortSet(kernel, space)


def ipc_pset_add(pset: PortSet, port) -> None:
    """Make `port` a member of `pset` (leaving any previous set).

    Receivers waiting directly on the port are woken (MACH_RCV_PORT_CHANGED);
    set receivers are woken because the port may have messages.
    Conditions: kernel lock held; port's receive right is in pset.space.
    """
    assert pset.kernel.lock.held() and pset.active
    assert port.receiver is pset.space
    if port.pset is not None:
        ipc_pset_remove(port.pset, port)
    pset.members.add(port)
    port.pset = pset
    port.cond.notify_all()
    pset.cond.notify_all()


def ipc_pset_remove(pset: PortSet, port) -> None:
    """Take `port` out of `pset`.  Conditions: kernel lock held; port is a member."""
    assert pset.kernel.lock.held() and port.pset is pset
    pset.members.discard(port)
    port.pset = None
    port.cond.notify_all()


def ipc_pset_destroy(pset: PortSet) -> None:
    """Destroy a set: members stay receive rights, set receivers get PORT_DIED.

    Conditions: kernel lock held; the set's name is already gone.
    """
    assert pset.kernel.lock.held() and pset.active
    for port in list(pset.members):
        ipc_pset_remove(pset, port)
    pset.active = False
    pset.cond.notify_all()
