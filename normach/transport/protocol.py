"""Protocol messages between node kernels: declared once, codecs derived.

Every kernel-to-kernel message is declared exactly once with `declare`:

    ping = declare(1, "ping", [("seq", "uint")], reply="pong")

The declaration gives the message its wire id, its name, its fields (each with a
kind) and the name of the message that answers it (None for a message that is
sent one-way or that is itself a reply).  `declare` returns a small class;
`ping(seq=3)` (or `ping(3)`) builds a message, `msg.seq` reads a field and
`msg.id`, `msg.name`, `msg.reply` describe its type.  Declarations live in a
registry keyed by id and by name; declaring an id or a name twice is a bug and
fails with AssertionError when the declaring module is imported.

Wire format.  A message is a list of zmq frames:

    frame 0   msgpack array [version, id, seq, sender node, sender incarnation,
                             value of each non-raw field, in declaration order]
    frame 1.. one frame per "raw" field, in declaration order, carried as is

Raw fields hold page-sized data: they travel as their own frame and are never
re-encoded (no copy into a msgpack buffer, no base64).  Everything else goes
in the one msgpack header, packed with a per-thread reused Packer (measured the
cheapest general encoding; never pickle: unpickling what another node sent would
run its code).

Kinds: "int" (signed 64-bit), "uint" (unsigned 64-bit), "bool", "str",
"bytes" (small binary, msgpack bin), "raw" (a frame of its own), "list" (a list
of scalars or nested lists), "map" (a dict of scalar keys to scalars, lists or
maps).  Scalars inside lists and maps are None, bool, 64-bit ints, floats, str
and bytes.

`decode` trusts nothing: any frame list a peer can send either decodes to a
well-typed message or raises `WireError(reason)` -- never another exception.
Limits on frame sizes and nesting come from `config`.
"""

import threading
from typing import NamedTuple

import msgpack

from . import config

PROTOCOL_VERSION = 1

KINDS = ("int", "uint", "bool", "str", "bytes", "raw", "list", "map")

_INT_MIN, _INT_MAX = -(1 << 63), (1 << 63) - 1
_UINT_MAX = (1 << 64) - 1
_RESERVED = {"id", "name", "fields", "reply", "as_dict", "reply_type"}

_BY_ID: dict = {}       # message id -> class; written only by declare() at import time
_BY_NAME: dict = {}     # message name -> class; written only by declare() at import time


class WireError(Exception):
    """Frames that are not a valid protocol message; `.reason` says why."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class Header(NamedTuple):
    """The envelope of a decoded message (frame 0 minus the field values)."""

    version: int
    id: int
    seq: int
    node: int
    incarnation: int


class Message:
    """Base of every declared message type; instances carry field values.

    Subclasses are made by `declare`; class attributes `id`, `name`, `fields`
    (tuple of (name, kind)) and `reply` (name of the answering message or None)
    describe the type.  Instances are plain value holders owned by whichever
    thread built or decoded them.
    """

    __slots__ = ()
    id = -1
    name = ""
    fields: tuple = ()
    reply = None
    _names: tuple = ()

    def __init__(self, *args, **kwargs):
        names = self._names
        if len(args) > len(names):
            raise TypeError(f"{self.name}: {len(args)} values for {len(names)} fields")
        for n, v in zip(names, args):
            object.__setattr__(self, n, v)
        for n, v in kwargs.items():
            if n not in names or names.index(n) < len(args):
                raise TypeError(f"{self.name}: unexpected or repeated field {n!r}")
            object.__setattr__(self, n, v)
        if len(args) + len(kwargs) != len(names):
            missing = [n for n in names[len(args):] if n not in kwargs]
            raise TypeError(f"{self.name}: missing fields {missing}")

    def as_dict(self) -> dict:
        """Returns: {field name: value} in declaration order."""
        return {n: getattr(self, n) for n in self._names}

    @classmethod
    def reply_type(cls):
        """Returns: the declared class of this message's reply, or None if it has none."""
        if cls.reply is None:
            return None
        assert cls.reply in _BY_NAME, f"{cls.name}: reply {cls.reply!r} is not declared"
        return _BY_NAME[cls.reply]

    def __eq__(self, other):
        return type(other) is type(self) and all(
            getattr(self, n) == getattr(other, n) for n in self._names)

    def __hash__(self):
        return hash((self.id, *(repr(getattr(self, n)) for n in self._names)))

    def __repr__(self):
        def short(v):
            if isinstance(v, (bytes, bytearray, memoryview)) and len(v) > 32:
                return f"<{len(v)} bytes>"
            return repr(v)
        return f"{self.name}(" + ", ".join(f"{n}={short(getattr(self, n))}"
                                           for n in self._names) + ")"


