"""vm_statistics counters of one node."""

from dataclasses import asdict, dataclass, fields

from .. import param


@dataclass
class VMStatistics:
    """Counters kept by the node's VM (guarded by the kernel lock)."""

    zero_fill_count: int = 0   # pages created zero-filled
    reactivations: int = 0     # (kept for the Mach layout; always 0: no inactive queue)
    pageins: int = 0           # pages read back from a pager
    pageouts: int = 0          # pages written to a pager to free a frame
    faults: int = 0            # calls of vm_fault
    cow_faults: int = 0        # pages copied for copy-on-write
    lookups: int = 0           # object page lookups
    hits: int = 0              # lookups that found the page resident
    pushes: int = 0            # pages pushed into a copy object (copy-delay)
    fault_restarts: int = 0    # faults started over after waiting for another node

    def snapshot(self, phys) -> dict:
        """The vm_statistics record: the counters, then the node's page counts, in the
        order of RECORD (the guest's vm_statistics_data_t is generated from it)."""
        d = asdict(self)
        wired = phys.wired_count
        d.update(pagesize=param.PAGE_SIZE, free_count=phys.free_count,
                 active_count=phys.nframes - phys.free_count - wired, inactive_count=0,
                 wire_count=wired)
        assert tuple(d) == RECORD
        return d


# The fields of vm_statistics as a guest receives them (u64 each), in order: the one
# declaration the guest header (guest/gen.py) and the kernel share.
RECORD = tuple(f.name for f in fields(VMStatistics)) + (
    "pagesize", "free_count", "active_count", "inactive_count", "wire_count")
