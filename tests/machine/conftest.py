"""The CPU tests build freestanding snippets (tests/snippets.py)."""

from snippets import build_snippet, symbol  # noqa: F401  (fixture and helper)