def declare(id: int, name: str, fields: list, reply: str | None = None) -> type:
    """Declare one protocol message and register it.

    Returns: the new Message subclass.
    Raises: AssertionError if the id or name is already declared, or a field is
    malformed (these are bugs in the declaring module, caught at import).
    """
    assert type(id) is int and 0 < id <= 0xFFFF_FFFF, f"bad message id {id!r}"
    assert isinstance(name, str) and name.isidentifier(), f"bad message name {name!r}"
    assert id not in _BY_ID, f"message id {id} declared twice ({_BY_ID.get(id).name!r}, {name!r})"
    assert name not in _BY_NAME, f"message name {name!r} declared twice"
    assert reply is None or (isinstance(reply, str) and reply.isidentifier()), reply
    fields = tuple((str(f), str(k)) for f, k in fields)
    names = tuple(f for f, _ in fields)
    assert len(set(names)) == len(names), f"{name}: duplicate field names"
    for f, k in fields:
        assert f.isidentifier() and not f.startswith("_") and f not in _RESERVED, \
            f"{name}: bad field name {f!r}"
        assert k in KINDS, f"{name}.{f}: unknown kind {k!r}"
    plain = tuple((f, k) for f, k in fields if k != "raw")
    raw = tuple(f for f, k in fields if k == "raw")
    cls = type(name, (Message,), {
        "__slots__": names, "id": id, "name": name, "fields": fields, "reply": reply,
        "_names": names, "_plain": plain, "_raw": raw,
        "_checks": tuple((f, _CHECKS[k]) for f, k in plain),
    })
    _BY_ID[id] = cls
    _BY_NAME[name] = cls
    return cls


def lookup(key) -> type:
    """Returns: the message class declared with this id (int) or name (str).
    Raises: KeyError if none is."""
    return _BY_ID[key] if isinstance(key, int) else _BY_NAME[key]


def check_registry() -> list:
    """Returns: problems with the declarations as a whole (replies that name no message)."""
    return [f"{c.name}: reply {c.reply!r} is not declared"
            for c in _BY_ID.values() if c.reply is not None and c.reply not in _BY_NAME]


# -- value checks: each returns the value as it goes on / came off the wire, or raises --

def _bad(what, v):
    raise WireError(f"{what}: {type(v).__name__} value not allowed")


def _check_int(v, what):
    if type(v) is not int:
        if not isinstance(v, int) or isinstance(v, bool):   # IntEnum codes are fine
            _bad(what + " (int)", v)
        v = int(v)
    if not _INT_MIN <= v <= _INT_MAX:
        raise WireError(f"{what}: int out of 64-bit range")
    return v


def _check_uint(v, what):
    if type(v) is not int:
        if not isinstance(v, int) or isinstance(v, bool):   # IntEnum codes are fine
            _bad(what + " (uint)", v)
        v = int(v)
    if not 0 <= v <= _UINT_MAX:
        raise WireError(f"{what}: uint negative or out of 64-bit range")
    return v


def _check_bool(v, what):
    if type(v) is not bool:
        _bad(what + " (bool)", v)
    return v


def _check_str(v, what):
    if type(v) is not str:
        _bad(what + " (str)", v)
    return v


def _check_bytes(v, what):
    if type(v) is not bytes:
        if isinstance(v, (bytearray, memoryview)):
            return bytes(v)
        _bad(what + " (bytes)", v)
    return v


def _scalar_ok(v) -> bool:
    t = type(v)
    if t is int:
        return _INT_MIN <= v <= _UINT_MAX
    return v is None or t in (bool, float, str, bytes)


def _check_nested(v, what, depth, allow_map):
    if depth > config.MAX_NESTING:
        raise WireError(f"{what}: nested deeper than {config.MAX_NESTING}")
    t = type(v)
    if t is list or t is tuple:
        for x in v:
            if not _scalar_ok(x):
                _check_nested(x, what, depth + 1, allow_map)
        return
    if t is dict and allow_map:
        for k, x in v.items():
            if type(k) not in (str, int, bytes) or not _scalar_ok(k):
                _bad(what + " (map key)", k)
            if not _scalar_ok(x):
                _check_nested(x, what, depth + 1, allow_map)
        return
    _bad(what, v)


def _check_list(v, what):
    if type(v) is not list:
        if type(v) is tuple:
            v = list(v)
        else:
            _bad(what + " (list)", v)
    _check_nested(v, what, 0, False)
    return v


