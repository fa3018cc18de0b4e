"""Messages in guest memory: the byte layout of docs/guest-abi.md.

`decode_send` turns the bytes a guest passed to mach_msg into a `Message`;
`encode_received` turns a received `Message` (names already in the receiver's
space) into the bytes written to the guest's buffer.  Sizes agree with the
kernel's own accounting (`kmsg.item_size`), so MACH_RCV_TOO_LARGE is decided
before anything is copied out.
"""

from __future__ import annotations

import struct

from ..errors import KernError, KernReturn
from ..mach_types import MACH_MSGH_BITS_COMPLEX
from .message import Message, OOLDesc, OOLPortsDesc, PortDesc

HEADER = struct.Struct("<IIIIIi")           # bits, size, remote, local, voucher, id
HEADER_SIZE = HEADER.size                   # 24
DESC_SIZE = 16
PORT_DESC = struct.Struct("<IIHBBI")        # name, pad, pad, disposition, type, pad
OOL_DESC = struct.Struct("<QBBBBI")         # address, deallocate, copy, disposition/pad, type, size/count
TRAILER = struct.Struct("<IIII")            # type, size, seqno, 0
TYPE_PORT, TYPE_OOL, TYPE_OOL_PORTS = 0, 1, 2


def decode_send(buf: bytes, read_names) -> Message:
    """The Message a guest sends.  `read_names(address, count)` reads a u32 name array.

    Raises: MACH_SEND_MSG_TOO_SMALL, MACH_SEND_INVALID_TYPE.
    """
    if len(buf) < HEADER_SIZE or len(buf) % 4:
        raise KernError(KernReturn.MACH_SEND_MSG_TOO_SMALL, f"{len(buf)} bytes")
    bits, _size, remote, local, _voucher, msg_id = HEADER.unpack_from(buf)
    body, off = [], HEADER_SIZE
    if bits & MACH_MSGH_BITS_COMPLEX:
        if len(buf) < off + 4:
            raise KernError(KernReturn.MACH_SEND_MSG_TOO_SMALL, "no descriptor count")
        (count,) = struct.unpack_from("<I", buf, off)
        off += 4
        if off + count * DESC_SIZE > len(buf):
            raise KernError(KernReturn.MACH_SEND_MSG_TOO_SMALL, f"{count} descriptors do not fit")
        for _ in range(count):
            body.append(_decode_descriptor(buf, off, read_names))
            off += DESC_SIZE
    if off < len(buf):
        body.append(bytes(buf[off:]))
    return Message(remote_port=remote, remote_disp=bits & 0xFF, local_port=local,
                   local_disp=(bits >> 8) & 0xFF, id=msg_id, body=body,
                   complex_bit=bool(bits & MACH_MSGH_BITS_COMPLEX), packed=True)


def _decode_descriptor(buf: bytes, off: int, read_names):
    kind = buf[off + 11]
    if kind == TYPE_PORT:
        name, _p, _q, disposition, _t, _r = PORT_DESC.unpack_from(buf, off)
        return PortDesc(name, disposition)
    address, deallocate, copy, disposition, _t, size = OOL_DESC.unpack_from(buf, off)
    if kind == TYPE_OOL:
        return OOLDesc(address, size, deallocate=bool(deallocate), copy=copy)
    if kind == TYPE_OOL_PORTS:
        return OOLPortsDesc(read_names(address, size), disposition)
    raise KernError(KernReturn.MACH_SEND_INVALID_TYPE, f"descriptor type {kind}")


def _inline(item) -> bytes:
    if isinstance(item, int):
        return struct.pack("<q" if item < 0 else "<Q", item)
    data = bytes(item)
    return data + b"\0" * (-len(data) % 4)


def encode_received(msg: Message, write_names) -> bytes:
    """The bytes of a received message.  `write_names(names)` returns the address of a
    fresh u32 array in the receiver's space holding them."""
    descs = [i for i in msg.body if isinstance(i, (PortDesc, OOLDesc, OOLPortsDesc))]
    inline = b"".join(_inline(i) for i in msg.body if isinstance(i, (bytes, bytearray, int)))
    parts = []
    for d in descs:
        if isinstance(d, PortDesc):
            parts.append(PORT_DESC.pack(d.name, 0, 0, d.disposition, TYPE_PORT, 0))
        elif isinstance(d, OOLDesc):
            parts.append(OOL_DESC.pack(d.address, 0, int(d.copy), 0, TYPE_OOL, d.size))
        else:
            addr = write_names(d.names) if d.names else 0
            parts.append(OOL_DESC.pack(addr, 0, 1, d.disposition, TYPE_OOL_PORTS, len(d.names)))
    complex_ = bool(descs) or msg.complex_bit       # a count of 0 stays, as sent
    body = (struct.pack("<I", len(descs)) + b"".join(parts) if complex_ else b"") + inline
    bits = msg.remote_disp | (msg.local_disp << 8) | (MACH_MSGH_BITS_COMPLEX if complex_ else 0)
    size = HEADER_SIZE + len(body)
    return HEADER.pack(bits, size, msg.remote_port, msg.local_port, 0, msg.id) + body


def encode_header(msg: Message, size: int) -> bytes:
    """Only the header (what MACH_RCV_TOO_LARGE delivers), with the message's real size."""
    bits = msg.remote_disp | (msg.local_disp << 8)
    return HEADER.pack(bits, size, msg.remote_port, msg.local_port, 0, msg.id)


def trailer(seqno: int) -> bytes:
    return TRAILER.pack(0, TRAILER.size, seqno & 0xFFFFFFFF, 0)
