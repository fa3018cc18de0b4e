"""Tables the CLI prints (rich)."""

from __future__ import annotations

from rich.table import Column, Table


def ps_table(rows: list[dict], title: str | None = None) -> Table:
    """`normach ps`: a row per task; RESIDENT pages are on its node, ELSEWHERE pages of its
    shared memory are still held by other nodes (they follow on the next touch), LOST
    pages died with a node (touching them is KERN_MEMORY_ERROR)."""
    programs = any(r.get("program") for r in rows)       # the column only if it says something
    t = Table("NODE", "TASK", *(["PROGRAM"] if programs else []),
              Column("NAME", no_wrap=True, min_width=10), "THREADS", "PORTS",
              "VM", "RESIDENT", "ELSEWHERE", "LOST", title=title)
    for r in rows:
        kib = r["page_kib"]
        t.add_row(str(r["node"]), str(r["id"]), *([r.get("program", "")] if programs else []),
                  r["name"], str(r["threads"]), str(r["ports"]),
                  f"{r['vm_kib']} KiB", f"{r['resident']} ({r['resident'] * kib} KiB)",
                  f"{r['elsewhere']} ({r['elsewhere'] * kib} KiB)", str(r.get("lost", 0)))
    return t


def status_table(rows: list[dict]) -> Table:
    """`normach status`: a row per node."""
    t = Table("NODE", "STATE", "INCARN.", "ADDRESS", "UP", "TASKS", "PROGS", "MEMORY MiB",
              "PAGES IN", "OUT", "CLIENTS")
    for r in rows:
        if r["state"] != "up":
            t.add_row(str(r["node"]), r["state"], *[""] * 9)
            continue
        t.add_row(str(r["node"]), r["state"], f"{r['incarnation']:016x}"[:8],
                  r["address"].removeprefix("tcp://"), f"{r['uptime_s']:.0f}s", str(r["tasks"]),
                  str(r["programs"]), f"{r['memory_used'] >> 20}/{r['memory_limit'] >> 20}",
                  str(r["pages_in"]), str(r["pages_out"]), str(r["clients"]))
    return t
