"""The migration manager: moving a running task to another node with Mach calls.

`norma_task_teleport` moves an address space, nothing else: the new task has no
threads, and its port name space holds only what any new task inherits.  A
process is more: threads in the middle of their work, and the rights the
program knows by name (its reply ports with messages waiting, its send rights
to servers, the name under which it caches its own task port).  The manager
moves all of it, as a user-level server would in Mach, from the calls anyone
holding the task's port may make.

A migration is a two-phase commit: until the new node has the whole program
ready, stopped, the old task stays whole where it was, and any failure (the new
node dies, a call fails) puts everything back there and resumes it.  Only then
is the old task terminated and the new one started, so a program is never on
no node, nor running on two:

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
  4. clone     norma_task_clone(task, TRUE, node): a child on the new node
               shares the whole address space (pages follow on demand); the
               old task is untouched.
  5. prepare   in the child: threads with their states, stopped; port
               sets, dead names and send rights under their old names (copies:
               the manager keeps the rights it took out); the child's own
               port, its threads' ports and the new node's host ports in place
               of the ones noted in step 3.
  -- commit point: the new node answered every call of step 5, and answers one
     more (task_info of the child) just before the commit.  A failure up to
     here: the child is destroyed, the rights go back, the task resumes. --
  6. commit    task_terminate of the old task; its memory, now used only by
               the new node, is pushed there in the background (xmm/push.py).
  7. move      receive and send-once rights (they cannot be copied, so they
               move only after the commit), then port set members.
  8. start     thread_resume of each thread that was running.

The freeze time is from step 1 to step 8.  Listeners (`listeners`) hear of
each migration: the cluster uses this to follow a program to its new task;
`steps` hear of each step (tests kill nodes there).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time

from .. import mach
from ..errors import KernError, KernReturn
from ..mach_types import MsgType, PortRight, PortType, TaskInfoFlavor, ThreadStateFlavor
from ..mach_types import NORMA_HOST_PORT, NORMA_HOST_PRIV_PORT
FLAVORS = tuple(ThreadStateFlavor)     # every flavor: registers, FXSAVE area, dr0-dr7

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
    adopted: bool = False           # a listener keeps .task (a program followed it there)


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
    Raises: KERN_INVALID_ARGUMENT (not a task handle, bad node, or the task is already
    there), KERN_ALREADY_WAITING (a migration of the task is under way),
    KERN_NODE_DOWN (the new node failed before the commit: the task keeps running
    where it was, with all its rights; after the commit: the program was lost with
    that node), KERN_MEMORY_ERROR (pages of its memory were lost with a node: it
    stays), the codes of task_suspend and norma_task_clone.
    """
    t0 = time.perf_counter()
    if _identity(task) is None:
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"{task!r} is not a task handle")
    source = task.node
    if not isinstance(node, int) or isinstance(node, bool):
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"node {node!r}")
    if node == source:
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"the task is on node {node} already")
    with _one_at_a_time(task):
        m = _migrate(task, node, source, t0)
    _tell("done", task, m)
    return m


def _migrate(task, node: int, source: int, t0: float) -> Migration:
    """Steps 1-8 (task_migrate, once the arguments are checked)."""
    host_priv = _host_priv(task)
    threads = []
    try:
        mach.task_suspend(task)
        names: list[_Name] = []
        try:
            threads = mach.task_threads(task)
            _check_memory(task)
            states = [_capture(th) for th in threads]
            _take_out(task, threads, host_priv, names)
        except KernError:
            _restore(task, names)
            _quietly(mach.task_resume, task)
            raise
        queued = sum(_queued(n) for n in names)
        _tell("start", task, None)
        child, new_threads = _prepare(task, names, threads, states, host_priv, node)
        _commit(task, child, new_threads, states, names, host_priv, source, node)
    finally:
        for handle in [host_priv, *threads]:
            handle.deallocate()
    return Migration(child, source, node, threads=len(threads), rights=len(names),
                     messages=queued, freeze_s=time.perf_counter() - t0)


