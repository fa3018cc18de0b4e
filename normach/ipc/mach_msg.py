"""mach_msg: sending and receiving messages.

How a message carries rights: the sender writes names of its own space with a
disposition each (P6.5 table).  At send time the kernel *copies in* the message:
every (name, disposition) becomes a right the message owns (a Kmsg, kmsg.py),
taken out of or made from the sender's space.  The message is then queued on
the destination port (or, for a kernel object port, executed at once, P6.18).
At receive time the kernel *copies out*: every right becomes a name in the
receiver's space, merging send rights into existing names (P6.7), and the header
is swapped so that `remote_port` is the reply right and `local_port` the port
received on (P6.9).

Send, as named steps (`mach_msg_send`):
  1. check_header      message shape: dispositions, item types, size (P6.8)
  2. check_rights      simulate copyin of every right (dest, reply, body);
                       any failure raises with the sender's rights untouched
                       (INVALID_DEST / INVALID_REPLY / INVALID_RIGHT, P6.15)
  3. wait_for_room     a full queue blocks the sender (P6.12), then back to 2,
                       since the world changed while the lock was released;
                       if the destination died meanwhile, the send goes on
                       and the message is destroyed (P6.14)
  4. copyin_ool        out-of-line memory into VM copies (INVALID_MEMORY)
  5. copyin_rights     the real copyin (cannot fail after step 2)
  6. deliver           enqueue / kernel server / destroy if the port is dead

Receive (`mach_msg_receive`):
  1. lookup            the name must be a receive right or a port set
                       (MACH_RCV_INVALID_NAME; a member of a set: MACH_RCV_IN_SET)
  2. wait              mqueue.py (PORT_DIED, PORT_CHANGED, TIMED_OUT)
  3. too_large         bigger than rcv_size: dequeued and destroyed, only the
                       header delivered, MACH_RCV_TOO_LARGE (P6.17)
  4. copyout_header    destination consumed, reply right inserted
  5. copyout_body      rights and OOL memory into the receiver's space; a
                       failure there is soft (MACH_RCV_BODY_ERROR | bits) and
                       the message is still delivered (`err.message`)

All functions here are called with the kernel lock held.  Options not modelled:
SEND_INTERRUPT / RCV_INTERRUPT (no signals), SEND_CANCEL and RCV_NOTIFY
(legacy), RCV_OVERWRITE (scatter buffers) are accepted and ignored.
"""

from __future__ import annotations

from .. import param
from ..kern.memory import QUEUED
from ..errors import (MACH_MSG_IPC_SPACE, MACH_MSG_VM_SPACE, KernError,
                           KernReturn)
from ..mach_types import MACH_PORT_DEAD, MACH_PORT_NULL, CopyOption, MsgOption, MsgType, PortType
from .ipc_kernel import ipc_state
from .kmsg import (MACH_MSG_HEADER_SIZE, Kmsg, OOLItem, OOLPortsItem, PortItem,
                   int_item_ok, ipc_kmsg_clean_body, ipc_kmsg_consume_dest, ipc_kmsg_deliver,
                   ipc_object_destroy, msgh_id)
from .message import Message, OOLDesc, OOLPortsDesc, PortDesc
from .mqueue import (Deadline, ipc_mqueue_full, ipc_mqueue_receive_port,
                     ipc_mqueue_receive_set, ipc_mqueue_wait_send)
from .port import port_valid
from .pset import PortSet
from .right import (DISPOSITIONS, SEND_DISPOSITIONS, ipc_right_copyin,
                    ipc_right_copyin_check, ipc_right_copyout, received_type)


def _err(code, detail: str = "") -> KernError:
    return KernError(code, detail)


# ============================ send ==========================================

def _send_space(task):
    space = getattr(task, "itk_space", None)
    if space is None or not space.active:
        raise _err(KernReturn.MACH_SEND_INVALID_DEST, "sender's task is dead")
    return space


def _check_name(name) -> None:
    if not isinstance(name, int) or isinstance(name, bool) or not 0 <= name <= MACH_PORT_DEAD:
        raise _err(KernReturn.MACH_SEND_INVALID_HEADER, f"bad port name {name!r}")


