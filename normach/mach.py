"""The Mach routines, callable from Python under their Mach names.

Each routine takes its Mach parameters in Mach order, the first being a handle
(`Task`, `Thread`, `Host`) for the object it acts on; OUT parameters are
returned (a tuple when there are several); failure raises `KernError` whose
`.code` is the kern_return_t.  Routines of the routine table
(`kern/routines.py`) are generated from their declarations, so the Python
front end, kernel-port messages and the guest trap ABI share one definition.

Port arguments: a handle passes the caller's right (copied for a send right;
with a MOVE_* disposition the handle is spent); an integer is a name in the
target task's own space, as when the task makes the call on itself; None or 0
is MACH_PORT_NULL.  Ports returned are handles.
"""

from __future__ import annotations

import inspect

from .handles import Host, Port, Task, Thread, handle_for, release_orphans
from .errors import KernError, KernReturn
from .kern.routines import BY_NAME, Routine, convert_target
from .mach_types import MACH_PORT_DEAD, MsgType

K = KernReturn

__all__ = ["Port", "Task", "Thread", "Host"]

# -- targets -------------------------------------------------------------------------------

def _target_port(handle):
    """The live kernel Port behind a handle.  Raises MACH_SEND_INVALID_DEST."""
    if not isinstance(handle, Port) or handle.port is None or handle.right == MsgType.PORT_RECEIVE:
        raise KernError(K.MACH_SEND_INVALID_DEST, f"{handle!r} is not a send right")
    if not handle.port.active:
        raise KernError(K.MACH_SEND_INVALID_DEST, "the port is dead")
    return handle.port


# -- arguments -----------------------------------------------------------------------------

_COPYIN = {MsgType.COPY_SEND: MsgType.PORT_SEND, MsgType.MOVE_SEND: MsgType.PORT_SEND,
           MsgType.MAKE_SEND: MsgType.PORT_SEND, MsgType.MOVE_SEND_ONCE: MsgType.PORT_SEND_ONCE,
           MsgType.MAKE_SEND_ONCE: MsgType.PORT_SEND_ONCE,
           MsgType.MOVE_RECEIVE: MsgType.PORT_RECEIVE}


def _copyin_handle(h: Port, disp: int):
    """Take a right of disposition `disp` out of handle `h` for the kernel: (port, type)."""
    from .ipc.port import ipc_port_copy_send, ipc_port_make_send, ipc_port_make_sonce
    bad = KernError(K.MACH_SEND_INVALID_RIGHT, f"{h!r} cannot give disposition {disp!r}")
    if h.port is None or not isinstance(disp, int) or isinstance(disp, bool) or disp not in _COPYIN:
        raise bad
    need = {MsgType.COPY_SEND: MsgType.PORT_SEND, MsgType.MOVE_SEND: MsgType.PORT_SEND,
            MsgType.MOVE_SEND_ONCE: MsgType.PORT_SEND_ONCE}.get(disp, MsgType.PORT_RECEIVE)
    if h.right != need:
        raise bad
    if disp == MsgType.COPY_SEND:
        return ipc_port_copy_send(h.port), MsgType.PORT_SEND
    if disp == MsgType.MAKE_SEND:
        return ipc_port_make_send(h.port), MsgType.PORT_SEND
    if disp == MsgType.MAKE_SEND_ONCE:
        return ipc_port_make_sonce(h.port), MsgType.PORT_SEND_ONCE
    return h.take(), _COPYIN[disp]


def _copyin_poly(value, disp, space_of):
    """A (port, received type) for a port argument given as handle, name or null."""
    if value is None or (isinstance(value, int) and value == 0):
        return None, 0
    if isinstance(value, _Held):
        return value.port, value.msgt
    if isinstance(value, Port):
        return _copyin_handle(value, disp)
    if isinstance(value, int) and not isinstance(value, bool):
        space = space_of()
        try:
            return space.copyin_right(value, disp)
        except KernError as e:
            raise KernError(K.MACH_SEND_INVALID_RIGHT, e.detail or e.name) from None
    raise KernError(K.MACH_SEND_INVALID_RIGHT, f"{value!r} is not a port")


