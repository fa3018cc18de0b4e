"""The control protocol between a cluster's client and its node processes (ids 350-389).

A client process (a `Cluster` with `processes=True`, or `Cluster.connect`) is
itself a small node: it has a kernel of its own, where its handles live as
proxies, and it asks node processes for what Python programs need to start:
the membership table, a fresh task, the host ports, an audit, a shutdown.
Everything else goes through ports, as kernel calls to the objects' nodes.

Members and clients.  The membership table holds the nodes only.  A client
announces itself to each node it talks to (`ctl_join` with an index at or past
the cluster's size); that node alone records it, hears its heartbeat, and
forgets it when it leaves (`ctl_leave`) or falls silent for
`param.CLIENT_LEASE_S`.  No node pings a client and no join waits on one, so a
thousand clients come and go without slowing the cluster.
"""

from ..transport.protocol import declare

ctl_peers = declare(350, "ctl_peers", [("table", "map")], reply="ctl_ok")
ctl_ok = declare(351, "ctl_ok", [("node", "int")])
ctl_task_create = declare(352, "ctl_task_create", [("label", "str")], reply="ctl_uid")
ctl_host = declare(353, "ctl_host", [("privileged", "bool")], reply="ctl_uid")
ctl_uid = declare(354, "ctl_uid", [("uid", "list")])
ctl_audit = declare(355, "ctl_audit", [("node", "int")], reply="ctl_problems")
ctl_problems = declare(356, "ctl_problems", [("problems", "list")])
ctl_shutdown = declare(357, "ctl_shutdown", [("node", "int")], reply="ctl_ok")
ctl_join = declare(358, "ctl_join", [("node", "int"), ("address", "str"), ("key", "str")],
                   reply="ctl_table")      # key "": the key the request came with
ctl_table = declare(359, "ctl_table", [("node", "int"), ("nnodes", "int"), ("table", "map")])
ctl_spawn = declare(360, "ctl_spawn", [("label", "str"), ("argv", "list"), ("suspended", "bool"),
                                       ("privileged", "bool"), ("image", "raw"), ("root", "str")],
                    reply="ctl_spawned")
ctl_spawned = declare(361, "ctl_spawned", [("program", "int"), ("uid", "list")])
ctl_wait = declare(362, "ctl_wait", [("program", "int"), ("timeout_ms", "int")], reply="ctl_status")
ctl_status = declare(363, "ctl_status", [("done", "bool"), ("status", "int"), ("reason", "str"),
                                         ("output", "bytes")])
ctl_resume = declare(364, "ctl_resume", [("program", "int")], reply="ctl_ok")
ctl_ps = declare(365, "ctl_ps", [("node", "int")], reply="ctl_rows")
ctl_rows = declare(366, "ctl_rows", [("rows", "list")])
ctl_task = declare(367, "ctl_task", [("task", "int")], reply="ctl_uid")
ctl_stats = declare(368, "ctl_stats", [("node", "int")], reply="ctl_counts")
ctl_counts = declare(369, "ctl_counts", [("counts", "map")])
ctl_leave = declare(370, "ctl_leave", [("node", "int")], reply="ctl_ok")
ctl_info = declare(371, "ctl_info", [("node", "int")], reply="ctl_table")   # the table, joining nothing
# programs (normach/programs.py): ids HOME-K, kept at their home node
ctl_follow = declare(372, "ctl_follow", [("program", "int"), ("offset", "int"),
                                         ("timeout_ms", "int")], reply="ctl_progress")
ctl_progress = declare(373, "ctl_progress", [("done", "bool"), ("status", "int"),
                                             ("reason", "str"), ("output", "bytes"),
                                             ("offset", "int"), ("node", "int")])
ctl_kill = declare(374, "ctl_kill", [("program", "int")], reply="ctl_ok")
ctl_migrate = declare(375, "ctl_migrate", [("program", "int"), ("task", "int"), ("uid", "list"),
                                           ("node", "int")], reply="ctl_moved")
# program -1: the task `task` of the node asked; task -1 too: the task whose port is `uid`
ctl_moved = declare(376, "ctl_moved", [("node", "int"), ("uid", "list"), ("threads", "int"),
                                       ("rights", "int"), ("messages", "int"),
                                       ("freeze_us", "int")])
ctl_exit = declare(377, "ctl_exit", [("uid", "list"), ("timeout_ms", "int")], reply="ctl_exited")
ctl_programs = declare(378, "ctl_programs", [("node", "int")], reply="ctl_rows")
ctl_exited = declare(379, "ctl_exited", [("done", "bool"), ("status", "int"), ("reason", "str"),
                                         ("successor", "list")])   # [] or the uid it moved to
ctl_port = declare(380, "ctl_port", [("uid", "list")], reply="ctl_uid")  # a send right to a task here
