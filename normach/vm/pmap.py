"""The pmap: a task's hardware-level view of its address space.

A pmap maps a virtual page number to (frame, protection).  Only the fault path
adds translations (`pmap_enter`); everything that takes access away — vm_protect,
vm_deallocate, copy-on-write write-protection, pageout, and later DSM
invalidation — goes through `pmap_remove`, `pmap_protect` or `pmap_page_protect`,
which all end in `Pmap.revoke`.  That one funnel is where CPUs are told to drop
stale TLB entries: anything that caches translations registers a shootdown
callback with `add_shootdown`, and `revoke` calls each before returning, so when
a revocation returns no cached translation grants more than the pmap does.
"""

from __future__ import annotations

from .. import param

PROT_READ, PROT_WRITE, PROT_EXECUTE = 1, 2, 4


class Pmap:
    """Translations of one address space.

    Fields (kernel lock): entries {vpn: (frame, prot)}; shootdown callbacks
    (called with (pmap, vpns) after every revocation); dead (destroyed: its pairs
    still in the frames' pv sets are stale and dropped when next seen); stats.
    """

    def __init__(self, phys):
        self.phys = phys
        self.entries: dict[int, tuple[int, int]] = {}
        self.dead = False
        self.shootdown: list = []
        self.revocations = 0

    def add_shootdown(self, callback) -> None:
        self.shootdown.append(callback)

    def revoke(self, vpns) -> None:
        """Tell every translation cache that `vpns` lost access (the one funnel)."""
        if not vpns:
            return
        self.revocations += 1
        for cb in self.shootdown:
            cb(self, vpns)

    def lookup(self, va: int):
        """(frame, prot) for the page holding `va`, or None."""
        return self.entries.get(va >> param.PAGE_SHIFT)

    @property
    def resident(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"<Pmap {len(self.entries)} pages>"


def pmap_enter(pmap: Pmap, va: int, frame: int, prot: int) -> None:
    """Map the page of `va` to `frame` with `prot`, replacing any old translation.

    Conditions: kernel lock held.
    """
    assert pmap.phys.kernel.lock.held() and not pmap.dead
    vpn = va >> param.PAGE_SHIFT
    old = pmap.entries.get(vpn)
    if old is not None and old[0] != frame:
        pmap.phys.pv[old[0]].discard((pmap, vpn))
        pmap.entries[vpn] = (frame, prot)
        pmap.phys.pv[frame].add((pmap, vpn))
        pmap.revoke([vpn])
        return
    pmap.entries[vpn] = (frame, prot)
    pmap.phys.pv[frame].add((pmap, vpn))
    if old is not None and old[1] & ~prot:
        pmap.revoke([vpn])


def pmap_remove(pmap: Pmap, start: int, end: int) -> None:
    """Remove every translation in [start, end).  Conditions: kernel lock held."""
    assert pmap.phys.kernel.lock.held()
    gone = []
    for vpn in _vpns_in(pmap, start, end):
        frame, _ = pmap.entries.pop(vpn)
        pmap.phys.pv[frame].discard((pmap, vpn))
        gone.append(vpn)
    pmap.revoke(gone)


def pmap_protect(pmap: Pmap, start: int, end: int, prot: int) -> None:
    """Reduce translations in [start, end) to at most `prot` (0 removes).

    Conditions: kernel lock held.
    """
    assert pmap.phys.kernel.lock.held()
    if prot == 0:
        pmap_remove(pmap, start, end)
        return
    changed = []
    for vpn in _vpns_in(pmap, start, end):
        frame, old = pmap.entries[vpn]
        if old & ~prot:
            pmap.entries[vpn] = (frame, old & prot)
            changed.append(vpn)
    pmap.revoke(changed)


def pmap_page_protect(phys, frame: int, prot: int) -> None:
    """Reduce every mapping of `frame`, in every pmap, to at most `prot` (0 removes).

    Conditions: kernel lock held.
    """
    assert phys.kernel.lock.held()
    for pmap, vpn in list(phys.pv.get(frame, ())):
        if pmap.dead:
            phys.pv[frame].discard((pmap, vpn))
            continue
        f, old = pmap.entries[vpn]
        assert f == frame
        if prot == 0:
            del pmap.entries[vpn]
            phys.pv[frame].discard((pmap, vpn))
            pmap.revoke([vpn])
        elif old & ~prot:
            pmap.entries[vpn] = (frame, old & prot)
            pmap.revoke([vpn])


def pmap_destroy(pmap: Pmap) -> None:
    """Remove every translation, in constant time: the pmap is marked dead and the
    frames' reverse maps forget it lazily (a task with a large resident set exits, or
    is teleported away, without a walk over its pages).  Conditions: kernel lock held."""
    assert pmap.phys.kernel.lock.held()
    if pmap.entries:
        pmap.revoke([next(iter(pmap.entries))])        # CPUs flush their whole TLB
        pmap.entries.clear()
    pmap.dead = True


def _vpns_in(pmap: Pmap, start: int, end: int) -> list[int]:
    lo, hi = start >> param.PAGE_SHIFT, (end + param.PAGE_SIZE - 1) >> param.PAGE_SHIFT
    if hi - lo > len(pmap.entries):
        return [v for v in pmap.entries if lo <= v < hi]
    return [v for v in range(lo, hi) if v in pmap.entries]
