"""`normach top`: a live view of a running cluster's tasks and where their memory is.

It refreshes the `normach ps` table (a row per task on every node: threads,
port names, pages resident, held elsewhere, lost) with a line per node on top,
so a migration shows as a task leaving one node and its ELSEWHERE pages
draining to 0 on the next.
"""

from __future__ import annotations

import time

from rich.console import Group
from rich.live import Live
from rich.table import Table

from .table import ps_table


def node_table(rows: list[dict], nnodes: int) -> Table:
    """A line per node: tasks, threads, pages resident and pages its tasks miss."""
    t = Table("NODE", "TASKS", "THREADS", "RESIDENT", "ELSEWHERE", title="nodes")
    for n in range(nnodes):
        mine = [r for r in rows if r["node"] == n]
        t.add_row(str(n), str(len(mine)), str(sum(r["threads"] for r in mine)),
                  str(sum(r["resident"] for r in mine)), str(sum(r["elsewhere"] for r in mine)))
    return t


def view(c) -> Group:
    rows = c.ps()
    return Group(node_table(rows, c.nnodes),
                 ps_table(rows, title=f"tasks at {time.strftime('%H:%M:%S')}"))


def top(c, interval: float, count: int | None, console) -> None:
    """Refresh every `interval` s, `count` times (None: until Ctrl-C)."""
    shown = 0
    with Live(view(c), console=console, refresh_per_second=4) as live:
        while count is None or shown < count:
            time.sleep(interval)
            live.update(view(c))
            shown += 1
