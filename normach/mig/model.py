"""What a `.defs` file declares, and where each argument travels in the message.

A subsystem is a numbered list of routines; a routine a list of arguments, each
with a direction and an IPC type.  An IPC type is one of

* a scalar: 1, 2, 4 or 8 bytes of inline data (MACH_MSG_TYPE_INTEGER_32 ...);
* a port: a right sent with a disposition (MACH_MSG_TYPE_COPY_SEND ...), carried
  by a port descriptor; MACH_MSG_TYPE_PORT_NAME is a plain inline name;
* polymorphic: a port whose disposition the caller gives with it (`namePoly`);
* an array of a scalar or port type: fixed (`array[N]`), variable inline
  (`array[*:N]`), or out-of-line (`array[]`, or any array marked `^`); an array
  of ports always travels as an out-of-line ports descriptor.

The layout (docs/mig.md) is normach's message format: the header, then — if
any argument of that direction travels in a descriptor — the descriptor count
and the descriptors in argument order, then the inline data in argument order.
Every inline item is padded to 4 bytes; a variable or out-of-line array has its
element count (`nameCnt`, u32) inline at the argument's place; an `out`
variable inline array also sends its count in the request (the caller's
capacity).  A successful reply with descriptors has no return code; every other
reply starts its inline data with the 4-byte `RetCode` (as xnu's MIG does).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# MACH_MSG_TYPE_* names MIG accepts, as dispositions (ports) or sizes (scalars).
PORT_TYPES = {"MACH_MSG_TYPE_PORT_NAME": 15, "MACH_MSG_TYPE_MOVE_RECEIVE": 16,
              "MACH_MSG_TYPE_MOVE_SEND": 17, "MACH_MSG_TYPE_MOVE_SEND_ONCE": 18,
              "MACH_MSG_TYPE_COPY_SEND": 19, "MACH_MSG_TYPE_MAKE_SEND": 20,
              "MACH_MSG_TYPE_MAKE_SEND_ONCE": 21, "MACH_MSG_TYPE_PORT_RECEIVE": 16,
              "MACH_MSG_TYPE_PORT_SEND": 17, "MACH_MSG_TYPE_PORT_SEND_ONCE": 18}
SCALAR_TYPES = {"MACH_MSG_TYPE_BIT": 4, "MACH_MSG_TYPE_BOOLEAN": 4, "MACH_MSG_TYPE_INTEGER_8": 1,
                "MACH_MSG_TYPE_CHAR": 1, "MACH_MSG_TYPE_BYTE": 1, "MACH_MSG_TYPE_INTEGER_16": 2,
                "MACH_MSG_TYPE_INTEGER_32": 4, "MACH_MSG_TYPE_INTEGER_64": 8,
                "MACH_MSG_TYPE_REAL_32": 4, "MACH_MSG_TYPE_REAL_64": 8}
SCALAR_CTYPES = {1: "uint8_t", 2: "int16_t", 4: "int32_t", 8: "int64_t"}
PORT_NAME = 15
# The right a receiver holds for each disposition (P6.6).
RECEIVED = {15: 15, 16: 16, 17: 17, 18: 18, 19: 17, 20: 17, 21: 18}

DIRECTIONS = ("in", "out", "inout", "requestport", "replyport", "ureplyport", "sreplyport",
              "waittime", "msgoption", "msgseqno")


class DefsError(Exception):
    """A .defs file MIG cannot compile: `file:line: what`."""


@dataclass(frozen=True)
class IPCType:
    """A MIG type.  `kind`: "scalar", "port", "poly" or "array"."""

    kind: str
    size: int = 4                  # scalar: bytes of one value
    disposition: int = 0           # port: the disposition it is sent with
    elem: "IPCType | None" = None  # array: the element type
    count: int | None = None       # array: fixed count, or the bound of [*:N] (None: unbounded)
    variable: bool = False         # array: [*:N] or []
    ool: bool = False              # array: out of line
    ctype: str = ""                # the C type of a value (an array: of the array argument)
    name: str = ""                 # the .defs name, "" for an anonymous type
    c_string: bool = False         # c_string[N] / c_string[*:N]: NUL-terminated chars
    struct: bool = False           # struct[N] of T: passed by value in C

    @property
    def is_port(self) -> bool:
        return self.kind == "poly" or (self.kind == "port" and self.disposition != PORT_NAME)

    @property
    def port_array(self) -> bool:
        return self.kind == "array" and self.elem.kind in ("port", "poly") and self.elem.is_port

    @property
    def descriptor(self) -> str | None:
        """The descriptor it travels in: "port", "ool", "ool_ports", or None (inline)."""
        if self.is_port:
            return "port"
        if self.kind == "array" and self.port_array:
            return "ool_ports"
        if self.kind == "array" and self.ool:
            return "ool"
        return None

    @property
    def elem_size(self) -> int:
        """Bytes of one element of an array (a port name in an array: 4)."""
        e = self.elem
        return 4 if e.kind in ("port", "poly") else e.fixed_bytes

    @property
    def fixed_bytes(self) -> int:
        """Inline bytes of a scalar, a port name or a fixed array, before padding."""
        if self.kind == "scalar":
            return self.size
        if self.kind == "port":
            return 4
        assert self.kind == "array" and not self.variable
        return self.elem_size * self.count


def pad4(n: int) -> int:
    return (n + 3) & ~3


@dataclass
class Arg:
    name: str
    direction: str
    type: IPCType
    dealloc: bool = False          # an out-of-line array: deallocated from the sender
    line: int = 0

    @property
    def sent_in_request(self) -> bool:
        return self.direction in ("in", "inout")

    @property
    def sent_in_reply(self) -> bool:
        return self.direction in ("out", "inout")

    @property
    def counted(self) -> bool:
        """Has a `nameCnt` beside it (a variable or out-of-line array)."""
        return self.type.kind == "array" and (self.type.variable or self.type.ool
                                              or self.type.port_array)

    @property
    def capacity_in_request(self) -> bool:
        """An out variable inline array: its Cnt (the caller's capacity) goes in the request."""
        t = self.type
        return (self.direction == "out" and t.kind == "array" and t.variable
                and t.descriptor is None and not t.c_string)


@dataclass
class Routine:
    name: str
    number: int                    # the message id
    simple: bool                   # a simpleroutine: no reply
    args: list
    waittime: str | None = None    # the subsystem's waittime in force (a C expression)
    msgoption: str | None = None   # the subsystem's msgoption in force
    line: int = 0

    @property
    def reply_number(self) -> int:
        return self.number + 100

    def arg(self, direction: str):
        return next((a for a in self.args if a.direction == direction), None)

    @property
    def request_port(self) -> Arg:
        return self.arg("requestport") or self.args[0]

    def request_args(self) -> list:
        return [a for a in self.args if a is not self.request_port and a.sent_in_request]

    def reply_args(self) -> list:
        return [a for a in self.args if a.sent_in_reply]

    def request_descriptors(self) -> list:
        return [a for a in self.request_args() if a.type.descriptor]

    def reply_descriptors(self) -> list:
        return [a for a in self.reply_args() if a.type.descriptor]

    def request_inline(self) -> list:
        """Inline items of the request, in order: (arg, what), what one of "value",
        "count" (a variable or out-of-line array's Cnt), "capacity" (an out array's)."""
        items = []
        for a in self.args:
            if a is self.request_port:
                continue
            if a.sent_in_request:
                items += _inline_items(a)
            elif a.capacity_in_request:
                items.append((a, "capacity"))
        return items

    def reply_inline(self) -> list:
        items = []
        for a in self.reply_args():
            items += _inline_items(a)
        return items


def _inline_items(a: Arg) -> list:
    d = a.type.descriptor
    if d == "port":
        return []
    if d in ("ool", "ool_ports"):
        return [(a, "count")]
    return [(a, "value")]


@dataclass
class Subsystem:
    name: str
    base: int
    routines: list = field(default_factory=list)      # Routine, or None for a skip
    user_prefix: str = ""
    server_prefix: str = ""
    server_demux: str = ""
    imports: list = field(default_factory=list)       # (which, text): "", "u" or "s"

    @property
    def demux_name(self) -> str:
        return self.server_demux or f"{self.name}_server"

    def defined(self) -> list:
        return [r for r in self.routines if r is not None]


def inline_size(t: IPCType, count: int | None = None) -> int:
    """Bytes of an inline value of `t` (a variable array: with `count` elements, Cnt apart)."""
    if t.kind == "array" and t.variable:
        return pad4(t.elem_size * (t.count if count is None else count))
    return pad4(t.fixed_bytes)
