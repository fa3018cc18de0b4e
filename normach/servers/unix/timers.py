"""Calls that end at a time (nanosleep, a poll or futex wait with a timeout).

A timer thread sleeps until the earliest deadline and then wakes the server
thread with a message on the server's own wake-up port, so that every change
to a process is made by the server thread alone.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time

from ... import mach
from ...ipc.message import Message
from ...errors import KernError
from ...mach_types import MsgOption, MsgType, PortRight

WAKE_ID = 0x55580001
FOREVER = 100 * 365 * 86400.0    # the longest deadline kept (a guest may ask for 2**63 s)
WAIT_MAX = 3600.0                # the longest the timer thread sleeps at once (threading's limit)
COMPACT_MIN = 64                 # cancelled deadlines kept in the heap before it is compacted


class Timers:
    """Deadlines [(when, seq, fn, cancelled-cell)], guarded by `cond`."""

    def __init__(self, server):
        self.server = server
        self.port = mach.mach_port_allocate(server.task, PortRight.RECEIVE)
        mach.mach_port_move_member(server.task, self.port, server.pset)
        mach.mach_port_insert_right(server.task, self.port, self.port, MsgType.MAKE_SEND)
        self.cond = threading.Condition()
        self.heap: list = []
        self.seq = itertools.count()
        self.posted = False          # a wake-up message is on its way
        self.cancelled = 0           # entries of `heap` cancelled, not yet removed
        threading.Thread(target=self._run, daemon=True, name=f"{server.thread.name}-timers").start()

    def after(self, seconds: float, fn) -> list:
        """Run fn() on the server thread in `seconds` (at most FOREVER: a guest's timeout
        of centuries).  Returns a cell: cancel(cell)."""
        cell = [False]
        with self.cond:
            heapq.heappush(self.heap, (time.monotonic() + min(max(seconds, 0.0), FOREVER),
                                       next(self.seq), fn, cell))
            self.cond.notify()
        return cell

    def cancel(self, cell) -> None:
        """The deadline of `cell` will not run.  Its entry leaves the heap at once when
        cancelled ones are most of it, so that waits woken before their timeout (a guest
        can make them without end) hold nothing once answered."""
        if cell is None or cell[0]:
            return
        cell[0] = True
        with self.cond:
            self.cancelled += 1
            if self.cancelled > COMPACT_MIN and 2 * self.cancelled > len(self.heap):
                self.heap = [e for e in self.heap if not e[3][0]]
                heapq.heapify(self.heap)
                self.cancelled = 0

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.heap or self.posted:
                    self.cond.wait(None if not self.heap else 0.05)
                delay = self.heap[0][0] - time.monotonic()
                if delay > 0:
                    self.cond.wait(min(delay, WAIT_MAX))
                    continue
                self.posted = True
            try:
                mach.mach_msg_send(self.server.task, Message(remote_port=self.port,
                                                             remote_disp=MsgType.COPY_SEND,
                                                             id=WAKE_ID, body=[]),
                                   MsgOption.SEND_TIMEOUT, 0)
            except KernError:
                return                          # the server is gone

    def due(self) -> None:
        """On the server thread, at a wake-up message: run what is due."""
        now = time.monotonic()
        ready = []
        with self.cond:
            self.posted = False
            while self.heap and self.heap[0][0] <= now:
                _when, _s, fn, cell = heapq.heappop(self.heap)
                if cell[0]:
                    self.cancelled = max(self.cancelled - 1, 0)
                else:
                    cell[0] = True               # run: a later cancel() counts nothing
                    ready.append(fn)
            self.cond.notify()
        for fn in ready:
            fn()
