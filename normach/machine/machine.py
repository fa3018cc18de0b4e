"""The machine of one node: the CPUs running its threads.

A thread gets a CPU the first time it is runnable with a register state; the
CPU lives as long as the thread.  The machine also answers the pmap's
shootdown requests for every CPU that runs a task's threads.
"""

from __future__ import annotations

import collections

from .cpu import CPU
from .token import Token


class Machine:
    """Fields (kernel lock): cpus_by_pmap {Pmap: [CPU]}; token: who executes guest code."""

    def __init__(self, kernel):
        self.kernel = kernel
        self.token = Token()
        self.cpus_by_pmap: dict = collections.defaultdict(list)
        self.cpus_started = 0
        self.threads: list = []            # OS threads of every CPU started (joined at shutdown)
        self.panics: list[str] = []        # kernel bugs met in hooks (tracebacks); stays empty

    def thread_changed(self, thread) -> None:
        """A thread's run state or register state changed (kernel lock held)."""
        assert self.kernel.lock.held()
        cpu = thread.cpu
        if cpu is None:
            if thread.active and thread.runnable and thread.has_state:
                self._start(thread)
        else:
            cpu.thread_changed(thread)

    def _start(self, thread) -> None:
        cpu = CPU(self, thread)
        thread.cpu = cpu
        if cpu.pmap not in self.cpus_by_pmap:
            cpu.pmap.add_shootdown(self.shootdown)
        self.cpus_by_pmap[cpu.pmap].append(cpu)
        self.cpus_started += 1
        self.threads = [t for t in self.threads if t.is_alive()] + [cpu.os_thread]
        cpu.start()

    def join(self, timeout: float = 10.0) -> None:
        """Wait for every CPU's OS thread to end (kernel lock not held)."""
        for t in list(self.threads):
            t.join(timeout)

    def shootdown(self, pmap, vpns) -> None:
        """Flush every TLB that may hold `vpns` of `pmap`; return once none can be used.

        Conditions: kernel lock held.
        """
        waiting = [cpu for cpu in self.cpus_by_pmap.get(pmap, ()) if cpu.request_flush()]
        for cpu in waiting:
            cpu.wait_flushed()

    def cpu_exited(self, cpu) -> None:
        """The CPU's thread is gone (kernel lock held)."""
        cpus = self.cpus_by_pmap.get(cpu.pmap, [])
        if cpu in cpus:
            cpus.remove(cpu)
        if not cpus:
            self.cpus_by_pmap.pop(cpu.pmap, None)
            if self.shootdown in cpu.pmap.shootdown:
                cpu.pmap.shootdown.remove(self.shootdown)
        if cpu.thread.cpu is cpu:
            cpu.thread.cpu = None

    def deliver_exception(self, cpu, exc: int, codes: list) -> None:
        """Raise a Mach exception for the CPU's thread (kernel lock not held)."""
        from ..kern.exception import exception_raise
        exception_raise(cpu.thread, exc, codes, cpu)

    def running(self) -> list:
        return [c for cpus in self.cpus_by_pmap.values() for c in cpus]
