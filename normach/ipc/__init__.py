"""Mach IPC of one node: ports, port sets, port spaces, messages, notifications.

Layering inside the package (lower modules never import higher ones at import
time; the few cycles are broken by imports inside functions):

    ipc_kernel   per-kernel IPC state: the port registry, statistics
    port, pset   the kernel objects (a port, a port set)
    kmsg         a message inside the kernel, its items, its destruction
    notify       the notification messages the kernel generates
    space, right a task's port name space and the rights it holds
    message      the Python-facing message and descriptor classes
    mqueue       enqueue, dequeue and the waits of senders and receivers
    mach_msg     mach_msg: the send and receive procedures
    mach_port    the user-exported mach_port_* calls (argument checking)
    audit        a whole-kernel consistency check of all of the above
"""
