"""DIPC's protocol messages (ids 100-199), declared once."""

from ..transport.protocol import declare

dipc_msg = declare(100, "dipc_msg", [
    ("uid", "list"),          # destination port uid [node, lid]
    ("dest_type", "int"),     # received type of the right the message carries to it
    ("reply_uid", "list"),    # reply port uid, [0, 0] for none
    ("rtype", "int"),         # its received type, 0 for none
    ("msg_id", "int"),        # msgh_id
    ("body", "list"),         # items in network form (dipc/wire.py)
    ("complex", "bool"),      # MACH_MSGH_BITS_COMPLEX as sent (kept with 0 descriptors)
    ("packed", "bool"),       # laid out by a guest (Kmsg.packed: MIG layout for kernel objects)
    ("ool_sizes", "list"),    # sizes of the out-of-line regions, in order
    ("ool", "raw"),           # their data, concatenated: one frame, never re-encoded
])
dipc_port_dead = declare(101, "dipc_port_dead", [("uid", "list")])
special_get = declare(102, "special_get", [("which", "int")], reply="special_reply")
special_reply = declare(103, "special_reply", [("uid", "list")])
transits_get = declare(104, "transits_get", [("uid", "list"), ("count", "int")],
                       reply="transits_granted")
transits_granted = declare(105, "transits_granted", [("count", "int")])
transits_release = declare(106, "transits_release", [("uid", "list"), ("count", "int")])
queue_full = declare(107, "queue_full", [("uid", "list")])
queue_space = declare(108, "queue_space", [("uid", "list")])
task_allocate = declare(110, "task_allocate", [
    ("label", "str"), ("vm_max", "int"), ("threads_max", "int"),
    ("bootstrap", "list"),        # uid of the bootstrap send right, [0, 0] for none
    ("registered", "list"),       # uids of the registered ports
    ("exceptions", "list"),       # [type, uid node, uid lid, behavior, flavor] per exception port
    ("privileged", "bool"),       # the parent's bootstrap privilege (host_priv by trap)
], reply="task_allocated")
task_allocated = declare(111, "task_allocated", [("uid", "list")])
