"""Tasks: an address space, a port name space, threads, and the ports it inherits.

A task is the unit of resource ownership.  `task_create(parent, inherit_memory)`
makes a child with no threads whose address map is built from the parent's by
each region's inheritance (SHARE, COPY, NONE; spec V2.4-V2.9) and whose
bootstrap, registered and exception ports and resource limits are copies of
the parent's.  `task_terminate` (T7.7) stops the threads, destroys the port
space (receivers die, senders elsewhere see dead names), and releases the map.
"""

from __future__ import annotations

from .. import param
from ..mach_types import TaskSpecialPort
from ..errors import KernError, KernReturn
from .records import (TASK_BASIC_INFO, TASK_EVENTS_INFO, TASK_NORMA_MEMORY_INFO,
                      TASK_THREAD_TIMES_INFO, record)
from .ledger import Ledger
from .memory import TASKS

KERN = KernReturn


class Task:
    """A task.

    Fields (kernel lock): active, map, itk_space, itk_self (the task's kernel
    port), itk_sself (send right the kernel hands out as TASK_KERNEL_PORT),
    itk_bootstrap, itk_registered (3 send rights or None), exc_ports {type:
    (port, behavior, flavor)}, ledger, threads, suspend_count (user stop count),
    child_node (N1.5), name (for people), privileged (the bootstrap privilege: the
    normach_host_priv_self trap gives this task host_priv; its children inherit it).
    """

    def __init__(self, kernel, ledger: Ledger, name: str = ""):
        from ..ipc.port import ipc_kobject_alloc, ipc_port_make_send
        from ..ipc.space import IPCSpace
        from ..vm.map import VMMap
        assert kernel.lock.held()
        kernel.memory.must_charge(TASKS, param.TASK_MEMORY_COST)   # KERN_RESOURCE_SHORTAGE
        self.kernel = kernel
        self.id = kernel.next_id()
        self.name = name or f"task{self.id}"
        self.active = True
        self.ledger = ledger
        self.map = VMMap(kernel, ledger)
        self.itk_space = IPCSpace(kernel, self)
        self.itk_self = ipc_kobject_alloc(kernel, self, "task")
        self.itk_sself = ipc_port_make_send(self.itk_self)
        self.itk_bootstrap = None
        self.itk_registered = [None] * param.TASK_PORT_REGISTER_MAX
        self.exc_ports: dict = {}
        self.threads: list = []
        self.suspend_count = 0
        self.child_node = -1
        self.privileged = False
        self.dead_times = [0, 0]              # user, system µs of its ended threads (lock)
        self.events = {"faults": 0, "traps": 0, "slices": 0}   # TASK_EVENTS_INFO (lock)
        self.exit_status: int | None = None   # set by normach_task_exit or a fatal exception
        self.exit_reason = ""
        kernel.tasks.add(self)

    @property
    def node(self) -> int:
        return self.kernel.node

    def held_send_rights(self):
        """The send rights this task's kernel state holds (for the IPC audit)."""
        rights = [self.itk_sself, self.itk_bootstrap, *self.itk_registered]
        rights += [p for (p, _b, _f) in self.exc_ports.values()]
        return [p for p in rights if p is not None]

    def __repr__(self) -> str:
        state = "active" if self.active else "dead"
        return (f"<Task {self.name} node={self.node} {state} threads={len(self.threads)} "
                f"vm={self.map.size:#x} resident={self.map.pmap.resident} "
                f"suspend={self.suspend_count}>")


def _copy_send(port):
    from ..ipc.port import ipc_port_copy_send
    return None if port is None else ipc_port_copy_send(port)


def _release_send(port) -> None:
    from ..ipc.port import ipc_port_release_send
    if port is not None:
        ipc_port_release_send(port)


def task_create(parent: Task | None, inherit_memory: bool, kernel=None, name: str = "",
                share_all: bool = False) -> Task:
    """A new task on the parent's node (or `kernel` for a parentless task), no threads.

    Conditions: kernel lock held.
    Raises: KERN_INVALID_ARGUMENT (inactive parent), KERN_RESOURCE_SHORTAGE.
    """
    if parent is None:
        assert kernel is not None
        return Task(kernel, Ledger(kernel), name)
    if not parent.active:
        raise KernError(KERN.KERN_INVALID_ARGUMENT, "parent task is terminated")
    child = Task(parent.kernel, parent.ledger.copy(), name)
    try:
        if inherit_memory:
            from ..vm.map import vm_map_fork
            vm_map_fork(parent.map, child.map, share_all)
    except KernError:
        task_terminate(child)
        raise
    child.privileged = parent.privileged
    child.itk_bootstrap = _copy_send(parent.itk_bootstrap)
    child.itk_registered = [_copy_send(p) for p in parent.itk_registered]
    child.exc_ports = {t: (_copy_send(p), b, f) for t, (p, b, f) in parent.exc_ports.items()}
    return child


_remote_create = None    # norma_task_create, once the NORMA layer plugs in (norma/routines.py)


def plug_remote_create(create) -> None:
    """The NORMA layer's task creation on another node, for task_create (N1.8)."""
    global _remote_create
    _remote_create = create


