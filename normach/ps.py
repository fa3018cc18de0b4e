"""What `normach ps` shows: one row per task, from the kernels' own state.

Besides the usual columns (node, id, name, threads, virtual size), each row
says where the task's memory is: pages resident on its node, and pages of its
shared regions that are still held elsewhere (by other nodes, or by the
manager of the memory) and would come over on the next touch.  Right after a
teleport most pages are "elsewhere"; they drain as the task touches them and
as the background push moves them (xmm/push.py).
"""

from __future__ import annotations

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
            "lost": lost, "page_kib": param.PAGE_SIZE // 1024, "active": task.active}


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


COLUMNS = ("node", "id", "name", "threads", "ports", "vm_kib", "resident", "elsewhere", "lost")
KEYS = COLUMNS + ("page_kib", "active")


def to_wire(rows: list[dict]) -> list:
    return [[r[k] for k in KEYS] for r in rows]


def from_wire(rows: list) -> list[dict]:
    return [dict(zip(KEYS, r)) for r in rows if isinstance(r, list) and len(r) == len(KEYS)]
