"""DESIGN.md §1: the import rules between layers, checked on the source."""

import ast
import pathlib

import normach

ROOT = pathlib.Path(normach.__file__).parent
CORE = ("kern", "ipc", "vm")
DISTRIBUTED = ("xmm", "dipc", "transport", "cli", "servers")


def _imports(path: pathlib.Path):
    """Absolute module names imported by a file (relative imports resolved)."""
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


def _offenders(files, forbidden):
    out = []
    for f in files:
        for mod in _imports(f):
            top = mod.split(".")
            if any(top[0] == x or mod.startswith(x + ".") for x in forbidden):
                out.append(f"{f.relative_to(ROOT)} imports {mod}")
    return out


def test_only_machine_imports_unicorn():
    files = [f for f in _files() if f.relative_to(ROOT).parts[0] != "machine"]
    assert _offenders(files, ["unicorn"]) == []


def test_only_transport_imports_zmq():
    files = [f for f in _files() if f.relative_to(ROOT).parts[0] != "transport"]
    assert _offenders(files, ["zmq"]) == []


def test_kernel_core_never_imports_distributed_layers():
    forbidden = [f"normach.{d}" for d in DISTRIBUTED]
    files = [f for sub in CORE for f in _files(sub)]
    assert files, "kernel core not found"
    assert _offenders(files, forbidden) == []


def test_import_checker_sees_violations(tmp_path):
    """The checker itself catches a forbidden import (so the tests above can fail)."""
    bad = ROOT / "vm" / "_layering_probe.py"
    bad.write_text("from ..transport import wire\nimport zmq\n")
    try:
        found = _offenders([bad], ["normach.transport", "zmq"])
    finally:
        bad.unlink()
    assert len(found) == 2