def _cross_node(args, r: Routine, target_kernel) -> list:
    """Rights given as handles of another node's ports travel there first (DIPC).

    Each such handle's right is taken out on its own node and exported; the
    argument becomes a (uid, type) pair imported under the target's lock.
    """
    out, it = [], iter(args)
    for _pname, kind in r.params:
        value = next(it)
        disp = next(it) if kind == "poly" else MsgType.COPY_SEND
        if kind in ("port", "poly") and isinstance(value, Port) and value.port is not None \
                and value.port.kernel is not target_kernel:
            value = _export_handle(value, disp, target_kernel.node)
        elif kind == "ports" and isinstance(value, (list, tuple)):
            value = [_export_handle(v, disp, target_kernel.node) if isinstance(v, Port)
                     and v.port is not None
                     and v.port.kernel is not target_kernel else v for v in value]
        out += [value, disp] if kind == "poly" else [value]
    return out


class _InTransit:
    """A right on its way from one node to another (uid and received type)."""

    def __init__(self, uid, msgt):
        self.uid, self.msgt = uid, msgt


def _export_handle(h: Port, disp: int, node: int) -> _InTransit:
    src = h.port.kernel
    if src.remote is None:
        raise KernError(K.MACH_SEND_INVALID_RIGHT, "the port's node is not connected")
    with src.lock:
        port, msgt = _copyin_handle(h, disp)
        if msgt == MsgType.PORT_RECEIVE:
            from .ipc.kmsg import ipc_object_destroy
            ipc_object_destroy(port, msgt)
            raise KernError(K.MACH_SEND_INVALID_RIGHT, "receive rights do not move between nodes yet")
        return _InTransit(src.remote.export_right(port, msgt, node), msgt)


def _space_of(target_port):
    def get():
        task = target_port.kobject
        if target_port.kotype != "task" or task is None or not task.active:
            raise KernError(K.MACH_SEND_INVALID_RIGHT, "names need a live target task")
        return task.itk_space
    get.kernel = target_port.kernel
    return get


def _release(port, msgt) -> None:
    """Give back a right copied in for a call that failed before using it."""
    from .ipc.kmsg import ipc_object_destroy
    if port is not None:
        ipc_object_destroy(port, msgt)


# -- results -------------------------------------------------------------------------------

def _handle(port, right: int = MsgType.PORT_SEND):
    """A handle for a right the kernel gives the caller; MACH_PORT_DEAD for a dead one."""
    from .ipc.port import IP_DEAD
    if port is None:
        return None
    if port is IP_DEAD:
        return MACH_PORT_DEAD
    return handle_for(port, right)


def _out(kind: str, value):
    from .ipc.port import ipc_port_make_send
    if kind == "task":                        # a Task here, or a send right (a task elsewhere)
        if hasattr(value, "itk_self"):
            return handle_for(ipc_port_make_send(value.itk_self))
        return Task(value)
    if kind == "thread":
        return handle_for(ipc_port_make_send(value.ith_self))
    if kind == "port":
        return _handle(value)
    if kind == "sonce":
        return _handle(value, MsgType.PORT_SEND_ONCE)
    if kind == "right":
        port, msgt = value
        return _handle(port, msgt)
    if kind == "threads":
        return [handle_for(ipc_port_make_send(th.ith_self)) for th in value]
    if kind == "ports":
        return [_handle(p) for p in value]
    return value


# -- the generic call ----------------------------------------------------------------------

def _import_in_transit(args, held: list, space_of) -> None:
    """Turn rights arriving from another node into local rights first, so that a
    failure later releases them like any other right the call holds."""
    def imp(v):
        if isinstance(v, _InTransit):
            port = space_of.kernel.remote.import_right(v.uid, v.msgt)
            held.append((port, v.msgt))
            return _Held(port, v.msgt)
        return v
    for i, v in enumerate(args):
        if isinstance(v, list):
            args[i] = [imp(x) for x in v]
        else:
            args[i] = imp(v)


class _Held:
    """A right the call already holds (imported from another node)."""

    def __init__(self, port, msgt):
        self.port, self.msgt = port, msgt


