"""XMM scenarios build freestanding snippets too (tests/snippets.py)."""

from snippets import build_snippet, symbol  # noqa: F401  (fixture and helper)
