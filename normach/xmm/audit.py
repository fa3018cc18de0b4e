"""The coherence audit: invariants X4.6-X4.11 checked across every node at once.

Run on an embedded cluster (all kernels in this process) at a quiet moment,
with every node's kernel lock taken in node order.  For each page of each
manager that no request is busy with:

  X4.6/X4.7  at most one kernel holds WRITE, and then no other holds anything;
  reality    every kernel that holds a page with some access is known to the
             manager with at least that access (the manager may know of readers
             that silently dropped clean copies: X4.11 allows it);
  X4.9       no kernel holds page data with zero access;
  X4.10      a kernel holding WRITE holds the page precious (dirty);
  X4.11      with no writer, every reader's copy equals the page's content at
             the manager (its store copy, or zeros), so no write was lost.
"""

from __future__ import annotations

from .. import param
from .client import WRITE

ZEROS = bytes(param.PAGE_SIZE)


def audit_xmm(kernels) -> list[str]:
    """Violations of X4.6-X4.11 across `kernels` (every node of an embedded cluster)."""
    kernels = [k for k in sorted(kernels, key=lambda k: k.node) if k.xmm is not None]
    for k in kernels:
        k.lock.acquire()
    try:
        errs = []
        for k in kernels:
            for p in k.xmm.pagers.values():
                errs += _audit_client(k, p)
            for mgr in k.xmm.managers.values():
                errs += _audit_manager(kernels, mgr)
        return errs
    finally:
        for k in reversed(kernels):
            k.lock.release()


def _audit_client(kernel, p) -> list[str]:
    errs, obj = [], p.obj
    if obj is None:
        return errs
    for off, page in obj.pages.items():
        acc = p.granted(obj, off)
        where = f"node {kernel.node} xmm {p.xid} page {off:#x}"
        if not acc:
            errs.append(f"{where}: data held with no access (X4.9)")
        if acc & WRITE and not page.dirty:
            errs.append(f"{where}: written page not precious (X4.10)")
    return errs


def _audit_manager(kernels, mgr) -> list[str]:
    errs = []
    by_node = {k.node: k for k in kernels}
    for off, st in mgr.pages.items():
        if st.busy:
            continue
        where = f"xmm {mgr.xid} page {off:#x}"
        writers = [n for n, h in st.holders.items() if h[0] & WRITE]
        if len(writers) > 1 or (writers and len(st.holders) > 1):
            errs.append(f"{where}: writer {writers} beside other holders {sorted(st.holders)} (X4.6)")
        truth = mgr.store.get(off)
        for node, k in by_node.items():
            p = k.xmm.pagers.get(mgr.xid)
            if p is None or p.obj is None or off not in p.obj.pages:
                continue
            acc = p.granted(p.obj, off)
            known = st.holders.get(node, [0])[0]
            if acc & ~known:
                errs.append(f"{where}: node {node} holds access {acc}, manager knows {known}")
            if not writers and truth is not None and off not in mgr.lost:
                data = bytes(k.phys.frame_view(p.obj.pages[off].frame))
                if data != truth:
                    errs.append(f"{where}: node {node}'s read copy differs from the store (X4.11)")
    return errs
