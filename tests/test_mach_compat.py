"""docs/mach-compat.md lists every routine and trap of the kernel (issue 14): a routine
added without its line there fails here."""

import pathlib
import re

from normach.kern.routines import ROUTINES
from normach.kern.traps import TRAPS

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "mach-compat.md"


def test_every_routine_and_trap_is_in_the_compatibility_table():
    text = DOC.read_text()
    listed = dict(re.findall(r"^\| `(\w+)` \| (-?\d+) \|", text, re.M))
    for r in ROUTINES.values():
        assert listed.get(r.name) == str(r.id), f"{r.name} ({r.id}) not in {DOC.name}"
    for number, trap in TRAPS.items():
        if number < 0:                                  # the kernel-call traps are routines
            assert listed.get(trap.name) == str(number), f"trap {trap.name} not in {DOC.name}"
