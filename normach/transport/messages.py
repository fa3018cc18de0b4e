"""The transport's own protocol messages, and the example pair used by tests.

Message ids are a flat space shared by every layer that declares messages with
`protocol.declare`.  By convention each layer takes its own block of ids so
declarations never collide:

    1-99      transport (this module)
    100-199   dipc (ports across nodes)
    200-299   xmm (distributed memory)
    300-399   norma calls and migration

`ping`/`pong` are answered by the endpoint itself on its I/O thread (a liveness
probe must not queue behind blocked handlers).  `error_reply` answers any
request whose handler failed: it carries the kern_return_t code, which the
requester raises as `KernError(code)`.  `echo`/`echo_reply` carry one raw frame
and exist for tests and benchmarks.
"""

from .protocol import declare

ping = declare(1, "ping", [("seq", "uint")], reply="pong")
pong = declare(2, "pong", [("seq", "uint")])
error_reply = declare(3, "error_reply", [("code", "int"), ("detail", "str")])
echo = declare(4, "echo", [("data", "raw")], reply="echo_reply")
echo_reply = declare(5, "echo_reply", [("data", "raw")])
