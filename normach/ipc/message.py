"""Messages as Python callers write and read them.

A Mach message is a header plus a body.  The header names two ports of the
*caller's* space with a disposition each:

    Message(remote_port=server, remote_disp=MsgType.COPY_SEND,        # destination
            local_port=reply,   local_disp=MsgType.MAKE_SEND_ONCE,    # reply right
            id=1234,
            body=[b"inline bytes", 42,
                  PortDesc(name, MsgType.MOVE_SEND),
                  OOLDesc(address, size, deallocate=False),
                  OOLDesc(data=b"out-of-line from Python"),
                  OOLPortsDesc([n1, n2], MsgType.COPY_SEND)])

The body is a list, in order, of inline `bytes`, inline `int`s and descriptors.
On receipt the same classes come back with everything translated into the
*receiver's* space (P6.9): `remote_port` is now the reply right (its received
type in `remote_disp`), `local_port` the name received on (`local_disp` the type
of right the message used: PORT_SEND or PORT_SEND_ONCE), port descriptors carry
names and received types (P6.6), OOL descriptors the address and size where the
data now lies in the receiver's map, and `seqno` is the trailer's sequence
number (P6.13).  `msgh_bits` and `msgh_size` are derived as in Mach.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..mach_types import MACH_MSGH_BITS, MACH_MSGH_BITS_COMPLEX, CopyOption, MsgType
from .kmsg import MACH_MSG_DESCRIPTOR_SIZE, MACH_MSG_HEADER_SIZE, item_size


@dataclass
class PortDesc:
    """One port right: a name and its disposition (sent) or received type (received)."""

    name: int
    disposition: int = MsgType.COPY_SEND


@dataclass
class OOLDesc:
    """Out-of-line memory.

    Sending: either `address`/`size` in the sender's map (`deallocate` removes
    the region from the sender) or `data` (bytes from Python, no sender map
    involved).  Received: `address`/`size` in the receiver's map (address 0 for
    size 0); `data` is None.
    """

    address: int = 0
    size: int = 0
    deallocate: bool = False
    copy: int = CopyOption.VIRTUAL_COPY
    data: bytes | None = None


@dataclass
class OOLPortsDesc:
    """An out-of-line array of port rights, one disposition (or received type) for all."""

    names: list
    disposition: int = MsgType.COPY_SEND


DESCRIPTORS = (PortDesc, OOLDesc, OOLPortsDesc)


def _py_item_size(item) -> int:
    if isinstance(item, DESCRIPTORS):
        return MACH_MSG_DESCRIPTOR_SIZE
    return item_size(item)


@dataclass
class Message:
    """A Mach message on the Python side (see the module docstring).

    `size`: None lets the kernel compute msgh_size; a given size must be at
    least the computed size and a multiple of 4 (else MACH_SEND_MSG_TOO_SMALL).
    """

    remote_port: int = 0
    remote_disp: int = MsgType.COPY_SEND
    local_port: int = 0
    local_disp: int = 0
    id: int = 0
    body: list = field(default_factory=list)
    size: int | None = None
    seqno: int = 0
    complex_bit: bool = field(default=False, compare=False, repr=False)
    packed: bool = field(default=False, compare=False, repr=False)
    # laid out by a guest in its memory: descriptors, then its inline data as one item
    # (a kernel object reads such a request in MIG layout, docs/mig.md)
    # MACH_MSGH_BITS_COMPLEX as sent: a complex message with a descriptor count of 0

    @property
    def complex(self) -> bool:
        return self.complex_bit or any(isinstance(i, DESCRIPTORS) for i in self.body)

    @property
    def msgh_bits(self) -> int:
        local = self.local_disp if self.local_port or self.local_disp else 0
        return (MACH_MSGH_BITS(self.remote_disp, local)
                | (MACH_MSGH_BITS_COMPLEX if self.complex else 0))

    @property
    def msgh_size(self) -> int:
        """The size the body needs (header, descriptor count if complex, items)."""
        return (MACH_MSG_HEADER_SIZE + (4 if self.complex else 0)
                + sum(_py_item_size(i) for i in self.body))

    # Mach spellings of the header fields
    @property
    def msgh_remote_port(self) -> int:
        return self.remote_port

    @property
    def msgh_local_port(self) -> int:
        return self.local_port

    @property
    def msgh_id(self) -> int:
        return self.id

    def header(self) -> "Message":
        """A copy with the header only (what MACH_RCV_TOO_LARGE delivers)."""
        return Message(remote_port=self.remote_port, remote_disp=self.remote_disp,
                       local_port=self.local_port, local_disp=self.local_disp,
                       id=self.id, body=[], size=self.size, seqno=self.seqno)