_busy_lock = threading.Lock()
_busy: set = set()                # identities of the tasks being migrated (_busy_lock)


@contextlib.contextmanager
def _one_at_a_time(task):
    """One migration of a task at a time (in this process): a second one, from the
    program itself or an operator, would find the task's rights taken out by the first.
    Raises: KERN_ALREADY_WAITING (a migration of the task is under way)."""
    key = _task_key(task)
    with _busy_lock:
        if key in _busy:
            raise KernError(KernReturn.KERN_ALREADY_WAITING,
                            "a migration of this task is under way")
        _busy.add(key)
    try:
        yield
    finally:
        with _busy_lock:
            _busy.discard(key)


def _task_key(task):
    """The task's identity on every node: its port's uid (a proxy names its port's)."""
    port = _identity(task)
    proxy = port.proxy
    return proxy[0] if proxy else port.uid


def _quietly(fn, *args) -> None:
    try:
        fn(*args)
    except KernError:
        pass                      # the task or its node is gone


def _prepare(task, names, threads, states, host_priv, node: int):
    """Steps 4-5: the child, ready and stopped.  On any failure the child is destroyed
    and the task put back as it was (running).
    Returns: (the child's handle, handles of its new threads, in the old threads' order).
    Raises: KERN_NODE_DOWN (the new node failed), the codes of the calls made."""
    child, new_threads = None, []
    try:
        _step("clone")
        child = mach.norma_task_clone(task, True, node)
        _step("cloned")
        new_threads = _make_threads(child, states)
        _step("threads")
        _put_back_copies(child, names, child, new_threads, host_priv, node)
        _step("prepared")
        _step("commit")
        mach.task_info(child, TaskInfoFlavor.TASK_BASIC_INFO)   # the new node still answers
    except KernError as e:
        for th in new_threads:
            th.deallocate()
        if child is not None:
            _destroy(child)
        _restore(task, names)
        _quietly(mach.task_resume, task)
        _tell("failed", task, None)
        if _node_down(host_priv, node) and e.code != KernReturn.KERN_NODE_DOWN:
            raise KernError(KernReturn.KERN_NODE_DOWN,          # its ports died with it
                            f"node {node} failed during the migration ({e.name})") from None
        raise
    return child, new_threads


def _node_down(host_priv, node: int) -> bool:
    """The manager's node has declared `node` down."""
    remote = host_priv.port.kernel.remote
    return remote is not None and node in remote.down


def _commit(task, child, new_threads, states, names, host_priv, source: int, node: int) -> None:
    """Steps 6-8: the old task ends, the rights that cannot be copied move, the child
    runs.  Raises: KERN_NODE_DOWN if the new node failed meanwhile (the program is
    lost with it: it was on that node alone); the code of task_terminate if the old
    task ended otherwise meanwhile (killed): the child is destroyed, as the program
    was ended."""
    try:
        mach.task_terminate(task)
    except KernError as e:
        if e.code != KernReturn.KERN_NODE_DOWN and not _node_down(host_priv, source):
            # ended by someone else (killed): there is no program any more
            for th in new_threads:
                th.deallocate()
            _destroy(child)
            _drop_taken(names)
            _tell("failed", task, None)
            raise
        # its node is gone: the child is the program now
    _release_copies(names)
    try:
        _step("committed")
        _put_back_moves(child, names)
        _step("moved")
        for th, (_state, stops) in zip(new_threads, states):
            if stops == 0:
                mach.thread_resume(th)           # created with a stop count of 1 (T7.1)
    except KernError as e:
        _drop_taken(names)
        _tell("failed", task, None)
        raise KernError(KernReturn.KERN_NODE_DOWN,
                        f"node {node} failed after the commit: the program was lost with it "
                        f"({e.name})") from None
    finally:
        for th in new_threads:
            th.deallocate()


