"""XMM's protocol messages (ids 200-299), declared once.

An object is named by its xid `[manager node, lid]`.  Page data always travels
as one raw frame (empty when there is none).
"""

from ..transport.protocol import declare

# a kernel asks the manager for a page: data and/or access (X4.12-X4.14)
xmm_request = declare(200, "xmm_request", [
    ("xid", "list"),
    ("offset", "int"),
    ("desired", "int"),      # access wanted: READ (1) or READ|WRITE (3)
    ("has", "int"),          # access the kernel holds now (0 or READ)
    ("ahead", "int"),        # read-ahead: also the next `ahead` pages, if they are free
], reply="xmm_grant")
# kind: see xmm/client.py (DATA, ZERO, KEEP, ERROR); `more`: [offset, kind, access, seq] of
# each read-ahead page granted, its data after the page's in `data`
xmm_grant = declare(201, "xmm_grant", [("kind", "int"), ("access", "int"), ("seq", "int"),
                                       ("more", "list"), ("data", "raw")])
# the manager takes access away: keep READ (demote a writer) or nothing (flush)
xmm_lock = declare(202, "xmm_lock", [("xid", "list"), ("offset", "int"), ("keep", "int"),
                                     ("seq", "int")], reply="xmm_locked")
xmm_locked = declare(203, "xmm_locked", [("dirty", "bool"), ("data", "raw")])
# a kernel joins (maps the object) or leaves it, returning what it wrote
xmm_attach = declare(204, "xmm_attach", [("xids", "list"), ("gens", "list")], reply="xmm_attached")
xmm_attached = declare(205, "xmm_attached", [("count", "int")])
# (each returned page with the seq of the grant it was written under; `final`: the
# node's object of generation `gen` is gone, else pages it paged out)
xmm_release = declare(206, "xmm_release", [("xid", "list"), ("gen", "int"), ("offsets", "list"),
                                           ("seqs", "list"), ("final", "bool"),
                                           ("data", "raw")], reply="xmm_released")
xmm_released = declare(207, "xmm_released", [("ok", "bool")])
# the address space of a new task (task_copy_vm, spec §2.4): one element per entry
xmm_vm_map = declare(208, "xmm_vm_map", [("task", "list"), ("entries", "list")],
                     reply="xmm_vm_mapped")
xmm_vm_mapped = declare(209, "xmm_vm_mapped", [("count", "int")])
# a copy-on-write snapshot of an object (X4.20): the copy object's xid
xmm_copy = declare(210, "xmm_copy", [("xid", "list")], reply="xmm_copied")
xmm_copied = declare(211, "xmm_copied", [("xid", "list"), ("size", "int")])
# residual dependencies: the manager hands pages, then the whole object, to a kernel
xmm_push = declare(212, "xmm_push", [("xid", "list"), ("offsets", "list"), ("seqs", "list"),
                                     ("data", "raw")], reply="xmm_pushed")
xmm_pushed = declare(213, "xmm_pushed", [("count", "int")])
xmm_adopt = declare(214, "xmm_adopt", [("xid", "list")], reply="xmm_adopted")
xmm_adopted = declare(215, "xmm_adopted", [("ok", "bool")])
# where a node's pages are: for each range [offset, size], the pages of it that some other
# node (or the manager's store) holds and the asking node does not (`normach ps`)
xmm_where = declare(216, "xmm_where", [("xid", "list"), ("ranges", "list")], reply="xmm_there")
xmm_there = declare(217, "xmm_there", [("counts", "list"), ("lost", "list")])