def task_create_routine(parent: Task, inherit_memory: bool) -> Task:
    """The task_create kernel call: local, unless the parent's child_node says
    otherwise (N1.8), in which case it is norma_task_create to that node.

    Raises: as task_create and norma_task_create (norma/task.py).
    """
    node = parent.child_node
    if node in (-1, parent.kernel.node):
        return task_create(parent, inherit_memory)
    assert _remote_create is not None, "a child node is set only through the NORMA layer"
    return _remote_create(parent, inherit_memory, node)


def task_terminate(task: Task) -> None:
    """Terminate `task` (T7.7): threads, port space, inherited rights, map.

    Conditions: kernel lock held.
    Raises: KERN_FAILURE if it is already terminating.
    """
    from ..ipc.port import ipc_kobject_set
    from .thread import thread_terminate_internal
    if not task.active:
        raise KernError(KERN.KERN_FAILURE, "task is already terminating")
    task.active = False
    task.kernel.memory.credit(TASKS, param.TASK_MEMORY_COST)
    for th in list(task.threads):
        thread_terminate_internal(th)
        if th.waiting_on is not None:    # an exception's answer it waits for: no handler
            th.waiting_on.notify_all()   # answers a dead task, its reply port goes now (T7.8)
    for port in (task.itk_sself, task.itk_bootstrap, *task.itk_registered):
        _release_send(port)
    for port, _b, _f in task.exc_ports.values():
        _release_send(port)
    task.itk_sself = task.itk_bootstrap = None
    task.itk_registered = [None] * param.TASK_PORT_REGISTER_MAX
    task.exc_ports = {}
    task.itk_space.destroy()
    task.map.destroy()
    task.ledger.destroy()
    ipc_kobject_set(task.itk_self, None, None)
    task.kernel.tasks.discard(task)
    if task.exit_status is None:
        task.exit_status = 128 + 9          # killed, as a shell reports SIGKILL
        task.exit_reason = task.exit_reason or "terminated by task_terminate"
    _remember_exit(task)
    task.kernel.task_events.notify_all()


def _remember_exit(task: Task) -> None:
    """Keep the status of the last EXITS_KEPT tasks, by task port uid (kernel.exits)."""
    exits = task.kernel.exits
    exits[task.itk_self.uid] = (task.exit_status, task.exit_reason)
    while len(exits) > param.EXITS_KEPT:
        exits.popitem(last=False)


def _active(task: Task) -> None:
    if not task.active:
        raise KernError(KERN.KERN_FAILURE, "task is terminated")


def task_suspend(task: Task) -> None:
    """Increment the user stop count; the first one holds every thread (T7.6)."""
    _active(task)
    task.suspend_count += 1
    if task.suspend_count == 1:
        for th in task.threads:
            th.hold()
        for th in list(task.threads):
            th.wait_stopped()


def task_resume(task: Task) -> None:
    """Decrement the user stop count; at 0 threads are released.  KERN_FAILURE at 0."""
    _active(task)
    if task.suspend_count == 0:
        raise KernError(KERN.KERN_FAILURE, "task is not suspended")
    task.suspend_count -= 1
    if task.suspend_count == 0:
        for th in task.threads:
            th.release()


def task_threads(task: Task) -> list:
    """The task's live threads.  Raises KERN_FAILURE on an inactive task (T7.9)."""
    _active(task)
    return [th for th in task.threads if th.active]


def task_info(task: Task, flavor: int) -> dict:
    """TASK_BASIC_INFO: suspend count, virtual and resident size, CPU times (µs, ended
    threads' and live ones'), and counters; TASK_EVENTS_INFO (faults, messages, traps,
    time slices); TASK_THREAD_TIMES_INFO (the live threads' CPU times).
    TASK_NORMA_MEMORY_INFO (normach): pages resident here, pages of its shared memory
    held only by other nodes, pages lost with a node (a migration refuses those).

    Conditions: kernel lock held (released while other nodes answer).
    Raises: KERN_INVALID_ARGUMENT (flavor), KERN_FAILURE (terminated), KERN_NODE_DOWN.
    """
    from ..mach_types import TaskInfoFlavor
    if flavor == TaskInfoFlavor.TASK_NORMA_MEMORY_INFO:
        _active(task)
        return _memory_info(task)
    if flavor not in (TaskInfoFlavor.TASK_BASIC_INFO, TaskInfoFlavor.TASK_EVENTS_INFO,
                      TaskInfoFlavor.TASK_THREAD_TIMES_INFO):
        raise KernError(KERN.KERN_INVALID_ARGUMENT, f"task_info flavor {flavor}")
    _active(task)
    live = [sum(t.cpu_times()[i] for t in task.threads) for i in (0, 1)]
    if flavor == TaskInfoFlavor.TASK_THREAD_TIMES_INFO:
        return record(TASK_THREAD_TIMES_INFO, *live)
    if flavor == TaskInfoFlavor.TASK_EVENTS_INFO:
        space, ev = task.itk_space, task.events
        return record(TASK_EVENTS_INFO, ev["faults"], 0, 0, space.msgs_sent,
                      space.msgs_received, ev["traps"], 0, ev["slices"])
    names = len(task.itk_space.entries) if hasattr(task.itk_space, "entries") else 0
    return record(TASK_BASIC_INFO, task.suspend_count, task.map.size,
                  task.map.pmap.resident * param.PAGE_SIZE, task.dead_times[0] + live[0],
                  task.dead_times[1] + live[1], 1, len(task.threads), names,
                  task.node, task.ledger.vm_max, task.ledger.threads_max)