def _make_threads(child, states) -> list:
    """Step 5: a thread per old thread with its state, created stopped (T7.1: a stop
    count of 1, dropped in step 8 for the threads that were running) and stopped
    further if it was stopped more."""
    new_threads = [mach.thread_create(child) for _ in states]
    for th, (state, stops) in zip(new_threads, states):
        for flavor, value in state.items():
            mach.thread_set_state(th, flavor, value)
        for _ in range(stops - 1):
            mach.thread_suspend(th)
    return new_threads


def _destroy(child) -> None:
    """A child that will not be used: terminated if its node still answers."""
    try:
        mach.task_terminate(child)
    except KernError:
        pass                      # its node is down: it died with it
    child.deallocate()


steps: list = []                  # callables(step name): test hooks at each step


def _step(name: str) -> None:
    for hook in list(steps):
        hook(name)


def _tell(event: str, task, m) -> None:
    for listener in list(listeners):
        listener(event, task, m)


def memory_info(task) -> dict:
    """TASK_NORMA_MEMORY_INFO of `task` as {resident, elsewhere, lost} (the same record
    wherever the task lives: kern/records.py)."""
    return mach.task_info(task, TaskInfoFlavor.TASK_NORMA_MEMORY_INFO)


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
    stops = mach.thread_info(thread, 3)["suspend_count"]   # THREAD_BASIC_INFO
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
    host.deallocate()                   # its port stays the key: host ports live for ever
    return known


# -- steps 5 and 7 --------------------------------------------------------------------------------

def _put_back_copies(space, names: list[_Name], task, threads, host_priv, node: int) -> None:
    """Step 5: port sets and dead names under their names, send rights as copies (the
    manager keeps the right it took out until the commit); kernel ports replaced."""
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
        elif n.send is not None:
            target = kernel.get(n.kernel, n.send) if n.kernel else n.send
            mach.mach_port_insert_right(space, n.name, target, MsgType.COPY_SEND)
            _add_refs(space, n.name, PortRight.SEND, n.send_refs - 1)
    for key in (("host", 0), ("host_priv", 0)):
        if kernel[key] is not None:
            kernel[key].deallocate()


def _release_copies(names: list[_Name]) -> None:
    """After the commit: the send rights the manager kept go (the child has its copies)."""
    for n in names:
        if n.send is not None:
            n.send.deallocate()
            n.send = None


def _drop_taken(names: list[_Name]) -> None:
    """The rights still held by the manager after a failure past the commit."""
    for n in names:
        for handle in (n.receive, n.send, n.sonce):
            if handle is not None:
                handle.deallocate()


def _put_back_moves(space, names: list[_Name]) -> None:
    """Step 7: receive and send-once rights under their names, then port set members."""
    for n in names:
        if n.receive is not None:
            mach.mach_port_insert_right(space, n.name, n.receive, MsgType.MOVE_RECEIVE)
        if n.sonce is not None:
            mach.mach_port_insert_right(space, n.name, n.sonce, MsgType.MOVE_SEND_ONCE)
    for n in names:
        for member in n.members:
            mach.mach_port_move_member(space, member, n.name)


def _restore(task, names: list[_Name]) -> None:
    """The move failed: what was taken out goes back under its name, nothing more (the
    old space kept its port sets, dead names and other send references).  A right that
    cannot go back (the task ended meanwhile) is released."""
    for n in names:
        for handle, disposition in ((n.receive, MsgType.MOVE_RECEIVE),
                                    (n.send, MsgType.MOVE_SEND),
                                    (n.sonce, MsgType.MOVE_SEND_ONCE)):
            if handle is not None:
                _quietly(mach.mach_port_insert_right, task, n.name, handle, disposition)
                handle.deallocate()               # a no-op once inserted (spent)
    for n in names:
        for member in n.members:
            _quietly(mach.mach_port_move_member, task, member, n.name)


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
    kernel = _identity(task).kernel
    with kernel.lock:
        return Host(ipc_port_make_send(kernel.host_priv.port))
