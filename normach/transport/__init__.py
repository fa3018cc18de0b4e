"""Kernel-to-kernel transport: ZeroMQ sockets, msgpack wire format (DESIGN.md §3.1).

The only package that imports zmq.  `protocol` declares messages and derives
their codecs; `endpoint` is one node's sockets and I/O thread; `messages`
declares the transport's own messages; `bench` measures round trips.
"""

from .protocol import Header, Message, WireError, check_registry, declare, decode, encode, lookup
from . import messages
from .endpoint import STAT_KEYS, Endpoint, curve_keys

__all__ = ["Endpoint", "Message", "Header", "WireError", "declare", "decode", "encode", "lookup",
           "check_registry", "messages", "curve_keys", "STAT_KEYS"]
