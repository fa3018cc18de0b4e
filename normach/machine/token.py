"""The execution token: which CPU of a node executes guest code.

unicorn has no multi-threaded TCG: an atomic instruction (`lock xadd`,
`xchg`, `cmpxchg`) is emulated as a plain load and store, so two CPUs running
at once on the same memory lose updates (measured: ~1% of increments lost by
four threads doing `__atomic_fetch_add`).  A node is therefore a time-sliced
uniprocessor, as most NORMA nodes were: a CPU holds the node's token while it
executes guest code, gives it up when it blocks in a trap or stops, and is
preempted after a time slice when another CPU waits.  The token is FIFO, so a
busy loop never starves anyone.  Nodes run in parallel (in one process, too:
unicorn releases the GIL while it emulates), and the coherence protocol keeps
memory shared across nodes single-writer, so atomics stay atomic everywhere.
"""

from __future__ import annotations

import collections
import threading
import time

from .. import param


class Token:
    """A FIFO lock held by one CPU at a time, with a preemption ticker.

    Fields (guarded by `cond`'s lock): holder (CPU or None), queue (waiting CPUs,
    in arrival order), since (when the holder took it), handoffs, preemptions.
    """

    def __init__(self):
        self.cond = threading.Condition(threading.Lock())
        self.holder = None
        self.queue: collections.deque = collections.deque()
        self.since = 0.0
        self.handoffs = 0
        self.preemptions = 0
        self._ticker = None

    def acquire(self, cpu) -> None:
        with self.cond:
            assert self.holder is not cpu, "token taken twice"
            self.queue.append(cpu)
            while self.holder is not None or self.queue[0] is not cpu:
                self.cond.wait()
            self.queue.popleft()
            self.holder = cpu
            self.since = time.monotonic()
            self.handoffs += 1
            if self.queue:
                self.cond.notify_all()
        self._start_ticker()

    def release(self, cpu) -> None:
        with self.cond:
            assert self.holder is cpu, "token released by a CPU that does not hold it"
            self.holder = None
            self.cond.notify_all()

    def held_by(self, cpu) -> bool:
        return self.holder is cpu

    # -- preemption ---------------------------------------------------------------------
    def _start_ticker(self) -> None:
        with self.cond:
            if self._ticker is not None:
                return
            self._ticker = threading.Thread(target=self._tick, daemon=True, name="token-ticker")
        self._ticker.start()

    def _tick(self) -> None:
        """Stop a holder that has run a whole slice while others wait; end when idle."""
        slice_s = param.CPU_TIME_SLICE_MS / 1000.0
        idle = 0
        while True:
            time.sleep(slice_s)
            with self.cond:
                holder, waiting = self.holder, bool(self.queue)
                overdue = holder is not None and time.monotonic() - self.since >= slice_s
                idle = idle + 1 if holder is None and not waiting else 0
                if idle >= 50:                      # half a second with no CPU: stop ticking
                    self._ticker = None
                    return
            if waiting and overdue:
                self.preemptions += 1
                holder.preempt()
