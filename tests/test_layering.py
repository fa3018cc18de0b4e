"""The import rules between layers (docs/design.md §1), checked on the source.

Imports inside functions count as much as those at the top of a module.  The
kernel core (kern, ipc, vm) is one package here: its parts lean on each other,
as Mach's do.
"""

import ast
import pathlib

import normach

ROOT = pathlib.Path(normach.__file__).parent
CORE = ("kern", "ipc", "vm")
OURS = ("normach",)

# What each layer must never import (module prefixes under normach.).
UPPER = ("xmm", "dipc", "norma", "servers", "cli", "cluster", "mach", "mach_msg_api", "handles",
         "node_process", "programs", "ps", "boot", "launcher")
FORBIDDEN = {
    "core": ("transport", "machine", *UPPER),
    "transport": ("kern", "ipc", "vm", "machine", "guest", *UPPER),
    "machine": ("transport", *UPPER),
    "dipc": ("xmm", "norma", "servers", "cli", "cluster", "mach", "boot", "node_process"),
    "xmm": ("norma", "servers", "cli", "cluster", "mach", "boot", "node_process"),
    "norma": ("servers", "cli", "cluster", "mach", "boot", "node_process"),
    "errors": ("",),                      # the bottom floor imports nothing of ours
    "mig": ("",),                         # a library: nothing of ours either
}


def _imports(path: pathlib.Path):
    """Absolute module names imported by a file (relative imports resolved), at any depth."""
    tree = ast.parse(path.read_text(), str(path))
    pkg = ["normach", *path.relative_to(ROOT).parent.parts]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            yield mod
            for a in node.names:
                yield f"{mod}.{a.name}"


def _files(sub=None):
    base = ROOT / sub if sub else ROOT
    return sorted(base.rglob("*.py"))


def _package(module: str) -> str | None:
    """The layer a module of ours belongs to: core, a subpackage, a top-level module."""
    parts = module.split(".")
    if parts[0] != "normach":
        return None
    if len(parts) == 1:
        return "normach"
    if parts[1] in CORE:
        return "core"
    if (ROOT / parts[1]).is_dir() or (ROOT / f"{parts[1]}.py").is_file():
        return parts[1]
    return "normach"                      # a name imported from the package itself


def _layer_of(path: pathlib.Path) -> str:
    rel = path.relative_to(ROOT)
    return _package(".".join(["normach", *rel.with_suffix("").parts]))


def _offenders(files, forbidden):
    out = []
    for f in files:
        for mod in _imports(f):
            top = mod.split(".")
            if any(top[0] == x or mod.startswith(x + ".") for x in forbidden):
                out.append(f"{f.relative_to(ROOT)} imports {mod}")
    return out


def _graph() -> dict:
    """{layer: {layer it imports: a file that does}}."""
    graph = {}
    for f in _files():
        src = _layer_of(f)
        for mod in _imports(f):
            dst = _package(mod)
            if dst not in (None, src, "normach"):
                graph.setdefault(src, {}).setdefault(dst, str(f.relative_to(ROOT)))
    return graph


def _cycles(graph: dict) -> list:
    """The strongly connected components of more than one layer (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def test_only_machine_imports_unicorn():
    files = [f for f in _files() if f.relative_to(ROOT).parts[0] != "machine"]
    assert _offenders(files, ["unicorn"]) == []


def test_only_transport_imports_zmq():
    files = [f for f in _files() if f.relative_to(ROOT).parts[0] != "transport"]
    assert _offenders(files, ["zmq"]) == []


def test_each_layer_keeps_to_the_forbidden_import_table():
    found = []
    for layer, forbidden in FORBIDDEN.items():
        files = [f for f in _files() if _layer_of(f) == layer]
        assert files, f"layer {layer} not found"
        if forbidden == ("",):            # nothing of ours but itself
            found += [o for o in _offenders(files, ["normach"])
                      if _package(o.split(" imports ")[1]) != layer]
        else:
            found += _offenders(files, [f"normach.{x}" for x in forbidden])
    assert found == []


def test_no_import_cycle_between_layers():
    """Counting imports inside functions, with kern, ipc and vm as one core."""
    graph = _graph()
    assert "core" in graph and "transport" in graph
    cycles = _cycles(graph)
    detail = {tuple(c): {a: {b: graph[a][b] for b in graph[a] if b in c} for a in c} for c in cycles}
    assert cycles == [], detail


def test_the_checkers_see_violations(tmp_path):
    """The checkers themselves catch a forbidden import and a cycle (so the tests above
    can fail)."""
    bad = ROOT / "vm" / "_layering_probe.py"
    bad.write_text("def f():\n    from ..transport import wire\n    import zmq\n")
    try:
        found = _offenders([bad], ["normach.transport", "zmq"])
    finally:
        bad.unlink()
    assert len(found) == 2
    assert _cycles({"a": {"b": ""}, "b": {"c": ""}, "c": {"a": ""}, "d": {"a": ""}}) == [["a", "b", "c"]]
