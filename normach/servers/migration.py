"""The migration manager: moving a running task to another node with Mach calls.

`norma_task_teleport` moves an address space, nothing else: the new task has no
threads, and its port name space holds only what any new task inherits.  A
process is more: threads in the middle of their work, and the rights the
program knows by name (its reply ports with messages waiting, its send rights
to servers, the name under which it caches its own task port).  The manager
moves all of it, as a user-level server would in Mach, from the calls anyone
holding the task's port may make:

  1. stop      task_suspend, then thread_abort on every thread: a mach_msg
               waiting in the kernel gives up (the guest library waits again,
               on the new node); other kernel calls finish first.
  2. capture   every thread's registers (each state flavor) and stop count.
  3. take out  every right of the name space, by name: receive rights (their
               queued messages move with them), send rights with their user
               references, send-once rights, port sets and their members, dead
               names.  Ports that name the task itself, its threads or its
               node's host are only noted: after the move the same names must
               denote the new task, its new threads and the new node's host.
  4. teleport  norma_task_teleport(task, TRUE, node): the child shares the
               whole address space, its pages follow on demand; the old task
               ends.  If this fails (the node is down), what was taken goes
               back under its name, the threads resume: the task runs on
               where it was.
  5. put back  every right under its old name in the child; the child's own
               port, its new threads' ports and the new node's host ports in
               place of the ones noted in step 3.
  6. threads   thread_create, thread_set_state for each flavor, and
               thread_resume down to the stop count each thread had.

The freeze time is from step 1 to step 6.  Listeners (`listeners`) hear of
each migration: the cluster uses this to follow a program to its new task.
"""

from __future__ import annotations

import dataclasses
import time

from .. import mach
from ..kern.errors import KernError, KernReturn
from ..mach_types import MsgType, PortRight, PortType, TaskInfoFlavor, ThreadStateFlavor
from ..norma.node import NORMA_HOST_PORT, NORMA_HOST_PRIV_PORT
FLAVORS = (ThreadStateFlavor.x86_THREAD_STATE64, ThreadStateFlavor.x86_FLOAT_STATE64)

_SUSPEND_COUNT = 6          # its place in THREAD_BASIC_INFO (a remote thread's record is a list)
listeners: list = []        # callables(event, old task handle, Migration | None); events
                            # "start" (before the teleport), "done", "failed"


@dataclasses.dataclass
class Migration:
    """What one migration did (the CLI and the demo print it)."""

    task: object                    # the new task (a Task handle)
    source: int
    node: int
    threads: int = 0
    rights: int = 0                 # names moved (receive, send, send-once, sets, dead)
    messages: int = 0               # messages queued on the receive rights moved
    freeze_s: float = 0.0           # the task stopped: suspend to resume


@dataclasses.dataclass
class _Name:
    """One name of the task's space, taken out (step 3)."""

    name: int
    type: int
    receive: object = None          # handle holding the receive right
    send: object = None             # handle holding one send right
    send_refs: int = 0
    sonce: object = None
    members: list = dataclasses.field(default_factory=list)   # a port set's member names
    dead_refs: int = 0
    kernel: tuple | None = None     # ("self" | "thread" | "host" | "host_priv", index)


def task_migrate(task, node: int) -> Migration:
    """Move `task` (a Task handle) with its threads and rights to `node`.

    Returns: a Migration whose `task` is the handle of the task on `node`.
    Raises: KERN_INVALID_ARGUMENT (bad node, or the task is already there),
    KERN_NODE_DOWN (the task keeps running where it was), KERN_MEMORY_ERROR (pages
    of its memory were lost with a node: it stays), the codes of task_suspend and
    norma_task_teleport.
    """
    t0 = time.perf_counter()
    host_priv = _host_priv(task)
    source = task.node
    if not isinstance(node, int) or isinstance(node, bool):
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"node {node!r}")
    if node == source:
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"the task is on node {node} already")
    mach.task_suspend(task)
    threads = mach.task_threads(task)
    names: list[_Name] = []
    try:
        _check_memory(task)
        states = [_capture(th) for th in threads]
        _take_out(task, threads, host_priv, names)
    except KernError:
        _restore(task, names)
        mach.task_resume(task)
        raise
    queued = sum(_queued(n) for n in names)
    _tell("start", task, None)
    try:
        child = mach.norma_task_teleport(task, True, node)
    except KernError:
        _restore(task, names)
        mach.task_resume(task)
        _tell("failed", task, None)
        raise
    try:
        _start_child(child, names, threads, states, host_priv, node)
    except KernError:                    # the new node failed meanwhile: the task is lost
        _tell("failed", task, None)
        raise
    m = Migration(child, source, node, threads=len(threads), rights=len(names),
                  messages=queued, freeze_s=time.perf_counter() - t0)
    _tell("done", task, m)
    return m


