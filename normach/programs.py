"""The programs a node process started, followed wherever they move.

`normach run` on a running cluster asks a node (the program's *home*) to load a
program; the home gives it an id, `HOME-K`, that names it for good: `logs`,
`wait`, `kill` and `migrate` go to the home, whichever node the program's task
is on by then.  Three things make that work:

- The console.  A program's console port names its home's console server, and
  a migration moves it as any send right; so the output of a program that moved
  still arrives at the home, which streams it to whoever follows (`follow`).
- Migrations run at the home.  `migrate_self` is served by the home's console
  server, and `ctl_migrate` of a program is sent to its home, so every move of
  a program runs in its home's process, whose migration listener (`migrated`)
  switches the record to the new task.  Nothing the moved task needs lives in
  the client that asked: the client may exit, or be killed, at once.
- Exits.  A task that ends on another node leaves its status there for a
  while (`Kernel.exits`, by the uid of its task port), where the home asks for
  it (`ctl_exit`): an exit is never missed because it happened before the home
  asked.

A program that ended is forgotten when PROGRAMS_KEPT newer ones have ended
since; until then it keeps its status and the last ENDED_OUTPUT_KEPT bytes of
its output for `wait` and `logs`.
"""

from __future__ import annotations

import collections
import threading
import time

from . import param
from .errors import KernError, KernReturn


class Program:
    """One program started here.  Every field is guarded by ProgramTable.lock."""

    def __init__(self, k: int, name: str, handle, task, thread, out):
        self.k = k
        self.name = name
        self.handle = handle          # a Task handle in this node's kernel (a proxy once moved)
        self.task = task              # the kernel Task while it is here, else None
        self.thread = thread          # its first thread (ctl_resume), None once resumed
        self.out = out                # its console Output (servers/console.py)
        self.migrating = 0            # migrations of its task under way
        self.moves = 0                # migrations done
        self.exit = None              # (status, reason) once it ended

    @property
    def node(self) -> int:
        port = self.handle.port
        return port.proxy[1] if port.proxy is not None else port.uid[0]

    @property
    def uid(self) -> list:
        """The uid of its task's port (what ps rows carry as "port")."""
        return list(port_uid(self.handle.port))

    def __repr__(self) -> str:
        state = "running" if self.exit is None else f"exited {self.exit[0]}"
        return f"<Program {self.k} {self.name} node={self.node} moves={self.moves} {state}>"