def task_memory_absent(task: Task, unknown_ok: bool = False) -> tuple[int, int]:
    """(pages of `task`'s shared memory held only by other nodes, pages lost with a node);
    the pagers answer.  `unknown_ok`: an object whose manager's node is down counts 0.

    Conditions: kernel lock held (released while other nodes answer).
    Raises: KERN_NODE_DOWN (unless unknown_ok).
    """
    elsewhere = lost = 0
    for e in list(task.map.entries):
        obj = e.object
        if obj is not None and obj.pager.distributed:
            try:
                far, gone = obj.pager.absent(obj, e.offset, e.size)
            except KernError:
                if not unknown_ok:
                    raise
                continue
            elsewhere, lost = elsewhere + far, lost + gone
    return elsewhere, lost


def _memory_info(task: Task) -> dict:
    """Resident, elsewhere and lost pages of `task`."""
    elsewhere, lost = task_memory_absent(task)
    return record(TASK_NORMA_MEMORY_INFO, task.map.pmap.resident, elsewhere, lost)


_SPECIAL = {TaskSpecialPort.KERNEL, TaskSpecialPort.BOOTSTRAP,
            TaskSpecialPort.WIRED_LEDGER, TaskSpecialPort.PAGED_LEDGER}


def _check_special(task: Task, which: int) -> None:
    if not isinstance(which, int) or which not in _SPECIAL:
        raise KernError(KERN.KERN_INVALID_ARGUMENT, f"special port id {which}")
    _active(task)


def task_get_special_port(task: Task, which: int):
    """A new send right (a Port) for special port `which`, or None (T7.10)."""
    from ..ipc.port import ipc_port_make_send
    _check_special(task, which)
    if which == TaskSpecialPort.KERNEL:
        return _copy_send(task.itk_sself)
    if which == TaskSpecialPort.BOOTSTRAP:
        return _copy_send(task.itk_bootstrap)
    return ipc_port_make_send(task.ledger.port)


def task_set_special_port(task: Task, which: int, port) -> None:
    """Install `port` (a send right the kernel holds, consumed; None clears) (T7.10)."""
    try:
        _check_special(task, which)
    except KernError:
        _release_send(port)
        raise
    if which == TaskSpecialPort.KERNEL:
        _release_send(task.itk_sself)
        task.itk_sself = port
    elif which == TaskSpecialPort.BOOTSTRAP:
        _release_send(task.itk_bootstrap)
        task.itk_bootstrap = port
    else:
        _release_send(port)
        raise KernError(KERN.KERN_INVALID_ARGUMENT, "ledger ports cannot be replaced")


def mach_ports_register(task: Task, ports: list) -> None:
    """Stash up to 3 send rights (consumed) for children to inherit (T7.10)."""
    if len(ports) > param.TASK_PORT_REGISTER_MAX:
        for p in ports:
            _release_send(p)
        raise KernError(KERN.KERN_INVALID_ARGUMENT, "at most 3 registered ports")
    try:
        _active(task)
    except KernError:
        for p in ports:
            _release_send(p)
        raise
    old = task.itk_registered
    task.itk_registered = list(ports) + [None] * (param.TASK_PORT_REGISTER_MAX - len(ports))
    for p in old:
        _release_send(p)


def mach_ports_lookup(task: Task) -> list:
    """New send rights for the 3 registered slots (None where empty)."""
    _active(task)
    return [_copy_send(p) for p in task.itk_registered]


def task_set_limits(task: Task, vm_max: int | None, threads_max: int | None) -> None:
    """Lower or raise the task's ledger limits (inherited by later children)."""
    _active(task)
    for v in (vm_max, threads_max):
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            raise KernError(KERN.KERN_INVALID_ARGUMENT, "limits are non-negative integers")
    if vm_max is not None:
        task.ledger.vm_max = vm_max
    if threads_max is not None:
        task.ledger.threads_max = threads_max


def task_set_name(task: Task, name: bytes) -> None:
    """Name the task (what ps shows; a debugging name, as OSF MK's).
    Raises: KERN_INVALID_ARGUMENT (terminated; not bytes; longer than TASK_NAME_MAX)."""
    _active(task)
    if not isinstance(name, (bytes, bytearray, memoryview)):
        raise KernError(KERN.KERN_INVALID_ARGUMENT, "a task name is bytes")
    text = bytes(name).split(b"\0", 1)[0]
    if len(text) > param.TASK_NAME_MAX:
        raise KernError(KERN.KERN_INVALID_ARGUMENT, f"a name of {len(text)} bytes")
    task.name = text.decode("utf-8", errors="replace")