def _start_child(child, names, threads, states, host_priv, node: int) -> None:
    """Steps 5 and 6: the rights under their names, the threads with their states."""
    new_threads = [mach.thread_create(child) for _ in threads]
    _put_back(child, names, child, new_threads, host_priv, node)
    for th, (state, _stops) in zip(new_threads, states):
        for flavor, value in state.items():
            mach.thread_set_state(th, flavor, value)
    for th, (_state, stops) in zip(new_threads, states):
        for _ in range(1 - stops):               # created with a stop count of 1 (T7.1)
            mach.thread_resume(th)
        for _ in range(stops - 1):
            mach.thread_suspend(th)


def _tell(event: str, task, m) -> None:
    for listener in list(listeners):
        listener(event, task, m)


def memory_info(task) -> dict:
    """TASK_NORMA_MEMORY_INFO of `task` as {resident, elsewhere, lost} (a remote task's
    record comes back as a list of its fields, in that order)."""
    info = mach.task_info(task, TaskInfoFlavor.TASK_NORMA_MEMORY_INFO)
    return info if isinstance(info, dict) else dict(zip(("resident", "elsewhere", "lost"), info))


def _check_memory(task) -> None:
    """A task whose memory lost pages with a node does not move (it would arrive with
    holes): KERN_MEMORY_ERROR, and it stays, whole, where it is."""
    lost = memory_info(task)["lost"]
    if lost:
        raise KernError(KernReturn.KERN_MEMORY_ERROR,
                        f"{lost} pages of its memory were lost with a node")


# -- step 2 --------------------------------------------------------------------------------

def _capture(thread):
    """(state per flavor, user stop count without the task's suspension)."""
    mach.thread_abort(thread)
    state = {f: mach.thread_get_state(thread, f) for f in FLAVORS}
    info = mach.thread_info(thread, 3)                  # THREAD_BASIC_INFO
    stops = info["suspend_count"] if isinstance(info, dict) else info[_SUSPEND_COUNT]
    return state, stops


# -- step 3 --------------------------------------------------------------------------------

def _take_out(task, threads, host_priv, out: list) -> None:
    """Every name of `task`'s space into `out`, its rights taken out (kernel ports only
    noted; port sets and dead names stay: the old task ends with them)."""
    known = _kernel_ports(task, threads, host_priv)
    names, types = mach.mach_port_names(task)
    for name, typ in sorted(zip(names, types), key=lambda nt: not nt[1] & PortType.PORT_SET):
        n = _Name(name, typ)
        out.append(n)
        if typ & PortType.PORT_SET:
            n.members = list(mach.mach_port_get_set_status(task, name))
        elif typ & PortType.DEAD_NAME:
            n.dead_refs = mach.mach_port_get_refs(task, name, PortRight.DEAD_NAME)
        else:
            _take_rights(task, n, known)


def _take_rights(task, n: _Name, known: dict) -> None:
    """One send reference is taken: the others stay in the old space (they end with it,
    and are added again in the new one)."""
    if n.type & PortType.SEND:
        n.send_refs = mach.mach_port_get_refs(task, n.name, PortRight.SEND)
    if n.type & PortType.RECEIVE:
        n.receive = mach.mach_port_extract_right(task, n.name, MsgType.MOVE_RECEIVE)
    if n.type & PortType.SEND:
        n.send = mach.mach_port_extract_right(task, n.name, MsgType.MOVE_SEND)
        n.kernel = known.get(_identity(n.send))
    if n.type & PortType.SEND_ONCE:
        n.sonce = mach.mach_port_extract_right(task, n.name, MsgType.MOVE_SEND_ONCE)


