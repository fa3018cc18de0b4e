"""Kernel calls on objects of another node.

A kernel call whose target port is a proxy (the object lives on another node)
is made the way Mach's MIG stubs make every call: a request message, id = the
routine's id, to the object's kernel port, with a send-once reply right; the
request travels to the object's home node, runs there (ipc_kobject.server),
and the reply — `[return code, outs...]` — comes back.  If the object's node dies
first, the reply right comes back as a send-once notification instead: the call
fails with KERN_NODE_DOWN (MIG_SERVER_DIED if the node is still up).  Guests (kern/traps.py)
and the Python front end (normach/mach.py) both come here.
"""

from __future__ import annotations

from ..mach_types import MsgType, Notify
from ..errors import KernReturn

K = KernReturn


def remote_call(kernel, routine, port, params, alive=lambda: True):
    """Run `routine` on the object behind proxy `port`; `params` are decoded values
    (rights the kernel holds, consumed).

    Returns (code, out kinds, out values, done): `done(consumed)` must be called
    once the outs were used (consumed=True: their rights now belong to the
    caller) or not (they are released).
    Conditions: kernel lock held (released while waiting for the reply).
    """
    from ..ipc.kmsg import Kmsg, ipc_kmsg_deliver, ipc_kmsg_destroy, ipc_kmsg_unqueue
    from .ipc_kobject import reply_values, request_body
    from ..ipc.port import ipc_port_alloc, ipc_port_copy_send, ipc_port_destroy, ipc_port_make_sonce
    reply_port = ipc_port_alloc(kernel)
    ipc_kmsg_deliver(Kmsg(dest=ipc_port_copy_send(port), dest_type=MsgType.PORT_SEND,
                          reply=ipc_port_make_sonce(reply_port),
                          reply_type=MsgType.PORT_SEND_ONCE, id=routine.id,
                          body=request_body(routine, params)))
    node = port.proxy[1] if port.proxy is not None else kernel.node
    down = kernel.remote.down if kernel.remote is not None else ()
    while not reply_port.messages and alive() and port.active and node not in down:
        reply_port.cond.wait(0.05)
    answer = ipc_kmsg_unqueue(reply_port) if reply_port.messages else None
    ipc_port_destroy(reply_port)
    if answer is not None and answer.id == Notify.SEND_ONCE:
        ipc_kmsg_destroy(answer)            # the reply right died unused: no answer comes
        answer = None
    if answer is None:
        code = K.KERN_NODE_DOWN if node in down else K.MIG_SERVER_DIED
        return int(code), [], [], lambda consumed: None
    items = answer.body
    code = items[0] if items and isinstance(items[0], int) else int(K.MIG_REPLY_MISMATCH)
    kinds, values = reply_values(routine.outs, items[1:]) if code == 0 else ([], [])
    state = {"done": False}

    def done(consumed: bool) -> None:
        if state["done"]:
            return
        state["done"] = True
        if consumed:
            answer.body = []
        ipc_kmsg_destroy(answer)
    return code, kinds, values, done
