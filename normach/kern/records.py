"""Records: what the kernel answers with, declared once per shape.

A kernel call whose out is a "record" (routines.py) answers with a dict or a
dataclass of ints.  On the wire -- in the reply message a guest or another node
receives -- a record is its ints, in order (ipc_kobject.py).  The caller in
Python must get the same record whether the object lives on its node or on
another (a teleported child, a task of a node process): so each record's field
names are declared here, the local implementations build their dicts from
them, and the remote path (mach.py) rebuilds the record from the ints.
"""

from __future__ import annotations

import struct

from ..mach_types import HostInfoFlavor, PortFlavor, TaskInfoFlavor, ThreadInfoFlavor

TASK_BASIC_INFO = ("suspend_count", "virtual_size", "resident_size", "user_time", "system_time",
                   "policy", "thread_count", "port_names", "node", "vm_max", "threads_max")
TASK_NORMA_MEMORY_INFO = ("resident", "elsewhere", "lost")
TASK_EVENTS_INFO = ("faults", "pageins", "cow_faults", "messages_sent", "messages_received",
                    "syscalls_mach", "syscalls_unix", "csw")
TASK_THREAD_TIMES_INFO = ("user_time", "system_time")        # of its live threads
# Times are microseconds of CPU (the CPU's OS thread's time.thread_time): user in guest
# code, system in the kernel's traps and faults for the thread (a wait uses none).
THREAD_BASIC_INFO = ("user_time", "system_time", "cpu_usage", "policy", "run_state", "flags",
                     "suspend_count", "sleep_time")


HOST_BASIC_INFO = ("max_cpus", "avail_cpus", "memory_size", "cpu_type", "cpu_subtype")
HOST_SCHED_INFO = ("min_timeout", "min_quantum")                      # milliseconds
HOST_PRIORITY_INFO = ("kernel_priority", "system_priority", "server_priority", "user_priority",
                      "depress_priority", "idle_priority", "minimum_priority",
                      "maximum_priority")
HOST_INFO = {HostInfoFlavor.HOST_BASIC_INFO: HOST_BASIC_INFO,
             HostInfoFlavor.HOST_SCHED_INFO: HOST_SCHED_INFO,
             HostInfoFlavor.HOST_PRIORITY_INFO: HOST_PRIORITY_INFO}

TASK_INFO = {TaskInfoFlavor.TASK_BASIC_INFO: TASK_BASIC_INFO,
             TaskInfoFlavor.TASK_EVENTS_INFO: TASK_EVENTS_INFO,
             TaskInfoFlavor.TASK_THREAD_TIMES_INFO: TASK_THREAD_TIMES_INFO,
             TaskInfoFlavor.TASK_NORMA_MEMORY_INFO: TASK_NORMA_MEMORY_INFO}

# The records a guest receives, as C structs (guest/gen.py writes them into mach_records.h).
GUEST_STRUCTS = (("task_basic_info", TASK_BASIC_INFO, "TASK_BASIC_INFO_COUNT"),
                 ("task_events_info", TASK_EVENTS_INFO, "TASK_EVENTS_INFO_COUNT"),
                 ("task_thread_times_info", TASK_THREAD_TIMES_INFO,
                  "TASK_THREAD_TIMES_INFO_COUNT"),
                 ("thread_basic_info", THREAD_BASIC_INFO, "THREAD_BASIC_INFO_COUNT"),
                 ("host_basic_info", HOST_BASIC_INFO, "HOST_BASIC_INFO_COUNT"),
                 ("host_sched_info", HOST_SCHED_INFO, "HOST_SCHED_INFO_COUNT"),
                 ("host_priority_info", HOST_PRIORITY_INFO, "HOST_PRIORITY_INFO_COUNT"))


def record(names: tuple, *values) -> dict:
    """A dict record with the declared `names`, in order."""
    assert len(names) == len(values)
    return dict(zip(names, values))


def words(value) -> list[int]:
    """A record's fields as the ints a message or a guest carries, in declared order
    (a dict, a dataclass of ints, or one int)."""
    if isinstance(value, int):
        return [value]
    fields = value if isinstance(value, dict) else vars(value)
    return [int(v) for v in fields.values() if isinstance(v, int)]


def out_words(kind: str, value) -> list[int]:
    """The u64 words a "record" or "state" out is written as (to a guest, in a reply)."""
    return words(value) if kind == "record" else value.to_words()


def param_words(kind: str, data: bytes):
    """A "record" or "state" parameter from a guest's u32 words (`data`, padded to whole
    u64 words): the u64 words, or a one-word record as its one int."""
    data = bytes(data) + b"\0" * (-len(data) % 8)
    values = list(struct.unpack(f"<{len(data) // 8}Q", data))
    return values[0] if kind == "record" and len(values) == 1 else values


def rebuild(routine: str, params: list, words: list):
    """The record `routine` answers with, from its ints (a reply from another node).
    A shape not declared here stays the list of ints."""
    flavor = params[0] if params else None
    if routine == "vm_region":
        from ..vm.user import Region
        address, size, prot, max_prot, inherit, shared, offset, reserved = (words + [0] * 8)[:8]
        return Region(address, size, prot, max_prot, inherit, bool(shared), offset, bool(reserved))
    if routine == "vm_statistics":
        from ..vm.statistics import RECORD
        return dict(zip(RECORD, words))
    if routine == "task_info":
        names = TASK_INFO.get(flavor)
        return dict(zip(names, words)) if names else list(words)
    if routine == "host_info" and flavor in HOST_INFO:
        return dict(zip(HOST_INFO[flavor], words))
    if routine == "thread_info" and flavor == ThreadInfoFlavor.THREAD_BASIC_INFO:
        return dict(zip(THREAD_BASIC_INFO, words))
    if routine == "mach_port_get_attributes":
        from ..ipc.mach_port import PortLimits, PortStatus
        if params[1] == PortFlavor.LIMITS_INFO:
            return PortLimits(*words[:1])
        if params[1] == PortFlavor.RECEIVE_STATUS:
            w = (words + [0] * 10)[:10]
            return PortStatus(*w[:7], bool(w[7]), bool(w[8]), w[9])
    return list(words)
