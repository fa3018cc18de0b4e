"""What `normach ps` shows: one row per task, from the kernels' own state.

Besides the usual columns (node, id, name, threads, virtual size), each row
says where the task's memory is: pages resident on its node, and pages of its
shared regions that are still held elsewhere (by other nodes, or by the
manager of the memory) and would come over on the next touch.  Right after a
teleport most pages are "elsewhere"; they drain as the task touches them and
as the background push moves them (xmm/push.py).
"""

from __future__ import annotations

import os

from . import param
from .kern.task import task_memory_absent


def task_rows(kernel) -> list[dict]:
    """A row per live task of `kernel` (the ask for remote pages releases the lock)."""
    rows = []
    with kernel.lock:
        tasks = sorted(kernel.tasks, key=lambda t: t.id)
        for t in tasks:
            rows.append(_row(kernel, t))
    return rows


def _row(kernel, task) -> dict:
    """Conditions: kernel lock held (released while managers on other nodes answer)."""
    elsewhere, lost = task_memory_absent(task, unknown_ok=True)   # a down manager: unknown
    return {"node": kernel.node, "id": task.id, "name": task.name,
            "threads": len(task.threads), "ports": len(task.itk_space.entries),
            "vm_kib": task.map.size // 1024,
            "resident": sum(_resident(e) for e in task.map.entries), "elsewhere": elsewhere,
            "lost": lost, "page_kib": param.PAGE_SIZE // 1024, "active": task.active,
            "port": list(task.itk_self.uid), "program": ""}


def _resident(entry) -> int:
    """Pages of `entry` resident on this node (in its object or any object below)."""
    page, n = param.PAGE_SIZE, entry.size // param.PAGE_SIZE
    seen: set[int] = set()
    obj, off = entry.object, entry.offset
    while obj is not None:
        if len(obj.pages) < n:
            seen.update(p - off for p in obj.pages if off <= p < off + entry.size)
        else:
            seen.update(p - off for p in range(off, off + entry.size, page) if p in obj.pages)
        off += obj.shadow_offset
        obj = obj.shadow
    return len(seen)


def node_stats(kernel) -> dict:
    """What a node holds: tasks, threads, ports, DIPC and XMM tables, its memory budget,
    and its process's resident memory (shared by every node of an embedded cluster)."""
    import gc
    from .handles import release_orphans
    gc.collect()                                  # ports only cycles still hold
    with kernel.lock:
        release_orphans(kernel)
        remote, xmm, mem = kernel.remote, kernel.xmm, kernel.memory
        return {"node": kernel.node, "tasks": len(kernel.tasks),
                "threads": sum(len(t.threads) for t in kernel.tasks),
                "ports": len(kernel.ipc.ports),
                "principals": len(remote.principals) if remote is not None else 0,
                "proxies": len(remote.proxies) if remote is not None else 0,
                "xmm_managers": len(xmm.managers) if xmm is not None else 0,
                "memory_limit": mem.limit, "memory_used": mem.limit - mem.pool - mem.free,
                "free_frames": kernel.phys.free_count, "rss_bytes": rss_bytes()}


def rss_bytes() -> int:
    """This process's resident memory (0 where /proc is not there)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


COLUMNS = ("node", "id", "name", "threads", "ports", "vm_kib", "resident", "elsewhere", "lost")
KEYS = COLUMNS + ("page_kib", "active", "port", "program")
# "port": the uid of the task's port; "program": the id (HOME-K) of the program it runs, if any


def to_wire(rows: list[dict]) -> list:
    return [[r[k] for k in KEYS] for r in rows]


def from_wire(rows: list) -> list[dict]:
    return [dict(zip(KEYS, r)) for r in rows if isinstance(r, list) and len(r) == len(KEYS)]
