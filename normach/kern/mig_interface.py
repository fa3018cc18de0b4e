"""The kernel's routines as MIG interfaces: their `.defs`, and the server that reads them.

`kern/routines.py` declares each kernel call once.  From it this module writes
one `.defs` file per subsystem (mach, mach_port, mach_host, clock, norma,
normach), each routine at its message id (`skip;` fills the gaps), in the types
of `guest/include/mach/std_types.defs` and `mach_types.defs`:

  int → int64_t          bool → boolean_t        port → mach_port_t
  poly → mach_port_poly_t                         ports → mach_port_array_t
  bytes → pointer_t (out of line)                 state → thread_state_t
  record → normach_record_t (u32 words, a count in u32 units, as <mach.h>)
  outs: int32 → natural_t; task, thread → task_t, thread_act_t; sonce →
  mach_port_send_once_t; right → mach_port_poly_t; names → two out-of-line
  arrays (names, types); ints → mach_port_name_array_t.

The kernel object server reads a request a guest laid out (`Kmsg.packed`) with
the routine of the same text, parsed back (`subsystems()`), so what `normach
mig` compiles for a guest and what the kernel decodes cannot disagree.
`serve` decodes such a request, runs the routine and encodes the reply in MIG
layout (docs/mig.md).
"""

from __future__ import annotations

import struct
from functools import lru_cache
from pathlib import Path

from ..mach_types import MsgType
from . import records
from ..errors import KernError, KernReturn
from .routines import ROUTINES, convert_target

K = KernReturn
DEFS_DIR = Path(__file__).resolve().parent.parent / "guest" / "include" / "mach"

# (first id, last id, subsystem name, file) of each published interface.
SUBSYSTEMS = ((1000, 1099, "clock", "clock.defs"), (2000, 2199, "mach", "mach.defs"),
              (2600, 2699, "mach_host", "mach_host.defs"),
              (2998, 2999, "normach", "normach.defs"),
              (3200, 3299, "mach_port", "mach_port.defs"),
              (555000, 555099, "norma", "norma.defs"))

TARGET_TYPES = {"task": "task_t", "vm_task": "vm_task_t", "space": "ipc_space_t",
                "thread": "thread_act_t", "host": "host_t", "host_priv": "host_priv_t",
                "clock": "clock_serv_t"}
IN_TYPES = {"int": "int64_t", "bool": "boolean_t", "port": "mach_port_t",
            "poly": "mach_port_poly_t", "ports": "mach_port_array_t", "bytes": "pointer_t",
            "state": "thread_state_t", "record": "normach_record_t"}
OUT_TYPES = {"int": "int64_t", "int32": "natural_t", "port": "mach_port_t", "task": "task_t",
             "thread": "thread_act_t", "sonce": "mach_port_send_once_t",
             "right": "mach_port_poly_t", "ports": "mach_port_array_t",
             "threads": "thread_act_array_t", "bytes": "pointer_t", "state": "thread_state_t",
             "record": "normach_record_t", "ints": "mach_port_name_array_t"}
OUT_NAMES = {"task": "child_task", "thread": "child_act", "threads": "act_list",
             "ports": "port_list", "bytes": "data_out", "state": "old_state",
             "record": "info_out", "right": "right_out", "sonce": "previous",
             "port": "port_out", "ints": "members"}


def _out_args(r) -> list:
    """The out arguments of a routine: [(name, defs type, out kind)]."""
    out, seen = [], {}
    for kind in r.outs:
        if kind == "names":
            out += [("names", "mach_port_name_array_t", "names"),
                    ("types", "mach_port_type_array_t", "names")]
            continue
        base = OUT_NAMES.get(kind, "result")
        seen[base] = seen.get(base, 0) + 1
        name = base if seen[base] == 1 else f"{base}{seen[base]}"
        out.append((name, OUT_TYPES[kind], kind))
    return out


def _routine_text(r) -> str:
    args = [f"\t\t{r.target if r.target != 'vm_task' else 'target_task'} : "
            f"{TARGET_TYPES[r.target]}"]
    args += [f"\t\t{name} : {IN_TYPES[kind]}" for name, kind in r.params]
    args += [f"\tout\t{name} : {t}" for name, t, _k in _out_args(r)]
    return f"routine {r.name}(\n" + ";\n".join(args) + ");\n"