def _check_item(item) -> None:
    """One body item is well formed (MACH_SEND_INVALID_TYPE otherwise)."""
    bad = _err(KernReturn.MACH_SEND_INVALID_TYPE, f"bad body item {item!r}")
    if isinstance(item, (bytes, bytearray)):
        return
    if isinstance(item, int):
        if not int_item_ok(item):
            raise bad                       # an inline integer is 8 bytes
        return
    if isinstance(item, PortDesc):
        if not isinstance(item.name, int) or item.disposition not in DISPOSITIONS | {MsgType.PORT_NAME}:
            raise bad
    elif isinstance(item, OOLDesc):
        if item.copy not in (CopyOption.PHYSICAL_COPY, CopyOption.VIRTUAL_COPY):
            raise bad
        if item.data is None and (not isinstance(item.size, int) or item.size < 0):
            raise bad
        if item.data is not None and not isinstance(item.data, (bytes, bytearray)):
            raise bad
    elif isinstance(item, OOLPortsDesc):
        if item.disposition not in DISPOSITIONS or not all(isinstance(n, int) for n in item.names):
            raise bad
    else:
        raise bad


def step_check_header(msg) -> int:
    """Step 1: the message's shape.  Returns: msgh_size.

    Raises: MACH_SEND_INVALID_DATA (not a Message), MACH_SEND_INVALID_HEADER
    (dispositions, names), MACH_SEND_INVALID_TYPE (body items),
    MACH_SEND_MSG_TOO_SMALL (P6.8).
    """
    if not isinstance(msg, Message) or not isinstance(msg.body, list):
        raise _err(KernReturn.MACH_SEND_INVALID_DATA, "not a Message")
    _check_name(msg.remote_port)
    _check_name(msg.local_port)
    if msg.remote_disp not in SEND_DISPOSITIONS:
        raise _err(KernReturn.MACH_SEND_INVALID_HEADER, f"remote disposition {msg.remote_disp}")
    if (msg.local_port != MACH_PORT_NULL if not msg.local_disp
            else msg.local_disp not in SEND_DISPOSITIONS):
        raise _err(KernReturn.MACH_SEND_INVALID_HEADER, f"local disposition {msg.local_disp}")
    if msgh_id(msg.id) is None:
        raise _err(KernReturn.MACH_SEND_INVALID_HEADER, f"msgh_id {msg.id!r} is not 32 bits")
    for item in msg.body:
        _check_item(item)
    needed = msg.msgh_size
    if msg.size is None:
        return needed
    if (not isinstance(msg.size, int) or msg.size < MACH_MSG_HEADER_SIZE
            or msg.size % 4 or msg.size < needed):
        raise _err(KernReturn.MACH_SEND_MSG_TOO_SMALL, f"size {msg.size} < {needed}")
    return msg.size


def step_check_budget(kernel, size: int) -> None:
    """Step 1b: a message the node may hold (MSG_SIZE_MAX, and room in its budget)."""
    if size > param.MSG_SIZE_MAX:
        raise _err(KernReturn.MACH_SEND_TOO_LARGE, f"{size} bytes > {param.MSG_SIZE_MAX}")
    if kernel.memory.free < size + param.MSG_QUEUED_OVERHEAD:
        kernel.memory.refused[QUEUED] += 1
        raise _err(KernReturn.MACH_SEND_NO_BUFFER, "the node's memory limit")


def _body_names(msg):
    """(name, disposition) of every right in the body, in order."""
    for item in msg.body:
        if isinstance(item, PortDesc) and item.disposition != MsgType.PORT_NAME:
            yield item.name, item.disposition
        elif isinstance(item, OOLPortsDesc):
            for name in item.names:
                yield name, item.disposition


def step_check_rights(space, msg, dest_died: bool):
    """Step 2: simulate the copyin of every right.  Returns: the destination Port
    (None if the destination is dead and `dest_died`, i.e. it died while we
    were blocked on it).

    Raises: MACH_SEND_INVALID_DEST, MACH_SEND_INVALID_REPLY, MACH_SEND_INVALID_RIGHT.
    Nothing is changed.
    """
    ledger: dict = {}
    dest = msg.remote_port
    if dest in (MACH_PORT_NULL, MACH_PORT_DEAD):
        raise _err(KernReturn.MACH_SEND_INVALID_DEST, "null or dead destination")
    if not ipc_right_copyin_check(space, dest, msg.remote_disp, ledger, allow_dead=dest_died):
        if not dest_died:
            raise _err(KernReturn.MACH_SEND_INVALID_DEST, hex(dest))
    if msg.local_disp and not ipc_right_copyin_check(space, msg.local_port, msg.local_disp, ledger):
        raise _err(KernReturn.MACH_SEND_INVALID_REPLY, hex(msg.local_port))
    for name, disp in _body_names(msg):
        if not ipc_right_copyin_check(space, name, disp, ledger):
            raise _err(KernReturn.MACH_SEND_INVALID_RIGHT, hex(name))
    entry = space.lookup(dest)
    port = entry.object if entry is not None else None
    if port_valid(port) and port.proxy is not None and _ool_bytes(msg) > param.DIPC_MAX_OOL_BYTES:
        raise _err(KernReturn.MACH_SEND_NO_BUFFER,
                   f"more than {param.DIPC_MAX_OOL_BYTES} bytes out of line to another node")
    return port if port_valid(port) else None


