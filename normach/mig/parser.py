"""The `.defs` language, after the C preprocessor, into a `Subsystem`.

Statements: `subsystem [KernelUser] [KernelServer] NAME BASE;`, `userprefix`,
`serverprefix`, `serverdemux`, `waittime EXPR;`, `nowaittime;`, `msgoption
EXPR;`, `import`/`uimport`/`simport "file";` (or `<file>`), `type NAME = SPEC
[ctype: C] [cusertype: C] [cservertype: C];`, `routine`, `simpleroutine` and
`skip;`.  Type specs: a MACH_MSG_TYPE_* name, `polymorphic`, a declared type,
`array[N] of T`, `array[*:N] of T`, `array[] of T`, `^array[...] of T`,
`struct[N] of T`, `c_string[N]`, `c_string[*:N]`.  Arguments: `[DIRECTION]
name : TYPE [, dealloc] [, servercopy] [, samecount]` with DIRECTION one of
in, out, inout, requestport, replyport, ureplyport, sreplyport, waittime,
msgoption, msgseqno.  What MIG has beyond this (intran/outtran translations,
`#line` of old MIGs, typed IPC) is refused with a message, never ignored.
"""

from __future__ import annotations

import re

from .model import (DIRECTIONS, PORT_TYPES, SCALAR_CTYPES, SCALAR_TYPES, Arg, DefsError,
                    IPCType, Routine, Subsystem)

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\f\v]+) | (?P<nl>\n) | (?P<comment>//[^\n]*|/\*.*?\*/) |
    (?P<line>\#[^\n]*) |
    (?P<str>"[^"\n]*"|<[A-Za-z0-9_./+-]+>) |
    (?P<num>0[xX][0-9a-fA-F]+|\d+) | (?P<id>[A-Za-z_][A-Za-z0-9_]*) |
    (?P<op>[()\[\];:,=^*+\-/]) | (?P<bad>.)""", re.X | re.S)

_UNSUPPORTED = {"intran", "outtran", "destructor", "intrancookie", "outtrancookie"}
_TYPE_OPTS = ("ctype", "cusertype", "cservertype")


def tokenize(text: str, filename: str) -> list:
    """[(kind, value, line, file)]; cpp's `# N "file"` markers keep places true."""
    out, line = [], 1
    for m in _TOKEN.finditer(text):
        kind, value = m.lastgroup, m.group()
        if kind == "line":
            mark = re.match(r'#\s*(?:line\s+)?(\d+)(?:\s+"([^"]*)")?', value)
            if mark:                       # names the line after it
                line = int(mark.group(1)) - 1
                filename = mark.group(2) or filename
            continue
        if kind == "bad":
            raise DefsError(f"{filename}:{line}: unexpected character {value!r}")
        if kind not in ("ws", "nl", "comment"):
            out.append((kind, value, line, filename))
        line += value.count("\n")
    return out


class Parser:
    def __init__(self, text: str, filename: str = "<defs>", builtin_types: dict | None = None):
        self.toks = tokenize(text, filename)
        self.pos = 0
        self.filename = filename
        self.types = dict(builtin_types or {})
        self.sub: Subsystem | None = None
        self.waittime: str | None = None
        self.msgoption: str | None = None
        self.imports: list = []               # (which, file), before and after `subsystem`

    # -- tokens ---------------------------------------------------------------------
    def error(self, what: str, line: int | None = None):
        tok = self.toks[min(self.pos, len(self.toks) - 1)] if self.toks else None
        where = tok[3] if tok else self.filename
        if line is None:
            line = tok[2] if tok else 1
        return DefsError(f"{where}:{line}: {what}")

    def peek(self, k: int = 0):
        i = self.pos + k
        if i < len(self.toks):
            return self.toks[i]
        return ("eof", "", self.toks[-1][2] if self.toks else 1, self.filename)

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        t = self.peek()
        if (value is not None and t[1] != value) or (kind is not None and t[0] != kind) or t[0] == "eof":
            want = repr(value) if value else (kind or "a token")
            raise self.error(f"expected {want}, found {t[1]!r}" if t[0] != "eof"
                             else f"expected {want} at end of file")
        self.pos += 1
        return t[1]

    def at(self, value: str) -> bool:
        return self.peek()[1] == value and self.peek()[0] in ("id", "op")

    def accept(self, value: str) -> bool:
        if self.at(value):
            self.pos += 1
            return True
        return False

    # -- expressions (sizes, waittimes) -----------------------------------------------
    def expr_text(self) -> str:
        """A C expression up to ';' (waittime, msgoption), as text."""
        parts = []
        while not self.at(";"):
            if self.peek()[0] == "eof":
                raise self.error("expected ';'")
            parts.append(self.take())
        if not parts:
            raise self.error("expected an expression")
        return " ".join(parts)

    def number(self) -> int:
        """An integer constant expression: numbers, + - * / and parentheses."""
        value = self._term()
        while self.at("+") or self.at("-"):
            op = self.take()
            rhs = self._term()
            value = value + rhs if op == "+" else value - rhs
        return value

    def _term(self) -> int:
        value = self._factor()
        while self.at("*") or self.at("/"):
            op = self.take()
            rhs = self._factor()
            if op == "/" and rhs == 0:
                raise self.error("division by zero")
            value = value * rhs if op == "*" else value // rhs
        return value

    def _factor(self) -> int:
        if self.accept("("):
            v = self.number()
            self.take(")")
            return v
        if self.accept("-"):
            return -self._factor()
        kind, value, _l, _f = self.peek()
        if kind != "num":
            raise self.error(f"expected a number, found {value!r} (a C constant MIG cannot "
                             "see: #define it in the .defs or write the number)")
        self.pos += 1
        return int(value, 0)

    # -- statements -------------------------------------------------------------------
    def parse(self, require_subsystem: bool = True) -> Subsystem | None:
        while self.peek()[0] != "eof":
            self.statement()
        if self.sub is None and require_subsystem:
            raise self.error("no subsystem statement", 1)
        return self.sub

    def statement(self) -> None:
        kind, word, line, _f = self.peek()
        if kind == "op" and word == ";":
            self.pos += 1
            return
        if kind != "id":
            raise self.error(f"expected a statement, found {word!r}")
        self.pos += 1
        handler = getattr(self, f"st_{word.lower()}", None)
        if handler is None:
            raise self.error(f"unknown statement {word!r}", line)
        if word.lower() not in ("subsystem", "type", "import", "uimport", "simport") and self.sub is None:
            raise self.error(f"{word} before the subsystem statement", line)
        handler(line)
        self.take(";")

    def st_subsystem(self, line) -> None:
        if self.sub is not None:
            raise self.error("a second subsystem statement", line)
        while self.peek()[1] in ("KernelUser", "KernelServer"):
            self.take()                    # in-kernel stubs: no meaning for guest stubs
        name = self.take(kind="id")
        base = self.number()
        if not 0 <= base < 1 << 31:
            raise self.error(f"subsystem base {base} out of range", line)
        self.sub = Subsystem(name, base)

    def st_userprefix(self, line) -> None:
        self.sub.user_prefix = self.take(kind="id")

    def st_serverprefix(self, line) -> None:
        self.sub.server_prefix = self.take(kind="id")

    def st_serverdemux(self, line) -> None:
        self.sub.server_demux = self.take(kind="id")

    def st_waittime(self, line) -> None:
        self.waittime = self.expr_text()

    def st_nowaittime(self, line) -> None:
        self.waittime = None

    def st_msgoption(self, line) -> None:
        self.msgoption = self.expr_text()

    def _import(self, which: str) -> None:
        kind, value, _l, _f = self.peek()
        if kind != "str":
            raise self.error(f'expected "file" or <file>, found {value!r}')
        self.pos += 1
        self.imports.append((which, value))

    def st_import(self, line) -> None:
        self._import("")

    def st_uimport(self, line) -> None:
        self._import("u")

    def st_simport(self, line) -> None:
        self._import("s")

    def st_skip(self, line) -> None:
        self.sub.routines.append(None)

    def st_routine(self, line) -> None:
        self._routine(line, simple=False)

    def st_simpleroutine(self, line) -> None:
        self._routine(line, simple=True)

    def st_type(self, line) -> None:
        name = self.take(kind="id")
        self.take("=")
        t = self.type_spec()
        ctype = ""
        while self.at(_TYPE_OPTS[0]) or self.at(_TYPE_OPTS[1]) or self.at(_TYPE_OPTS[2]) \
                or self.peek()[1] in _UNSUPPORTED:
            opt = self.take()
            if opt in _UNSUPPORTED:
                raise self.error(f"type {name}: {opt} translations are not supported "
                                 "(translate in the server routine)", line)
            self.take(":")
            c = self.c_type()
            if opt == "ctype" or not ctype:
                ctype = c                  # a type's C name: ctype:, else its own name
        self.types[name] = _replace(t, ctype=ctype or name, name=name)

    def c_type(self) -> str:
        """A C type name (`unsigned int`, `struct foo *` as MIG writes them)."""
        parts = [self.take(kind="id")]
        while self.peek()[0] == "id" and parts[-1] in ("unsigned", "signed", "struct", "const"):
            parts.append(self.take())
        while self.accept("*"):
            parts.append("*")
        return " ".join(parts).replace(" *", "*")

    # -- types ------------------------------------------------------------------------
    def type_spec(self) -> IPCType:
        line = self.peek()[2]
        if self.accept("^"):
            t = self.type_spec()
            if t.kind != "array":
                raise self.error("^ applies to arrays only", line)
            return _replace(t, ool=True, variable=True)     # ^array[N]: up to N, out of line
        word = self.take(kind="id")
        if word in ("array", "struct"):
            return self.array_spec(word == "struct")
        if word == "c_string":
            return self.c_string_spec()
        if word == "polymorphic":
            return IPCType("poly", ctype="mach_port_t")
        if word in PORT_TYPES:
            return IPCType("port", disposition=PORT_TYPES[word], ctype="mach_port_t")
        if word in SCALAR_TYPES:
            size = SCALAR_TYPES[word]
            return IPCType("scalar", size=size, ctype=SCALAR_CTYPES[size])
        if word in self.types:
            return self.types[word]
        raise self.error(f"unknown type {word!r}", line)

    def array_spec(self, is_struct: bool) -> IPCType:
        line = self.peek()[2]
        self.take("[")
        count, variable = None, False
        if self.accept("*"):
            self.take(":")
            count, variable = self.number(), True
        elif not self.at("]"):
            count = self.number()
        else:
            variable = True
        self.take("]")
        self.take("of")
        elem = self.type_spec()
        if count is not None and not 0 < count <= 1 << 24:
            raise self.error(f"array bound {count} out of range", line)
        if elem.kind == "array" and (elem.variable or elem.ool):
            raise self.error("an array of variable arrays cannot be sent", line)
        if elem.kind == "poly":
            raise self.error("an array of polymorphic rights is not supported (give the "
                             "rights one disposition)", line)
        if is_struct and variable:
            raise self.error("struct[] needs a size", line)
        ool = variable and count is None            # array[] of T: out of line
        return IPCType("array", elem=elem, count=count, variable=variable, ool=ool,
                       ctype=f"{_elem_ctype(elem)}*", struct=is_struct)

    def c_string_spec(self) -> IPCType:
        self.take("[")
        variable = self.accept("*") and self.take(":") == ":"
        count = self.number()
        self.take("]")
        char = IPCType("scalar", size=1, ctype="char")
        return IPCType("array", elem=char, count=count, variable=bool(variable), ctype="char*",
                       c_string=True)

    # -- routines ---------------------------------------------------------------------
    def _routine(self, line, simple: bool) -> None:
        name = self.take(kind="id")
        self.take("(")
        args = []
        while not self.at(")"):
            args.append(self.argument())
            if not self.accept(";"):
                break
        self.take(")")
        number = self.sub.base + len(self.sub.routines)
        r = Routine(name, number, simple, args, self.waittime, self.msgoption, line)
        self.check_routine(r)
        self.sub.routines.append(r)

    def argument(self) -> Arg:
        line = self.peek()[2]
        direction = "in"
        if self.peek()[1] in DIRECTIONS and self.peek(1)[1] != ":":
            direction = self.take()
        name = self.take(kind="id")
        self.take(":")
        t = self.type_spec()
        dealloc = False
        while self.accept(","):
            flag = self.take(kind="id")
            if flag == "dealloc":
                dealloc = True
            elif flag not in ("servercopy", "samecount", "auto", "const", "nodealloc"):
                raise self.error(f"argument {name}: unknown flag {flag!r}", line)
        return Arg(name, direction, t, dealloc, line)

    def check_routine(self, r: Routine) -> None:
        if not r.args:
            raise self.error(f"routine {r.name}: no request port argument", r.line)
        names = [a.name for a in r.args]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise self.error(f"routine {r.name}: argument {sorted(dup)[0]} twice", r.line)
        rp = r.request_port
        if rp.type.kind not in ("port", "poly") or (rp.type.kind == "port" and not rp.type.is_port):
            raise self.error(f"routine {r.name}: the request port {rp.name} is not a port", rp.line)
        for a in r.args:
            self.check_arg(r, a)

    def check_arg(self, r: Routine, a: Arg) -> None:
        t = a.type
        if a.name.startswith("mig_") or a.name in ("InHeadP", "OutHeadP"):
            raise self.error(f"routine {r.name}: the name {a.name} is the stubs' own", a.line)
        if a.direction == "inout" and t.kind == "array" and (t.variable or t.ool):
            raise self.error(f"routine {r.name}: inout variable array {a.name} is not supported "
                             "(an in and an out argument do the same)", a.line)
        if a.direction in ("waittime", "msgoption", "msgseqno") and t.kind != "scalar":
            raise self.error(f"routine {r.name}: {a.direction} {a.name} must be an integer", a.line)
        if a.direction in ("replyport", "ureplyport", "sreplyport") and not t.is_port:
            raise self.error(f"routine {r.name}: {a.direction} {a.name} is not a port", a.line)
        if r.simple and (a.sent_in_reply or a.direction in ("replyport", "ureplyport", "sreplyport")):
            raise self.error(f"simpleroutine {r.name}: {a.name} would need a reply", a.line)
        if a.dealloc and not (t.kind == "array" and t.descriptor in ("ool", "ool_ports")):
            raise self.error(f"routine {r.name}: dealloc on {a.name}, which is not out-of-line",
                             a.line)
        if t.kind == "array" and t.descriptor is None and t.variable and t.count is None:
            raise self.error(f"routine {r.name}: {a.name} has no bound", a.line)
        if t.kind == "poly" and a.direction == "inout":
            raise self.error(f"routine {r.name}: inout polymorphic {a.name} is not supported",
                             a.line)
        if t.is_port and a.direction == "inout":
            raise self.error(f"routine {r.name}: inout port {a.name} is not supported", a.line)


def _elem_ctype(elem: IPCType) -> str:
    return elem.ctype or SCALAR_CTYPES.get(elem.size, "int32_t")


def _replace(t: IPCType, **kw) -> IPCType:
    from dataclasses import replace
    return replace(t, **kw)


def parse(text: str, filename: str = "<defs>") -> Subsystem:
    """The subsystem a preprocessed .defs text declares.  Raises: DefsError."""
    p = Parser(text, filename)
    sub = p.parse()
    sub.imports = p.imports
    return sub