def defs_text(name: str) -> str:
    """The .defs text of one published subsystem (see SUBSYSTEMS)."""
    lo, hi, sub, _file = next(s for s in SUBSYSTEMS if s[2] == name)
    ids = sorted(i for i in ROUTINES if lo <= i <= hi)
    lines = [f"/* The {sub} interface of the normach kernel, generated from "
             "normach/kern/routines.py\n   (normach mig --kernel-defs): do not edit. */",
             f"subsystem {sub} {lo};", "",
             "#include <mach/std_types.defs>", "#include <mach/mach_types.defs>", "",
             "#ifdef USERPREFIX", "userprefix USERPREFIX;", "#endif",
             "#ifdef SERVERPREFIX", "serverprefix SERVERPREFIX;", "#endif", ""]
    nxt = lo
    for i in ids:
        lines += ["skip;"] * (i - nxt)
        lines.append(_routine_text(ROUTINES[i]))
        nxt = i + 1
    return "\n".join(lines) + "\n"


def write_defs(directory) -> list[Path]:
    """Write every kernel interface's .defs into `directory`; returns the paths."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    for *_r, name, file in SUBSYSTEMS:
        p = d / file
        p.write_text(defs_text(name))
        paths.append(p)
    return paths


@lru_cache(maxsize=None)
def subsystems() -> dict:
    """{message id: mig Routine} of every kernel routine, parsed from the published
    text (std_types.defs and mach_types.defs first; no preprocessor: `#` lines are
    guards, and the prefix conditionals are left out)."""
    from ..mig.parser import Parser
    prelude = (DEFS_DIR / "std_types.defs").read_text() + (DEFS_DIR / "mach_types.defs").read_text()
    types = Parser(prelude, "mach_types.defs")
    types.parse(require_subsystem=False)
    out = {}
    for *_r, name, _file in SUBSYSTEMS:
        text = "\n".join(line for line in defs_text(name).splitlines()
                         if not line.lstrip().startswith(("userprefix", "serverprefix")))
        p = Parser(text, f"{name}.defs", builtin_types=types.types)
        for r in p.parse().defined():
            out[r.number] = r
    return out


# -- the server: a request a guest laid out, in MIG layout --------------------------------

def serve(kernel, kmsg):
    """Execute a MIG-layout request on the kernel object of its destination.

    Returns: the reply Kmsg (or None without a reply right).  Error replies carry
    MIG_BAD_ID, MIG_BAD_ARGUMENTS (shape), MIG_TYPE_ERROR (a descriptor of the
    wrong kind or size), or the routine's own code.  Conditions: kernel lock held.
    """
    from ..ipc.kmsg import ipc_kmsg_make_reply
    r, mr = ROUTINES.get(kmsg.id), subsystems().get(kmsg.id)
    if r is None or mr is None:
        return ipc_kmsg_make_reply(kmsg, [struct.pack("<i", K.MIG_BAD_ID)])
    try:
        target = convert_target(kmsg.dest, r.target)
        values = _decode(kmsg, mr)
        _check_descriptors(kmsg, r, values)        # before any right is taken out of it
        args, caps = _impl_args(kmsg, r, mr, values)
        result = r.impl(target, *args)
        outs = [] if not r.outs else [result] if len(r.outs) == 1 else list(result)
        body = _encode_reply(kernel, r, mr, outs, caps)
    except KernError as e:              # what is left in the request is destroyed with it
        return ipc_kmsg_make_reply(kmsg, [struct.pack("<i", e.code)])
    return ipc_kmsg_make_reply(kmsg, body)


def _decode(kmsg, mr) -> dict:
    """{argument name: descriptor item, int, bytes or (count, bytes)} of a request."""
    from ..ipc.kmsg import OOLItem, OOLPortsItem, PortItem, is_descriptor
    descs = [(i, it) for i, it in enumerate(kmsg.body) if is_descriptor(it)]
    inline = [it for it in kmsg.body if isinstance(it, (bytes, bytearray))]
    if len(descs) != len(mr.request_descriptors()) or len(inline) > 1 \
            or len(descs) + len(inline) != len(kmsg.body):
        raise KernError(K.MIG_BAD_ARGUMENTS)
    want = {"port": PortItem, "ool": OOLItem, "ool_ports": OOLPortsItem}
    values = {}
    for a, (i, item) in zip(mr.request_descriptors(), descs):
        if not isinstance(item, want[a.type.descriptor]):
            raise KernError(K.MIG_TYPE_ERROR)
        values[a.name] = i
    data = bytes(inline[0]) if inline else b""
    pos = 0
    for a, what in mr.request_inline():
        pos = _read_inline(data, pos, a, what, values)
    if pos != len(data):
        raise KernError(K.MIG_BAD_ARGUMENTS)
    return values


def _read_inline(data: bytes, pos: int, a, what: str, values: dict) -> int:
    from ..mig.model import inline_size
    t = a.type

    def u32(at):
        if at + 4 > len(data):
            raise KernError(K.MIG_BAD_ARGUMENTS)
        return struct.unpack_from("<I", data, at)[0]

    if what in ("count", "capacity"):
        values[(a.name, what)] = u32(pos)
        return pos + 4
    if t.kind == "array" and t.variable:
        n = u32(pos)
        if n > t.count:
            raise KernError(K.MIG_BAD_ARGUMENTS)
        size = inline_size(t, n)
        if pos + 4 + size > len(data):
            raise KernError(K.MIG_BAD_ARGUMENTS)
        values[a.name] = data[pos + 4:pos + 4 + t.elem_size * n]
        return pos + 4 + size
    size = inline_size(t)
    if pos + size > len(data):
        raise KernError(K.MIG_BAD_ARGUMENTS)
    raw = data[pos:pos + t.fixed_bytes]
    values[a.name] = int.from_bytes(raw, "little", signed=True) if t.kind == "scalar" else raw
    return pos + size


def _check_descriptors(kmsg, r, values) -> None:
    """Each descriptor agrees with its argument: a "port" is a send right, an array's
    inline count is its length.  Raises: MIG_TYPE_ERROR."""
    for name, kind in r.params:
        if kind not in ("port", "ports", "bytes"):
            continue
        item = kmsg.body[values[name]]
        if kind == "port":
            ok = item.port is None or item.msgt == MsgType.PORT_SEND
        elif kind == "ports":
            ok = len(item.ports) == values[(name, "count")]
        else:
            ok = item.size == values[(name, "count")]
        if not ok:
            raise KernError(K.MIG_TYPE_ERROR, f"{r.name}: argument {name}")


def _impl_args(kmsg, r, mr, values) -> tuple[list, dict]:
    """The routine's arguments (as kern/routines.py declares them; the rights taken out
    of the request), and the caller's capacities for record and state outs (u32 units)."""
    from ..vm.map import vm_map_copy_read
    args = []
    for name, kind in r.params:
        v = values[name]
        if kind in ("int", "bool"):
            args.append(v)
        elif kind in ("port", "poly"):
            item = kmsg.take_item(v)
            args += [item.port, item.msgt] if kind == "poly" else [item.port]
        elif kind == "ports":
            args.append([p or None for p in kmsg.take_item(v).ports])
        elif kind == "bytes":
            item = kmsg.body[v]
            args.append(vm_map_copy_read(item.copy)[:item.size] if item.copy else b"")
        else:                                  # state, record: u32 words → u64 words
            args.append(records.param_words(kind, v))
    caps = {a.name: values[(a.name, "capacity")] for a in mr.args if a.capacity_in_request}
    return args, caps


