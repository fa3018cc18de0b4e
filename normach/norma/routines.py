"""The NORMA layer's kernel calls (mach_norma, 555000), plugged into the routine table.

The kernel core declares Mach's own subsystems (kern/routines.py) and names no
distributed layer; importing this module — `normach` does, first thing — adds
the NORMA routines to the same table, so the Python API, the kernel object
server, the guest stubs and the published .defs see them like any other, and
gives the core's `task_create` its way to a child on another node (N1.8).
"""

from __future__ import annotations

from ..kern import task as _task
from ..kern.routines import ROUTINES, routine
from . import node, task

_I, _B, _P = "int", "bool", "port"

if 555001 not in ROUTINES:
    routine(555001, "task_set_child_node", "task", [("child_node", _I)], [],
            node.task_set_child_node)
    routine(555002, "norma_node_self", "host", [], ["int32"], node.norma_node_self)
    routine(555005, "norma_task_clone", "task", [("inherit_memory", _B), ("child_node", _I)],
            ["task"], task.norma_task_clone)
    routine(555006, "norma_task_create", "task", [("inherit_memory", _B), ("child_node", _I)],
            ["task"], task.norma_task_create)
    routine(555009, "norma_task_teleport", "task", [("inherit_memory", _B), ("child_node", _I)],
            ["task"], task.norma_task_teleport)
    routine(555007, "norma_get_special_port", "host_priv", [("node", _I), ("which", _I)], [_P],
            node.norma_get_special_port)
    routine(555008, "norma_set_special_port", "host_priv", [("which", _I), ("port", _P)], [],
            node.norma_set_special_port)
    routine(555012, "norma_port_location_hint", "task", [("port", _P)], ["int32"],
            node.norma_port_location_hint)
    _task.plug_remote_create(task.norma_task_create)