def _ool_bytes(msg) -> int:
    return sum((len(i.data) if i.data is not None else i.size) for i in msg.body
               if isinstance(i, OOLDesc))


def _must_wait(port, msg) -> bool:
    """P6.12: a user send to a full queue waits, unless sent on a send-once right."""
    if port is None or not port.active or port.kernel_receive:
        return False
    if received_type(msg.remote_disp) == MsgType.PORT_SEND_ONCE:
        return False
    return ipc_mqueue_full(port)


def step_wait_for_room(task, msg, deadline: Deadline):
    """Steps 2-3: validate, and wait while the destination's queue is full.

    Returns: (dest Port or None, dest_died) once the send can proceed.
    Raises: the step-2 codes; MACH_SEND_TIMED_OUT.
    """
    blocked_on = None
    while True:
        space = _send_space(task)
        dest_died = blocked_on is not None and not blocked_on.active
        port = step_check_rights(space, msg, dest_died)
        if not _must_wait(port, msg):
            return space, dest_died
        ipc_mqueue_wait_send(port, deadline)
        blocked_on = port


def _discard_copies(copies: dict) -> None:
    from ..vm.map import vm_map_copy_discard
    for copy in copies.values():
        if copy is not None:
            vm_map_copy_discard(copy)


def _copyin_one_ool(task, item: OOLDesc):
    from ..vm import map as vm_map
    if item.data is not None:
        return vm_map.vm_map_copy_from_bytes(task.kernel, bytes(item.data)) if item.data else None
    if item.size == 0:
        return None
    if getattr(task, "map", None) is None:
        raise _err(KernReturn.MACH_SEND_INVALID_MEMORY, "task has no map")
    try:
        return vm_map.vm_map_copyin(task.map, item.address, item.size, False)
    except KernError as e:
        raise _err(KernReturn.MACH_SEND_INVALID_MEMORY, e.name) from None


def _deallocate_sources(task, msg) -> None:
    """Remove the regions sent with deallocate=True (only once every copy succeeded)."""
    from ..vm.map import round_page, trunc_page
    for item in msg.body:
        if isinstance(item, OOLDesc) and item.deallocate and item.data is None and item.size:
            task.map.remove(trunc_page(item.address), round_page(item.address + item.size))


def step_copyin_ool(task, msg) -> dict:
    """Step 4: copy out-of-line regions into VM copies.  Returns: {body index: copy}.

    All regions are copied first and only then are those sent with deallocate
    removed from the sender, so a failure leaves the sender's memory intact.
    Raises: MACH_SEND_INVALID_MEMORY (copies already made are discarded).
    """
    copies: dict = {}
    for i, item in enumerate(msg.body):
        if isinstance(item, OOLDesc):
            try:
                copies[i] = _copyin_one_ool(task, item)
            except KernError:
                _discard_copies(copies)
                raise
    _deallocate_sources(task, msg)
    return copies


def _ool_size(item: OOLDesc) -> int:
    return len(item.data) if item.data is not None else item.size


def _copyin_item(space, i: int, item, copies: dict):
    if isinstance(item, PortDesc):
        if item.disposition == MsgType.PORT_NAME:
            return PortItem(item.name, MsgType.PORT_NAME)
        return PortItem(*ipc_right_copyin(space, item.name, item.disposition))
    if isinstance(item, OOLDesc):
        return OOLItem(copies.get(i), _ool_size(item), int(item.copy))
    if isinstance(item, OOLPortsDesc):
        ports = [ipc_right_copyin(space, n, item.disposition)[0] for n in item.names]
        return OOLPortsItem(ports, received_type(item.disposition))
    return bytes(item) if isinstance(item, (bytes, bytearray)) else int(item)


def step_copyin_rights(space, msg, size: int, copies: dict, dest_died: bool) -> Kmsg:
    """Step 5: the real copyin, in the order step 2 simulated.  Returns: the Kmsg."""
    dest, dest_type = None, received_type(msg.remote_disp)
    if not dest_died or ipc_right_copyin_check(space, msg.remote_port, msg.remote_disp, {}):
        dest, dest_type = ipc_right_copyin(space, msg.remote_port, msg.remote_disp)
    reply, reply_type = (ipc_right_copyin(space, msg.local_port, msg.local_disp)
                         if msg.local_disp else (None, 0))
    body = [_copyin_item(space, i, item, copies) for i, item in enumerate(msg.body)]
    return Kmsg(dest=dest, dest_type=dest_type, reply=reply, reply_type=reply_type,
                id=msgh_id(msg.id), body=body, size=size, complex_bit=msg.complex,
                packed=msg.packed)