def _check_map(v, what):
    if type(v) is not dict:
        _bad(what + " (map)", v)
    _check_nested(v, what, 0, True)
    return v


_CHECKS = {"int": _check_int, "uint": _check_uint, "bool": _check_bool, "str": _check_str,
           "bytes": _check_bytes, "list": _check_list, "map": _check_map}

_tls = threading.local()    # per-thread msgpack Packer (a Packer is not thread-safe)


def _packer():
    p = getattr(_tls, "packer", None)
    if p is None:
        p = _tls.packer = msgpack.Packer(use_bin_type=True, autoreset=True)
    return p


def encode(msg: Message, seq: int = 0, node: int = 0, incarnation: int = 0) -> list:
    """Encode a message with its envelope into zmq frames.

    Returns: [header frame, *raw frames], all `bytes`.
    Raises: WireError if a field value does not fit its declared kind or a frame
    would exceed the size limits (a bug in the sender: nothing is sent).
    """
    cls = type(msg)
    if _BY_ID.get(cls.id) is not cls:
        raise WireError(f"{cls.__name__} is not a declared message")
    head = [PROTOCOL_VERSION, cls.id, _check_uint(seq, "seq"), _check_uint(node, "node"),
            _check_uint(incarnation, "incarnation")]
    try:
        for f, check in cls._checks:
            head.append(check(getattr(msg, f), f"{cls.name}.{f}"))
    except AttributeError as e:
        raise WireError(f"{cls.name}: field missing ({e})") from None
    frame0 = _packer().pack(head)
    if len(frame0) > config.MAX_HEADER_BYTES:
        raise WireError(f"{cls.name}: header of {len(frame0)} bytes exceeds the limit")
    frames = [frame0]
    for f in cls._raw:
        v = getattr(msg, f)
        if type(v) is not bytes:
            if not isinstance(v, (bytearray, memoryview)):
                _bad(f"{cls.name}.{f} (raw)", v)
            v = bytes(v)
        if len(v) > config.MAX_RAW_BYTES:
            raise WireError(f"{cls.name}.{f}: raw frame of {len(v)} bytes exceeds the limit")
        frames.append(v)
    return frames


def decode(frames) -> tuple:
    """Decode and validate frames received from a peer.

    Returns: (Header, Message).
    Raises: WireError for anything that is not exactly a valid message of a
    declared type (and nothing else, whatever the frames contain).
    """
    try:
        return _decode(frames)
    except WireError:
        raise
    except Exception as e:          # msgpack's own errors, unhashable keys, recursion, memory
        raise WireError(f"undecodable header: {type(e).__name__}") from None


def _decode(frames):
    if type(frames) not in (list, tuple) or not frames:
        raise WireError("no frames")
    f0 = frames[0]
    if type(f0) is not bytes:
        raise WireError("header frame is not bytes")
    if len(f0) > config.MAX_HEADER_BYTES:
        raise WireError(f"header frame of {len(f0)} bytes exceeds the limit")
    head = msgpack.unpackb(f0, raw=False, use_list=True, strict_map_key=False)
    if type(head) is not list or len(head) < 5:
        raise WireError("header is not an array of at least 5 values")
    version, mid, seq, node, inc = (_check_uint(head[i], w) for i, w in
                                    enumerate(("version", "id", "seq", "node", "incarnation")))
    if version != PROTOCOL_VERSION:
        raise WireError(f"protocol version {version}, expected {PROTOCOL_VERSION}")
    cls = _BY_ID.get(mid)
    if cls is None:
        raise WireError(f"unknown message id {mid}")
    if len(head) - 5 != len(cls._plain):
        raise WireError(f"{cls.name}: {len(head) - 5} field values, expected {len(cls._plain)}")
    if len(frames) - 1 != len(cls._raw):
        raise WireError(f"{cls.name}: {len(frames) - 1} raw frames, expected {len(cls._raw)}")
    msg = cls.__new__(cls)
    for (f, check), v in zip(cls._checks, head[5:]):
        object.__setattr__(msg, f, check(v, f"{cls.name}.{f}"))
    for f, v in zip(cls._raw, frames[1:]):
        if type(v) is not bytes:
            raise WireError(f"{cls.name}.{f}: raw frame is not bytes")
        if len(v) > config.MAX_RAW_BYTES:
            raise WireError(f"{cls.name}.{f}: raw frame of {len(v)} bytes exceeds the limit")
        object.__setattr__(msg, f, v)
    return Header(version, mid, seq, node, inc), msg
