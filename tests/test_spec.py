"""The repository carries the spec it cites: every rule id a test is named after, or
the code names (N1.x, V2.x, E3.x, X4.x, D5.x, P6.x, T7.x, U1.x), is a rule of docs/spec.md."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
RULE = re.compile(r"\b([NVEXDPTU][1-9])\.(\d{1,2})\b")
TEST_RULE = re.compile(r"def test_([NVEXDPTU][1-9])_(\d{1,2})_")


def _spec_rules() -> set:
    return {f"{a}.{b}" for a, b in RULE.findall((ROOT / "docs" / "spec.md").read_text())}


def test_every_rule_a_test_is_named_after_is_in_the_spec():
    named = set()
    for path in (ROOT / "tests").rglob("*.py"):
        named |= {f"{a}.{b}" for a, b in TEST_RULE.findall(path.read_text())}
    assert len(named) > 50
    assert sorted(named - _spec_rules()) == []


def test_every_rule_the_code_cites_is_in_the_spec():
    cited = {}
    for path in (ROOT / "normach").rglob("*.py"):
        for a, b in RULE.findall(path.read_text()):
            cited.setdefault(f"{a}.{b}", path.relative_to(ROOT))
    missing = {rule: str(where) for rule, where in cited.items() if rule not in _spec_rules()}
    assert missing == {}


def test_every_place_the_index_names_exists():
    """docs/index.md: each `normach/x.py: name` — and each `name` after it in the same
    cell — is defined in that module (a method as `Class.method`)."""
    text = (ROOT / "docs" / "index.md").read_text()
    checked = 0
    for line in text.splitlines():
        cells = line.split("|")
        if len(cells) < 4 or "normach/" not in cells[2]:
            continue
        module = None
        for token in re.findall(r"`([^`]+)`", cells[2]):
            m = re.match(r"(normach/[\w/]+\.py): (\S+)", token)
            if m:
                module, name = m.group(1), m.group(2)
            else:
                name = token
            assert module is not None, line
            defined = name.split(".")[-1]
            source = (ROOT / module).read_text()
            assert re.search(rf"^\s*(def|class) {defined}\b|^{defined}\s*[:=]", source, re.M), \
                f"{module}: {name}"
            checked += 1
    assert checked > 80