def mach_msg_send(task, msg: Message, option: int = 0, timeout: int = 0) -> None:
    """Send `msg` from `task`.

    Conditions: kernel lock held (released while blocked on a full queue).
    Raises: MACH_SEND_INVALID_DATA / _HEADER / _TYPE / _MSG_TOO_SMALL (shape),
    MACH_SEND_INVALID_DEST, _REPLY, _RIGHT (P6.15), MACH_SEND_INVALID_MEMORY,
    MACH_SEND_TIMED_OUT (full queue and SEND_TIMEOUT; timeout 0 = do not wait),
    MACH_SEND_TOO_LARGE (over MSG_SIZE_MAX), MACH_SEND_NO_BUFFER (the node's memory
    budget has no room to queue it).
    On every error the sender's rights and memory are unchanged.
    """
    kernel = task.kernel
    assert kernel.lock.held()
    size = step_check_header(msg)
    step_check_budget(kernel, size)
    deadline = Deadline(timeout if option & MsgOption.SEND_TIMEOUT else None)
    space, dest_died = step_wait_for_room(task, msg, deadline)
    copies = step_copyin_ool(task, msg)
    kmsg = step_copyin_rights(space, msg, size, copies, dest_died)
    space.msgs_sent += 1
    ipc_state(kernel).stats.messages_sent += 1
    ipc_kmsg_deliver(kmsg)


# ============================ receive =========================================

def step_lookup_receive(space, name: int):
    """Receive step 1: returns the Port or PortSet named.

    Raises: MACH_RCV_INVALID_NAME, MACH_RCV_IN_SET.
    """
    entry = space.lookup(name) if space is not None and space.active else None
    if entry is None or not entry.has(PortType.RECEIVE | PortType.PORT_SET):
        raise _err(KernReturn.MACH_RCV_INVALID_NAME, hex(name) if isinstance(name, int) else repr(name))
    if entry.has(PortType.RECEIVE) and entry.object.pset is not None:
        raise _err(KernReturn.MACH_RCV_IN_SET, hex(name))
    return entry.object


def _copyout_dest(space, kmsg: Kmsg) -> int:
    """The name received on; the right the message carried to it is used up."""
    port = kmsg.dest
    entry = space.reverse_lookup(port) if port_valid(port) else None
    name = entry.name if entry is not None and entry.has(PortType.RECEIVE) else MACH_PORT_NULL
    ipc_kmsg_consume_dest(kmsg)
    return name


def _header_message(kmsg: Kmsg, dest_name: int, reply_name: int, reply_type: int) -> Message:
    return Message(remote_port=reply_name, remote_disp=reply_type,
                   local_port=dest_name, local_disp=kmsg.dest_type,
                   id=kmsg.id, body=[], size=kmsg.size, seqno=kmsg.seqno,
                   complex_bit=kmsg.complex)


def step_too_large(space, kmsg: Kmsg) -> KernError:
    """Receive step 3 (P6.17): destroy all but the header.  Returns: the error to raise."""
    dest_name = _copyout_dest(space, kmsg)
    reply, reply_type = kmsg.take_reply()
    ipc_object_destroy(reply, reply_type)
    ipc_kmsg_clean_body(kmsg)
    header = _header_message(kmsg, dest_name, MACH_PORT_NULL, reply_type)
    err = _err(KernReturn.MACH_RCV_TOO_LARGE, f"message size {kmsg.size}")
    err.header = header
    return err


def step_copyout_header(space, kmsg: Kmsg) -> Message:
    """Receive step 4.  Raises: MACH_RCV_HEADER_ERROR|MACH_MSG_IPC_SPACE (message destroyed)."""
    dest_name = _copyout_dest(space, kmsg)
    reply, reply_type = kmsg.take_reply()
    try:
        reply_name = ipc_right_copyout(space, reply, reply_type)
    except KernError:
        ipc_object_destroy(reply, reply_type)
        ipc_kmsg_clean_body(kmsg)
        err = _err(KernReturn.MACH_RCV_HEADER_ERROR | MACH_MSG_IPC_SPACE, "no room for the reply right")
        err.header = _header_message(kmsg, dest_name, MACH_PORT_NULL, reply_type)
        raise err from None
    return _header_message(kmsg, dest_name, reply_name, reply_type)


