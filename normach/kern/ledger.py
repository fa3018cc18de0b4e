"""Resource limits of a task (its ledger).

A ledger holds the limits a task may not exceed: bytes of virtual memory and
number of threads.  A child task gets a copy of its parent's ledger at
task_create (spec §1.6: resource limits are drawn from the parent), so limits
set on a task bound its whole future descendance.  Exceeding a limit is
KERN_RESOURCE_SHORTAGE.  The ledger is a kernel object with its own port
(TASK_WIRED_LEDGER_PORT / TASK_PAGED_LEDGER_PORT name it).
"""

from __future__ import annotations

from .. import param


class Ledger:
    """Fields (kernel lock): vm_max (bytes), threads_max."""

    def __init__(self, kernel, vm_max: int = param.LEDGER_VM_DEFAULT,
                 threads_max: int = param.LEDGER_THREADS_DEFAULT):
        from ..ipc.port import ipc_kobject_alloc
        self.kernel = kernel
        self.vm_max = vm_max
        self.threads_max = threads_max
        self.port = ipc_kobject_alloc(kernel, self, "ledger")

    def copy(self) -> "Ledger":
        """A child's ledger: the same limits, its own object."""
        return Ledger(self.kernel, self.vm_max, self.threads_max)

    def destroy(self) -> None:
        from ..ipc.port import ipc_kobject_set
        ipc_kobject_set(self.port, None, None)

    def __repr__(self) -> str:
        return f"<Ledger vm_max={self.vm_max:#x} threads_max={self.threads_max}>"