def _identity(handle):
    return getattr(handle, "port", None)


def _kernel_ports(task, threads, host_priv) -> dict:
    """{kernel Port: (kind, index)} for the ports that must name new objects after the move."""
    host = mach.norma_get_special_port(host_priv, task.node, NORMA_HOST_PORT)
    known = {_identity(task): ("self", 0), _identity(host): ("host", 0),
             _identity(host_priv): ("host_priv", 0)}
    for i, th in enumerate(threads):
        known[_identity(th)] = ("thread", i)
    known.pop(None, None)
    return known


# -- step 5 --------------------------------------------------------------------------------

def _put_back(space, names: list[_Name], task, threads, host_priv, node: int) -> None:
    """Insert every taken right into `space` under its old name (port sets first)."""
    kernel = {("self", 0): task,
              ("host", 0): mach.norma_get_special_port(host_priv, node, NORMA_HOST_PORT),
              ("host_priv", 0): mach.norma_get_special_port(host_priv, node, NORMA_HOST_PRIV_PORT)}
    kernel.update({("thread", i): th for i, th in enumerate(threads)})
    for n in names:
        if n.type & PortType.PORT_SET:
            mach.mach_port_allocate_name(space, PortRight.PORT_SET, n.name)
        elif n.type & PortType.DEAD_NAME:
            mach.mach_port_allocate_name(space, PortRight.DEAD_NAME, n.name)
            _add_refs(space, n.name, PortRight.DEAD_NAME, n.dead_refs - 1)
        else:
            _insert_rights(space, n, kernel)
    for n in names:
        for member in n.members:
            mach.mach_port_move_member(space, member, n.name)


def _restore(task, names: list[_Name]) -> None:
    """The move failed: what was taken out goes back under its name, nothing more (the
    old space kept its port sets, dead names and other send references)."""
    for n in names:
        if n.receive is not None:
            mach.mach_port_insert_right(task, n.name, n.receive, MsgType.MOVE_RECEIVE)
        if n.send is not None:
            mach.mach_port_insert_right(task, n.name, n.send, MsgType.MOVE_SEND)
        if n.sonce is not None:
            mach.mach_port_insert_right(task, n.name, n.sonce, MsgType.MOVE_SEND_ONCE)
    for n in names:
        for member in n.members:
            mach.mach_port_move_member(task, member, n.name)


def _insert_rights(space, n: _Name, kernel: dict) -> None:
    if n.receive is not None:
        mach.mach_port_insert_right(space, n.name, n.receive, MsgType.MOVE_RECEIVE)
    if n.send is not None:
        target = kernel.get(n.kernel, n.send) if n.kernel else n.send
        disp = MsgType.COPY_SEND if n.kernel else MsgType.MOVE_SEND
        mach.mach_port_insert_right(space, n.name, target, disp)
        _add_refs(space, n.name, PortRight.SEND, n.send_refs - 1)
    if n.sonce is not None:
        mach.mach_port_insert_right(space, n.name, n.sonce, MsgType.MOVE_SEND_ONCE)


def _add_refs(space, name: int, right: int, delta: int) -> None:
    if delta > 0:
        mach.mach_port_mod_refs(space, name, right, delta)


def _queued(n: _Name) -> int:
    port = getattr(n.receive, "port", None)
    return len(port.messages) if port is not None and hasattr(port, "messages") else 0


def _host_priv(task):
    """The manager's privilege: host_priv of the node its handles live on (it runs there);
    norma_get_special_port reaches the other nodes' host ports from it."""
    from ..handles import Host
    from ..ipc.port import ipc_port_make_send
    port = _identity(task)
    if port is None:
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"{task!r} is not a task handle")
    kernel = port.kernel
    with kernel.lock:
        return Host(ipc_port_make_send(kernel.host_priv.port))
