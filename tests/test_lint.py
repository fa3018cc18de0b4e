"""ruff (configured in pyproject.toml) finds nothing in the code, the tests or the
benchmarks: what CI runs is what a contributor runs (CONTRIBUTING.md)."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_ruff_check_is_clean():
    p = subprocess.run([sys.executable, "-m", "ruff", "check", "normach", "tests", "benchmarks"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert "No module named ruff" not in p.stderr, "ruff is in the test extra: pip install -e '.[test]'"
    assert p.returncode == 0, p.stdout + p.stderr