class ProgramTable:
    """The programs of one node process (`NodeProcess.programs`)."""

    def __init__(self, kernel, net):
        self.kernel = kernel
        self.net = net
        self.lock = threading.Lock()       # guards table, ended and every Program's fields
        self.table: dict[int, Program] = {}
        self.ended: collections.deque = collections.deque()   # ks in the order they ended
        self.moves: collections.OrderedDict = collections.OrderedDict()
        # old task port uid -> new task port uid, of the last EXITS_KEPT migrations run here
        self.moving: collections.Counter = collections.Counter()   # task uid -> under way
        self.settled = threading.Condition(self.lock)   # notified when a migration ends here
        self.next_k = 0

    def add(self, name: str, task, thread, out) -> Program:
        from .handles import Task
        from .ipc.port import ipc_port_make_send
        with self.kernel.lock:
            handle = Task(ipc_port_make_send(task.itk_self))
        with self.lock:
            p = Program(self.next_k, name, handle, task, thread, out)
            self.table[p.k] = p
            self.next_k += 1
        return p

    def get(self, k) -> Program:
        """Raises: KERN_INVALID_ARGUMENT (no such program here, or forgotten)."""
        with self.lock:
            p = self.table.get(k) if type(k) is int else None
        if p is None:
            raise KernError(KernReturn.KERN_INVALID_ARGUMENT,
                            f"no program {self.kernel.node}-{k}")
        return p

    def rows(self) -> list:
        """[k, name, node, port uid, done, status] per program (ps, logs); a program on
        another node is looked for first (it may have moved on, or ended)."""
        with self.lock:
            away = [p for p in self.table.values() if p.exit is None and p.task is None]
        for p in away:
            try:
                self.state(p, 0)
            except KernError:
                pass                                 # its node is down: as it was
        with self.lock:
            return [[p.k, p.name, p.node, p.uid, p.exit is not None,
                     p.exit[0] if p.exit else 0] for p in self.table.values()]

    # -- following migrations ------------------------------------------------------------
    def migrated(self, event: str, old, m) -> None:
        """A migration listener (servers/migration.py): a program follows its task, and
        where any task moved from here is kept (`successor`)."""
        port = getattr(old, "port", None)
        if port is None:
            return
        with self.lock:
            if event == "start":
                self.moving[port_uid(port)] += 1
            else:
                self._unmark(port_uid(port), m.task.port if event == "done" else None)
            p = next((p for p in self.table.values() if p.handle.port is port), None)
            if p is None:
                return
            if event == "start":
                p.migrating += 1
                return
            p.migrating -= 1
            if event != "done":
                return
            old_handle, p.handle, p.moves = p.handle, m.task, p.moves + 1
            m.adopted = True                         # the program holds the new task's handle
            p.task = _local_task(m.task)
        old_handle.deallocate()

    def _unmark(self, uid: tuple, new) -> None:
        """A migration of the task `uid` ended (moved to the port `new`, or failed).
        Conditions: self.lock held."""
        self.moving[uid] -= 1
        if self.moving[uid] <= 0:
            del self.moving[uid]
        self.settled.notify_all()
        if new is not None:
            self.moves[uid] = port_uid(new)
            while len(self.moves) > param.EXITS_KEPT:
                self.moves.popitem(last=False)

    def successor(self, uid: tuple, wait_s: float = 0.0) -> tuple | None:
        """The uid of the task that the task `uid` (which ended) moved to, if it moved;
        a migration of it under way here is waited for (its old task ends at the commit,
        a moment before the migration is done)."""
        uid = tuple(uid)
        with self.lock:
            self.settled.wait_for(lambda: uid not in self.moving, wait_s)
            return self.moves.get(uid)

    # -- its end -------------------------------------------------------------------------
    def state(self, p: Program, wait_s: float) -> tuple | None:
        """Wait up to `wait_s` for `p` to end; returns (status, reason) once it has."""
        if p.exit is not None:
            return p.exit
        with self.lock:
            task, handle, migrating = p.task, p.handle, p.migrating
        if migrating:
            time.sleep(min(wait_s, 0.01))           # the move ends in milliseconds
            return None
        if task is not None:
            ended = self._local_end(task, wait_s)
        else:
            ended = self._remote_end(handle, wait_s)
        if ended is not None and ended[0] == "moved":   # moved by a migration run elsewhere
            ended = self._chase(p, handle, ended[1])
            if ended is None:
                return None
        gone = []
        with self.lock:
            if ended is None or p.handle is not handle or p.migrating:
                return None                          # still running, or it moved meanwhile
            if p.exit is None:
                p.exit = ended
                p.out.trim(param.ENDED_OUTPUT_KEPT)  # an ended program keeps its last words
                self.ended.append(p.k)
            while len(self.ended) > param.PROGRAMS_KEPT:
                gone.append(self.table.pop(self.ended.popleft()))
        for old in gone:
            old.handle.deallocate()                  # (no lock of ours held: it takes the kernel's)
        return p.exit

    def _local_end(self, task, wait_s: float):
        end = time.monotonic() + wait_s
        with self.kernel.lock:
            while task.active and time.monotonic() < end:
                self.kernel.task_events.wait(end - time.monotonic())
            if task.active:
                return None
            return (task.exit_status or 0, task.exit_reason)

    def _remote_end(self, handle, wait_s: float):
        from .dipc.control import ctl_exit
        uid, node = handle.port.proxy
        try:
            r = self.net.endpoint.request(node, ctl_exit(uid=list(uid),
                                                         timeout_ms=int(wait_s * 1000)),
                                          wait_s + param.DIPC_REQUEST_TIMEOUT)
        except KernError as e:
            if e.code == KernReturn.KERN_NODE_DOWN:
                return (128 + 9, f"its node {node} went down")
            raise
        if r.done and r.successor:
            return ("moved", tuple(r.successor))
        return (r.status, r.reason) if r.done else None

    def _chase(self, p: Program, old, uid: tuple):
        """`p`'s task moved to the task `uid` (perhaps on, and on again): take a send right
        to where it is now.  Returns: None (followed, or to be looked at again), or
        (status, reason) if it ended where it went."""
        from .dipc.control import ctl_exit, ctl_port
        for _ in range(param.MIGRATION_HOPS_MAX):
            try:
                r = self.net.endpoint.request(uid[0], ctl_port(uid=list(uid)),
                                              param.DIPC_REQUEST_TIMEOUT)
                self._adopt(p, old, r.uid)
                return None
            except KernError as e:
                if e.code != KernReturn.KERN_INVALID_ARGUMENT:
                    return (128 + 9, f"its node {uid[0]} went down") \
                        if e.code == KernReturn.KERN_NODE_DOWN else None
            try:                                     # ended there, or moved on
                r = self.net.endpoint.request(uid[0], ctl_exit(uid=list(uid), timeout_ms=0),
                                              param.DIPC_REQUEST_TIMEOUT)
            except KernError:
                return (128 + 9, f"its node {uid[0]} went down")
            if not r.successor:
                return (r.status, r.reason)
            uid = tuple(r.successor)
        return None

    def _adopt(self, p: Program, old, right: list) -> None:
        from .handles import Task
        from .mach_types import MsgType
        with self.kernel.lock:
            handle = Task(self.kernel.remote.import_right(right, MsgType.PORT_SEND))
        with self.lock:
            followed = p.handle is old               # (else another look followed it first)
            if followed:
                p.handle, p.task, p.moves = handle, _local_task(handle), p.moves + 1
        (old if followed else handle).deallocate()


def _local_task(handle):
    """The kernel Task behind a handle to a task of this node, else None."""
    port = handle.port
    return port.kobject if port.proxy is None else None


def port_uid(port) -> tuple:
    """The uid of the port a (local or proxy) port stands for."""
    return tuple(port.proxy[0] if port.proxy is not None else port.uid)


def task_by_uid(kernel, uid: tuple):
    """The task of `kernel` whose port is `uid` (alive or not yet reaped), or None.
    Conditions: kernel lock held."""
    assert kernel.lock.held()
    return next((t for t in kernel.tasks if t.itk_self.uid == uid), None)


def task_exit(kernel, uid, wait_s: float):
    """ctl_exit: wait up to `wait_s` for the task of this node whose port is `uid` to
    end.  Returns: (done, status, reason).  A task not known here, alive or recently
    ended, counts as ended with status 128+9 ("unknown")."""
    uid = tuple(uid)
    end = time.monotonic() + wait_s
    with kernel.lock:
        task = task_by_uid(kernel, uid)
        if task is not None:
            while task.active and time.monotonic() < end:
                kernel.task_events.wait(end - time.monotonic())
            if task.active:
                return False, 0, ""
            return True, task.exit_status or 0, task.exit_reason
        known = kernel.exits.get(uid)
    if known is not None:
        return (True, *known)
    return True, 128 + 9, "ended where its status was not kept"