def _encode_reply(kernel, r, mr, outs, caps) -> list:
    """The reply items: descriptors, then the inline data (RetCode first when simple)."""
    by_name = {}
    for (name, _t, kind), value in zip(_out_args(r), _expand_values(r, outs)):
        by_name[name] = (kind, value)
    descs, inline = [], b""
    for a in mr.reply_args():
        kind, value = by_name[a.name]
        if a.type.descriptor:
            descs.append(_out_descriptor(kernel, kind, value))
        if a.type.descriptor in ("ool", "ool_ports"):
            inline += struct.pack("<I", len(value))
        elif a.type.descriptor is None:
            inline += _out_inline(a, kind, value, caps)
    if descs:
        return descs + ([inline] if inline else [])
    return [struct.pack("<i", 0) + inline]


def _expand_values(r, outs) -> list:
    vals = []
    for kind, v in zip(r.outs, outs):
        vals += [v[0], v[1]] if kind == "names" else [v]
    return vals


def _out_descriptor(kernel, kind, value):
    """Rights as the items-layout reply carries them (ipc_kobject.right_item); byte
    strings and name arrays out of line."""
    from ..ipc.kmsg import OOLItem
    from ..vm.map import vm_map_copy_from_bytes
    from .ipc_kobject import RIGHT_OUTS, right_item
    if kind in RIGHT_OUTS:
        return right_item(kind, value)
    data = bytes(value) if kind == "bytes" else struct.pack(f"<{len(value)}I", *map(int, value))
    return OOLItem(vm_map_copy_from_bytes(kernel, data) if data else None, len(data))


def _out_inline(a, kind, value, caps) -> bytes:
    if kind in ("record", "state"):
        words = records.out_words(kind, value)
        if caps[a.name] < 2 * len(words) or 2 * len(words) > a.type.count:
            raise KernError(K.KERN_INVALID_ARGUMENT, f"count {caps[a.name]} < {2 * len(words)}")
        return struct.pack(f"<I{len(words)}Q", 2 * len(words), *[w & (1 << 64) - 1 for w in words])
    size = a.type.size
    return (int(value) & ((1 << 8 * size) - 1)).to_bytes(size, "little") + b"\0" * (-size % 4)