def _copyout_port(space, port, msgt: int):
    """(name, soft error bits) for one right going into the receiver's space."""
    try:
        return ipc_right_copyout(space, port, msgt), 0
    except KernError:
        ipc_object_destroy(port, msgt)
        return MACH_PORT_NULL, MACH_MSG_IPC_SPACE


def _copyout_ool(task, item: OOLItem):
    if item.copy is None:
        return OOLDesc(0, 0, copy=item.copy_option), 0
    from ..vm.map import vm_map_copy_discard, vm_map_copyout
    copy, item.copy = item.copy, None
    try:
        if getattr(task, "map", None) is None:
            raise KernError(KernReturn.KERN_NO_SPACE)
        return OOLDesc(vm_map_copyout(task.map, copy), item.size, copy=item.copy_option), 0
    except KernError:
        vm_map_copy_discard(copy)
        return OOLDesc(0, item.size, copy=item.copy_option), MACH_MSG_VM_SPACE


def _copyout_item(task, space, item):
    if isinstance(item, PortItem):
        if item.msgt == MsgType.PORT_NAME:
            return PortDesc(item.port, MsgType.PORT_NAME), 0
        name, soft = _copyout_port(space, item.port, item.msgt)
        return PortDesc(name, item.msgt), soft
    if isinstance(item, OOLItem):
        return _copyout_ool(task, item)
    if isinstance(item, OOLPortsItem):
        names, soft = [], 0
        for port in item.ports:
            name, bits = _copyout_port(space, port, item.msgt)
            names.append(name)
            soft |= bits
        return OOLPortsDesc(names, item.msgt), soft
    return item, 0


def step_copyout_body(task, space, kmsg: Kmsg, msg: Message) -> int:
    """Receive step 5: fills msg.body.  Returns: soft error bits (0 if all went in)."""
    body, kmsg.body = kmsg.body, []
    soft = 0
    for item in body:
        if item is None:
            continue
        out, bits = _copyout_item(task, space, item)
        msg.body.append(out)
        soft |= bits
    return soft


def mach_msg_receive(task, name: int, option: int = 0, timeout: int = 0,
                     rcv_size: int | None = None) -> Message:
    """Receive one message on `name` (a receive right or a port set) of `task`.

    Conditions: kernel lock held (released while waiting).
    Returns: the Message, names in the receiver's space.
    Raises: MACH_RCV_INVALID_NAME, MACH_RCV_IN_SET, MACH_RCV_PORT_DIED,
    MACH_RCV_PORT_CHANGED, MACH_RCV_TIMED_OUT (RCV_TIMEOUT; 0 = poll),
    MACH_RCV_TOO_LARGE (`err.header`: the header; the message is gone),
    MACH_RCV_HEADER_ERROR|bits (`err.header`), MACH_RCV_BODY_ERROR|bits
    (`err.message`: the message, delivered with the failed items null).
    """
    kernel = task.kernel
    assert kernel.lock.held()
    space = getattr(task, "itk_space", None)
    obj = step_lookup_receive(space, name)
    deadline = Deadline(timeout if option & MsgOption.RCV_TIMEOUT else None)
    if isinstance(obj, PortSet):
        _port, kmsg = ipc_mqueue_receive_set(space, obj, deadline)
    else:
        kmsg = ipc_mqueue_receive_port(space, obj, deadline)
    space.msgs_received += 1
    ipc_state(kernel).stats.messages_received += 1
    if rcv_size is not None and kmsg.size > rcv_size:
        raise step_too_large(space, kmsg)
    msg = step_copyout_header(space, kmsg)
    soft = step_copyout_body(task, space, kmsg, msg)
    if soft:
        err = _err(KernReturn.MACH_RCV_BODY_ERROR | soft, "some items could not be copied out")
        err.message = err.header = msg
        raise err
    return msg


# ============================ combined =========================================

def mach_msg(task, msg: Message | None, option: int, rcv_name: int = 0, timeout: int = 0,
             rcv_size: int | None = None, notify: int = 0) -> Message | None:
    """mach_msg: send (SEND_MSG) then receive (RCV_MSG), each optional.

    `timeout` (ms) applies to each phase that has its *_TIMEOUT option.
    `notify` is accepted for the Mach signature and ignored.
    Returns: the received Message, or None without RCV_MSG.
    Raises: the codes of mach_msg_send / mach_msg_receive; a send error
    prevents the receive.
    """
    if option & MsgOption.SEND_MSG:
        mach_msg_send(task, msg, option, timeout)
    if option & MsgOption.RCV_MSG:
        return mach_msg_receive(task, rcv_name, option, timeout, rcv_size)
    return None