def _call(r: Routine, target, args):
    port = _target_port(target)
    kernel = port.kernel
    args = _cross_node(args, r, kernel) if kernel.remote is not None else list(args)
    with kernel.lock:
        release_orphans(kernel)
        params, held, it = [], [], iter(args)
        try:
            _import_in_transit(args, held, _space_of(port))
            remote = port.proxy is not None           # the object lives on another node
            obj = None if remote else convert_target(port, r.target)
            for pname, kind in r.params:
                value = next(it)
                if kind == "poly":
                    p, t = _copyin_poly(value, next(it), _space_of(port))
                    if not isinstance(value, _Held):
                        held.append((p, t))
                    params += [p, t]
                elif kind == "port":
                    p, t = _copyin_poly(value, MsgType.COPY_SEND, _space_of(port))
                    if not isinstance(value, _Held):
                        held.append((p, t))
                    params.append(p)
                elif kind == "ports":
                    if not isinstance(value, (list, tuple)):
                        raise KernError(K.MIG_BAD_ARGUMENTS, f"{pname} is not a list of ports")
                    ps = []
                    for v in value:
                        ps.append(_copyin_poly(v, MsgType.COPY_SEND, _space_of(port)))
                        if not isinstance(v, _Held):
                            held.append(ps[-1])
                    params.append([p for p, _t in ps])
                else:
                    params.append(value)
        except BaseException:
            for p, t in held:
                _release(p, t)
            raise
        if remote:
            return _call_remote(r, port, params)
        result = r.impl(obj, *params)
        if len(r.outs) == 0:
            return None
        if len(r.outs) == 1:
            return _out(r.outs[0], result)
        return tuple(_out(k, v) for k, v in zip(r.outs, result))


def _call_remote(r: Routine, port, params):
    """The routine run on the object's home node (kern/remote_call.py); outs as handles.

    Conditions: the caller's kernel lock held.
    """
    from .kern.remote_call import remote_call
    code, kinds, values, done = remote_call(port.kernel, r, port, params)
    if code:
        done(consumed=False)
        raise KernError(code, f"{r.name} on node {port.location_hint()}")
    outs = [_out_remote(decl, kind, v, params, r.name)
            for decl, kind, v in zip(r.outs, kinds, values)]
    done(consumed=True)
    if not outs:
        return None
    return outs[0] if len(outs) == 1 else tuple(outs)


def _out_remote(decl: str, kind: str, value, params, routine: str = ""):
    from .kern.records import rebuild
    from .kern.thread import STATE_CLASSES
    if decl == "task":
        return Task(value)
    if decl == "thread":
        return Thread(value)
    if decl == "threads":
        return [Thread(p) for p in value]
    if decl == "state":
        return STATE_CLASSES[params[0]].from_words(value.to_words())
    if decl == "record":                            # the same record a local call gives
        return rebuild(routine, params, [value[i] for i in sorted(value)])
    return _out(kind, value)


def _arity(r: Routine) -> int:
    return sum(2 if kind == "poly" else 1 for _n, kind in r.params)


def _make(r: Routine):
    names = [r.target if r.target != "vm_task" else "target_task"]
    for pname, kind in r.params:
        names += [pname, pname + "_disposition"] if kind == "poly" else [pname]
    n = _arity(r)

    def routine(target, *args):
        if len(args) != n:
            raise TypeError(f"{r.name}() takes {n + 1} arguments ({len(args) + 1} given)")
        return _call(r, target, args)
    routine.__name__ = routine.__qualname__ = r.name
    routine.__doc__ = (f"{r.name}({', '.join(names)}) -> {', '.join(r.outs) or 'None'}"
                       f"  [MIG id {r.id}]\n\n{(r.impl.__doc__ or '').strip()}")
    routine.__signature__ = inspect.Signature(
        [inspect.Parameter(x, inspect.Parameter.POSITIONAL_ONLY) for x in names])
    return routine


for _r in BY_NAME.values():
    globals()[_r.name] = _make(_r)
    __all__.append(_r.name)


def task_set_limits(task, max_vm=None, max_threads=None) -> None:
    """Set the task's resource limits (bytes of VM, threads); children inherit them."""
    return _call(BY_NAME["task_set_limits"], task, (max_vm, max_threads))


from .mach_msg_api import mach_msg, mach_msg_receive, mach_msg_send  # noqa: E402

__all__ += ["mach_msg", "mach_msg_send", "mach_msg_receive"]


def task_migrate(task, node: int):
    """Move a running task with its threads and port rights to `node` (process migration).

    The migration manager (servers/migration.py) does it from Mach calls: suspend,
    thread states, rights taken out by name, norma_task_teleport, rights put back
    under the same names, threads recreated, resume.  This API reaches the manager
    as its client, through the node's `migration_server` (boot.py plugs it in; a
    client of node processes has the task's node run it, so the migration outlives
    the client).  Returns its Migration record; `.task` is the handle of the task
    on `node`.  Raises KernError (KERN_NODE_DOWN: the task keeps running where it
    was; KERN_INVALID_ARGUMENT: not a task).
    """
    port = getattr(task, "port", None)
    server = getattr(getattr(port, "kernel", None), "migration_server", None)
    if server is None:
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"{task!r} is no task of a node "
                        "with a migration manager")
    return server(task, node)


__all__.append("task_migrate")
