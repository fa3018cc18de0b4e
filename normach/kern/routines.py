"""The kernel's routine table: every kernel call declared once.

Each routine of the `mach`, `mach_port` and `mach_host` subsystems is declared
here with its MIG message id, the kind of object its first argument names, its
in-parameters and out-parameters, and the function that implements it (the
NORMA layer declares its `mach_norma` routines the same way, in
`norma/routines.py`, when it is imported: upper layers plug in).  Three front ends read this one table:

* `normach.mach` (Python): the caller passes handles and values, gets outs back;
* the kernel object server (`ipc_kobject.server`): a message whose destination is
  a kernel object port and whose id is a routine's id is executed (P6.18);
* the guest trap ABI of the machine layer: the kernel-call trap numbered by id.

Target kinds and the code a wrong target gives (E3.1): "task" / "vm_task"
(KERN_INVALID_ARGUMENT), "space" (KERN_INVALID_TASK), "thread"
(KERN_INVALID_ARGUMENT), "host" (host or host_priv; KERN_INVALID_HOST),
"host_priv" (KERN_INVALID_HOST), "clock" (KERN_INVALID_ARGUMENT).

Parameter kinds: "int" (a 64-bit integer), "bool", "bytes", "port" (a send
right the caller passes: the kernel receives its own reference, MACH_PORT_NULL
→ None; a routine whose second object is a task or thread, such as vm_wire,
takes it as a "port" and converts it with `port_kobject`), "ports" (a list of
them), "poly" (a right of any kind given with its disposition — two
arguments, port and disposition — reaching the implementation as (port,
received type)), "state" (a thread state), "record" (a dict of ints).  Out kinds:
"int", "int32" (a 32-bit value: names, types, counts), "bytes", "port" (a new
send right given to the caller), "right" (a (port, type) pair), "ports",
"threads"/"task"/"thread" (send rights to objects' ports), "names" (two lists),
"record" (a dict or dataclass of ints), "state".
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import KernError, KernReturn
from . import task as _task
from . import thread as _thread

MACH_BASE, MACH_PORT_BASE, MACH_HOST_BASE, MACH_NORMA_BASE = 2000, 3200, 2600, 555000


@dataclass(frozen=True)
class Routine:
    id: int
    name: str
    target: str
    params: tuple          # ((name, kind), ...) after the target
    outs: tuple            # (kind, ...)
    impl: object           # impl(target_object, *params) -> None | value | tuple of outs


_BAD_TARGET = {"task": KernReturn.KERN_INVALID_ARGUMENT, "vm_task": KernReturn.KERN_INVALID_ARGUMENT,
               "space": KernReturn.KERN_INVALID_TASK, "thread": KernReturn.KERN_INVALID_ARGUMENT,
               "host": KernReturn.KERN_INVALID_HOST, "host_priv": KernReturn.KERN_INVALID_HOST,
               "clock": KernReturn.KERN_INVALID_ARGUMENT}
_KOTYPES = {"task": ("task",), "vm_task": ("task",), "space": ("task",), "thread": ("thread",),
            "host": ("host", "host_priv"), "host_priv": ("host_priv",), "clock": ("clock",)}


def convert_target(port, kind: str):
    """The object a routine acts on, from its kernel port (E3.1).

    A port naming no object, or the wrong kind, is a null object: the code of
    `_BAD_TARGET`.  Conditions: kernel lock held.
    """
    obj = port.kobject
    if port.kotype not in _KOTYPES[kind] or obj is None:
        raise KernError(_BAD_TARGET[kind], f"{port!r} does not name a {kind}")
    if kind == "vm_task":
        return obj.map
    if kind == "space":
        if not obj.active:
            raise KernError(KernReturn.KERN_INVALID_TASK, "task is terminated")
        return obj.itk_space
    return obj


def port_kobject(port, kotype: str):
    """The object of `kotype` a port *argument* names, or None (MIG's convert_port_to_*
    gives a null object): for a null or dead port, a port of another kind, or one
    whose object lives on another node (a proxy names no object here).  The caller
    still owns the send right.  Conditions: kernel lock held.
    """
    from ..ipc.port import port_valid
    if not port_valid(port) or not port.active or port.kotype != kotype:
        return None
    return port.kobject


ROUTINES: dict[int, Routine] = {}
BY_NAME: dict[str, Routine] = {}


def routine(id, name, target, params, outs, impl) -> None:
    r = Routine(id, name, target, tuple(params), tuple(outs), impl)
    assert id not in ROUTINES and name not in BY_NAME, f"routine {name} declared twice"
    ROUTINES[id] = r
    BY_NAME[name] = r


def _vm(fn):
    from ..vm import user
    return getattr(user, fn)


def _wire(fn):
    from ..vm import wire
    return getattr(wire, fn)


def _mp(fn):
    from ..ipc import mach_port
    return getattr(mach_port, fn)


def _host(fn):
    from . import host
    return getattr(host, fn)


def _clock(fn):
    from . import clock
    return getattr(clock, fn)


def _exc(fn):
    from . import exception
    return getattr(exception, fn)


def _lazy(getter, fn):
    """An implementation looked up at call time (breaks import cycles)."""
    def call(*args):
        return getter(fn)(*args)
    call.__name__ = fn
    return call


# -- mach (2000): ids as positioned in OSF MK mach.defs --------------------------------
_I, _B, _P = "int", "bool", "port"
routine(2001, "task_create", "task", [("inherit_memory", _B)], ["task"],
        lambda t, inherit: _task.task_create_routine(t, bool(inherit)))
routine(2004, "vm_region", "vm_task", [("address", _I)], ["record"], _lazy(_vm, "vm_region"))
routine(2008, "task_terminate", "task", [], [], _task.task_terminate)
routine(2011, "task_threads", "task", [], ["threads"], _task.task_threads)
routine(2016, "thread_terminate", "thread", [], [], _thread.thread_terminate)
routine(2017, "thread_get_state", "thread", [("flavor", _I)], ["state"], _thread.thread_get_state)
routine(2018, "thread_set_state", "thread", [("flavor", _I), ("new_state", "state")], [],
        _thread.thread_set_state)
routine(2021, "vm_allocate", "vm_task", [("address", _I), ("size", _I), ("anywhere", _B)],
        [_I], _lazy(_vm, "vm_allocate"))
routine(2023, "vm_deallocate", "vm_task", [("address", _I), ("size", _I)], [],
        _lazy(_vm, "vm_deallocate"))
routine(2024, "vm_protect", "vm_task", [("address", _I), ("size", _I), ("set_maximum", _B),
        ("new_protection", _I)], [], _lazy(_vm, "vm_protect"))
routine(2025, "vm_inherit", "vm_task", [("address", _I), ("size", _I), ("new_inheritance", _I)],
        [], _lazy(_vm, "vm_inherit"))
routine(2026, "vm_read", "vm_task", [("address", _I), ("size", _I)], ["bytes"],
        _lazy(_vm, "vm_read"))
routine(2027, "vm_write", "vm_task", [("address", _I), ("data", "bytes")], [],
        _lazy(_vm, "vm_write"))
routine(2028, "vm_copy", "vm_task", [("source_address", _I), ("size", _I), ("dest_address", _I)],
        [], _lazy(_vm, "vm_copy"))
routine(2030, "vm_statistics", "vm_task", [], ["record"], _lazy(_vm, "vm_statistics"))
routine(2033, "mach_ports_register", "task", [("init_port_set", "ports")], [],
        _task.mach_ports_register)
routine(2034, "mach_ports_lookup", "task", [], ["ports"], _task.mach_ports_lookup)
routine(2056, "task_suspend", "task", [], [], _task.task_suspend)
routine(2057, "task_resume", "task", [], [], _task.task_resume)
routine(2058, "task_get_special_port", "task", [("which_port", _I)], [_P],
        _task.task_get_special_port)
routine(2059, "task_set_special_port", "task", [("which_port", _I), ("special_port", _P)], [],
        _task.task_set_special_port)
routine(2061, "thread_create", "task", [], ["thread"], _thread.thread_create)
routine(2062, "thread_suspend", "thread", [], [], _thread.thread_suspend)
routine(2063, "thread_resume", "thread", [], [], _thread.thread_resume)
routine(2064, "thread_abort", "thread", [], [], _thread.thread_abort)
routine(2089, "vm_map", "vm_task", [("address", _I), ("size", _I), ("mask", _I), ("anywhere", _B),
        ("memory_object", _P), ("offset", _I), ("copy", _B), ("cur_protection", _I),
        ("max_protection", _I), ("inheritance", _I)], [_I], _lazy(_vm, "vm_map"))
routine(2098, "task_info", "task", [("flavor", _I)], ["record"], _task.task_info)
routine(2100, "thread_info", "thread", [("flavor", _I)], ["record"], _thread.thread_info)

# -- mach_port (3200) ----------------------------------------------------------------------
routine(3200, "mach_port_names", "space", [], ["names"], _lazy(_mp, "mach_port_names"))
routine(3201, "mach_port_type", "space", [("name", _I)], ["int32"], _lazy(_mp, "mach_port_type"))
routine(3202, "mach_port_rename", "space", [("old_name", _I), ("new_name", _I)], [],
        _lazy(_mp, "mach_port_rename"))
routine(3203, "mach_port_allocate_name", "space", [("right", _I), ("name", _I)], [],
        _lazy(_mp, "mach_port_allocate_name"))
routine(3204, "mach_port_allocate", "space", [("right", _I)], ["int32"],
        _lazy(_mp, "mach_port_allocate"))
routine(3205, "mach_port_destroy", "space", [("name", _I)], [], _lazy(_mp, "mach_port_destroy"))
routine(3206, "mach_port_deallocate", "space", [("name", _I)], [],
        _lazy(_mp, "mach_port_deallocate"))
routine(3207, "mach_port_get_refs", "space", [("name", _I), ("right", _I)], ["int32"],
        _lazy(_mp, "mach_port_get_refs"))
routine(3208, "mach_port_mod_refs", "space", [("name", _I), ("right", _I), ("delta", _I)], [],
        _lazy(_mp, "mach_port_mod_refs"))
routine(3210, "mach_port_set_mscount", "space", [("name", _I), ("mscount", _I)], [],
        _lazy(_mp, "mach_port_set_mscount"))
routine(3211, "mach_port_get_set_status", "space", [("name", _I)], ["ints"],
        _lazy(_mp, "mach_port_get_set_status"))
routine(3212, "mach_port_move_member", "space", [("member", _I), ("after", _I)], [],
        _lazy(_mp, "mach_port_move_member"))
routine(3213, "mach_port_request_notification", "space", [("name", _I), ("msgid", _I),
        ("sync", _I), ("notify", "poly")], ["sonce"],
        _lazy(_mp, "mach_port_request_notification"))
routine(3214, "mach_port_insert_right", "space", [("name", _I), ("poly", "poly")], [],
        _lazy(_mp, "mach_port_insert_right"))
routine(3215, "mach_port_extract_right", "space", [("name", _I), ("msgt_name", _I)], ["right"],
        _lazy(_mp, "mach_port_extract_right"))
routine(3216, "mach_port_set_seqno", "space", [("name", _I), ("seqno", _I)], [],
        _lazy(_mp, "mach_port_set_seqno"))
routine(3217, "mach_port_get_attributes", "space", [("name", _I), ("flavor", _I)], ["record"],
        _lazy(_mp, "mach_port_get_attributes"))
routine(3218, "mach_port_set_attributes", "space", [("name", _I), ("flavor", _I),
        ("info", "record")], [], _lazy(_mp, "mach_port_set_attributes"))

# -- mach_host (2600): exception ports ----------------------------------------------------
routine(2603, "task_set_exception_ports", "task", [("exception_mask", _I), ("new_port", _P),
        ("behavior", _I), ("new_flavor", _I)], [], _lazy(_exc, "task_set_exception_ports"))
routine(2604, "thread_set_exception_ports", "thread", [("exception_mask", _I), ("new_port", _P),
        ("behavior", _I), ("new_flavor", _I)], [], _lazy(_exc, "thread_set_exception_ports"))

# -- mach_host (2600): wiring, at their OSF MK / GNU Mach mach_host.defs positions ------------
routine(2636, "vm_wire", "host_priv", [("task", _P), ("address", _I), ("size", _I),
        ("desired_access", _I)], [], _lazy(_wire, "vm_wire"))
routine(2637, "thread_wire", "host_priv", [("thread", _P), ("wired", _B)], [],
        _thread.thread_wire)

# -- normach extension (resource limits), outside the MIG ranges --------------------------
routine(2999, "task_set_limits", "task", [("vm_max", _I), ("threads_max", _I)], [],
        _task.task_set_limits)

# -- clocks (kern/clock.py; the clock subsystem's ids, and two of mach_host's) -------------
routine(2612, "host_get_time", "host", [], [_I, _I], _lazy(_clock, "host_get_time"))
routine(2620, "host_get_clock_service", "host", [("clock_id", _I)], [_P],
        _lazy(_clock, "host_get_clock_service"))
routine(1000, "clock_get_time", "clock", [], [_I, _I], _lazy(_clock, "clock_get_time"))
routine(1003, "clock_sleep", "clock", [("sleep_type", _I), ("seconds", _I),
                                       ("nanoseconds", _I)], [_I, _I],
        _lazy(_clock, "clock_sleep"))

# -- the host, and task names (kern/host.py, kern/task.py) ---------------------------------
routine(2600, "host_info", "host", [("flavor", _I)], ["record"], _lazy(_host, "host_info"))
routine(2601, "host_kernel_version", "host", [], ["bytes"], _lazy(_host, "host_kernel_version"))
routine(2998, "task_set_name", "task", [("name", "bytes")], [], _task.task_set_name)
