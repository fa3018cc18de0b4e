"""mach_msg from Python: a Python thread sends and receives as a task.

mach_msg is a trap, not a routine on an object: the task is whoever runs the
calling thread.  From Python the task is named explicitly: the first argument
is the `Task` handle whose port space holds the names used in the message.
"""

from __future__ import annotations

from .errors import KernError, KernReturn
from .handles import Task, release_orphans


def _task(handle):
    if not isinstance(handle, Task) or handle.port is None:
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"{handle!r} is not a task handle")
    task = handle.port.kobject
    if handle.port.kotype != "task" or task is None or not task.active:
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, "the task is terminated")
    return task


def mach_msg(task, msg, option, rcv_name=0, timeout=0, rcv_size=None, notify=0):
    """Send `msg` and/or receive on `rcv_name` as `task` (options as in Mach).

    Returns the received Message (or None if only sending).  Raises KernError with
    the mach_msg_return_t on failure.
    """
    from .ipc import mach_msg as m
    t = _task(task)
    with t.kernel.lock:
        release_orphans(t.kernel)
        return m.mach_msg(t, msg, option, rcv_name, timeout, rcv_size, notify)


def mach_msg_send(task, msg, option=0, timeout=0):
    """Send `msg` as `task`."""
    from .ipc import mach_msg as m
    t = _task(task)
    with t.kernel.lock:
        release_orphans(t.kernel)
        return m.mach_msg_send(t, msg, option, timeout)


def mach_msg_receive(task, name, option=0, timeout=0, rcv_size=None):
    """Receive one message on `name` (a receive right or port set of `task`)."""
    from .ipc import mach_msg as m
    t = _task(task)
    with t.kernel.lock:
        release_orphans(t.kernel)
        return m.mach_msg_receive(t, name, option, timeout, rcv_size)
