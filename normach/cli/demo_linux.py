"""`normach demo --linux`: an ordinary Linux program moves from computer to computer.

A C program built against musl (`normach cc --linux`: nothing of normach in it) runs
under the Unix server (servers/unix) on an embedded three-node cluster: it writes a
file line by line and talks through two pipes with a child it forked (it sends
numbers, the child answers running sums).  The demo moves it 0 -> 1 -> 2 while it
runs; its system calls keep going to the same Unix server (its exception port moves
with it), so its file, its pipes and its child stay with it.  At the end the demo
checks the file it wrote, every answer of its child, and its exit status.
"""

from __future__ import annotations

import os
import re
import tempfile
import time

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from .. import Cluster, KernError
from .demo import Lines, _counters, _drain

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo_linux.c")
NAME = "demo_linux"
ROUNDS = 30
LOG = "demo.log"                # the file the program writes in its "/"


def expected_log(rounds: int) -> str:
    """What demo_linux.c writes to demo.log in `rounds` rounds."""
    return "".join(f"round {i}: sum of 1..{i} is {i * (i + 1) // 2}\n" for i in range(1, rounds + 1))


def _build(con: Console, folder: str) -> bytes | None:
    """The program's ELF image, built in `folder` (None, said, if it cannot be built)."""
    from ..guest.build import GuestBuildError, compile_linux
    exe = os.path.join(folder, NAME)
    t0 = time.monotonic()
    with con.status("building the program with musl (zig's clang; the first build can take "
                    "a minute)..."):
        try:
            compile_linux(exe, [SOURCE])
        except GuestBuildError as e:
            con.print(f"[red]cannot build the demo program: {e}[/red]")
            return None
    con.print(f"built {NAME}.c as a static Linux (musl) executable in {time.monotonic() - t0:.1f} s")
    with open(exe, "rb") as f:
        return f.read()


def _hop(con: Console, c: Cluster, program, lines: Lines, node: int, after_lines: int) -> list:
    """Let the program print `after_lines` lines, move it to `node`; its row of the table."""
    lines.wait_for(after_lines)
    pages_in, pushed = _counters(c, node)
    m = c.migrate(program, node)
    con.print(f"[bold cyan]>> moved from node {m.source} to node {m.node}[/bold cyan]: frozen "
              f"{m.freeze_s * 1e3:.0f} ms, {m.threads} threads and {m.rights} port names moved")
    left = _drain(con, m.task)
    pages_in2, pushed2 = _counters(c, node)
    fetched = (pages_in2 - pages_in) - (pushed2 - pushed)
    return [f"{m.source} -> {m.node}", f"{m.freeze_s * 1e3:.0f} ms", str(m.threads),
            str(fetched), str(pushed2 - pushed), str(left)]


def _check_answers(text: str, rounds: int) -> tuple[int, int]:
    """(answers seen, answers wrong) in the program's output."""
    seen = wrong = 0
    for m in re.finditer(r"^round (\d+): sent (\d+), child answered (\d+)", text, re.M):
        i, sent, got = map(int, m.groups())
        seen += 1
        wrong += sent != i or got != i * (i + 1) // 2
    return seen, wrong


def run(con: Console | None = None, rounds: int = ROUNDS, hops=(1, 2)) -> int:
    """The demo; returns 0 if the program ended with status 0 after moving, its file and
    its child's answers are right, and every kernel invariant holds."""
    con = con or Console()
    con.print(Panel(
        "[bold]normach[/bold]: a Mach multicomputer in Python, running Linux programs.\n"
        "An ordinary C program (built against musl, nothing of normach in it) runs under "
        "the [bold]Unix server[/bold]: its system calls are Mach exceptions, served in "
        "Python. It writes a file and talks through pipes with a child it forked, while "
        "we move it from node to node: its files, pipes and child stay with it.",
        expand=False))
    try:
        with tempfile.TemporaryDirectory(prefix="normach-demo-linux-") as folder:
            return _run(con, folder, rounds, hops)
    except (KernError, OSError) as e:        # a move refused, the program stuck, no file
        con.print(f"[red]demo failed: {e}[/red]")
        return 1


def _run(con: Console, folder: str, rounds: int, hops) -> int:
    exe = _build(con, folder)
    if exe is None:
        return 1
    root = os.path.join(folder, "root")
    os.mkdir(root)
    t0 = time.monotonic()
    with Cluster(nodes=3) as c:
        lines = Lines(con)
        before = {(r["node"], r["id"]) for r in c.ps()}
        p = c.spawn_image(exe, NAME, args=[str(rounds)], node=0, sink=lines, root=root)
        con.print(f"started {NAME} on node 0 ({rounds} rounds, 0.1 s each), its \"/\" a "
                  "temporary folder")
        rows = [_hop(con, c, p, lines, node, 3 + 8 * i) for i, node in enumerate(hops)]
        tasks = [(r["node"], r["name"]) for r in c.ps()
                 if r["active"] and r["threads"] and (r["node"], r["id"]) not in before]
        status = c.wait(p, timeout=300)
        problems = c.audit()
        output = bytes(p.out.data).decode(errors="replace")
        node = p.node
    with open(os.path.join(root, LOG)) as f:
        log = f.read()
    table = Table("move", "frozen", "threads", "pages fetched on touch", "pages pushed",
                  "pages left behind", title="each move")
    for r in rows:
        table.add_row(*r)
    con.print(table)
    children = sorted({n for n, name in tasks if name != NAME})
    con.print(f"where it ran: started on node 0, moved to node {', then '.join(map(str, hops))}, "
              f"ended on node {node}"
              + (f"; its child stayed on node {', '.join(map(str, children))}, where it was "
                 "forked: the pipes between them cross nodes" if children else ""))
    seen, wrong = _check_answers(output, rounds)
    file_ok = log == expected_log(rounds)
    con.print(f"the child's answers: {seen} of {rounds} received, {wrong} wrong")
    con.print(f"{LOG}: {len(log.splitlines())} lines, "
              + ("as expected" if file_ok else "[red]not what the program wrote[/red]"))
    child_ok = "child exited with status 0" in output
    con.print(f"the program exited with status {status}"
              + ("; its child with status 0" if child_ok else "; [red]its child failed[/red]"))
    for problem in problems:
        con.print(f"[red]{problem}[/red]")
    moved = node == hops[-1]
    ok = status == 0 and seen == rounds and wrong == 0 and file_ok and child_ok and moved \
        and not problems
    if ok:
        con.print(f"[green]the Linux program moved twice and finished as unmoved; all kernel "
                  f"invariants hold[/green] (demo took {time.monotonic() - t0:.1f} s)")
    else:
        con.print("[red]demo failed: the program did not finish as it would unmoved[/red]")
    return 0 if ok else 1
