"""Frames on the wire: no zmq frame is larger than FRAME_BYTES.

ZeroMQ applies one frame size limit (ZMQ_MAXMSGSIZE) to a connection from its
first byte, before the CurveZMQ handshake has said who is on the other end: a
stranger may send a frame of that size, and libzmq holds what arrives until the
handshake times out.  With the 16 MiB frames that page batches once needed, one
unauthenticated connection could hold 14 MiB of a node's memory.  So the
limit is a few KiB (param.TRANSPORT_FRAME_BYTES, larger than any handshake
command), and a message's logical frames (its msgpack header, its raw page
data) travel cut into chunks of that size:

    frame 0    layout: b"NF", the number of logical frames (u16), the length
               of each (u32 each)
    frame 1..  the chunks of logical frame 0, then of frame 1, ... in order;
               every chunk is FRAME_BYTES long but the last of its frame

A zmq multipart message arrives whole or not at all, so chunks never mix.
`join` trusts nothing: a layout that does not match the chunks that came, or a
logical frame over the protocol's limits, is a WireError.
"""

from __future__ import annotations

import struct

from . import config
from .protocol import WireError

MAGIC = b"NF"
MAX_LOGICAL = 16                  # logical frames in one message (header + raws)


def split(frames: list) -> list:
    """The physical frames carrying logical `frames` (bytes-like each)."""
    size = config.FRAME_BYTES
    out = [MAGIC + struct.pack(f"<H{len(frames)}I", len(frames), *map(len, frames))]
    for f in frames:
        if len(f) <= size:
            out.append(f)
            continue
        view = memoryview(f)
        out.extend(view[i:i + size] for i in range(0, len(f), size))
    return out


def join(physical: list) -> list:
    """The logical frames (bytes) of a received message; `physical` are zmq Frames,
    bytes or memoryviews.  Raises: WireError."""
    if not physical:
        raise WireError("no frames")
    layout = _bytes(physical[0])
    if len(layout) < 4 or layout[:2] != MAGIC:
        raise WireError("no frame layout")
    count, = struct.unpack_from("<H", layout, 2)
    if not 1 <= count <= MAX_LOGICAL or len(layout) != 4 + 4 * count:
        raise WireError(f"frame layout of {count} frames in {len(layout)} bytes")
    lengths = struct.unpack_from(f"<{count}I", layout, 4)
    limit = max(config.MAX_HEADER_BYTES, config.MAX_RAW_BYTES)
    if any(n > limit for n in lengths):
        raise WireError("a frame over the size limit")
    size = config.FRAME_BYTES
    need = sum(max(1, -(-n // size)) for n in lengths)
    if len(physical) - 1 != need:
        raise WireError(f"{len(physical) - 1} chunks, the layout says {need}")
    out, pos = [], 1
    for n in lengths:
        k = max(1, -(-n // size))
        chunks = [_view(c) for c in physical[pos:pos + k]]
        pos += k
        if any(len(c) != size for c in chunks[:-1]) or sum(len(c) for c in chunks) != n:
            raise WireError("chunks do not match the layout")
        out.append(bytes(chunks[0]) if k == 1 else b"".join(chunks))
    return out


def _view(frame) -> memoryview:
    buf = getattr(frame, "buffer", frame)        # a zmq.Frame, or bytes
    return memoryview(buf)


def _bytes(frame) -> bytes:
    return bytes(_view(frame))
