"""Tables the CLI prints (rich)."""

from __future__ import annotations

from rich.table import Table


def ps_table(rows: list[dict], title: str | None = None) -> Table:
    """`normach ps`: a row per task; RESIDENT pages are on its node, ELSEWHERE pages of its
    shared memory are still held by other nodes (they follow on the next touch), LOST
    pages died with a node (touching them is KERN_MEMORY_ERROR)."""
    t = Table("NODE", "TASK", "NAME", "THREADS", "PORTS", "VM", "RESIDENT", "ELSEWHERE", "LOST",
              title=title)
    for r in rows:
        kib = r["page_kib"]
        t.add_row(str(r["node"]), str(r["id"]), r["name"], str(r["threads"]), str(r["ports"]),
                  f"{r['vm_kib']} KiB", f"{r['resident']} ({r['resident'] * kib} KiB)",
                  f"{r['elsewhere']} ({r['elsewhere'] * kib} KiB)", str(r.get("lost", 0)))
    return t
