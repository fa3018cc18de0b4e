"""Traps: how guest code enters the kernel (docs/guest-abi.md).

The machine layer calls `TRAPS[number].call(thread, args)` with the six
argument registers; the value returned goes to rax.  Mach traps keep Mach's
numbers (negative); a positive number is a kernel call: the MIG id of a
routine of `kern/routines.py`, with its arguments in a word array in guest
memory.  Every guest pointer is checked through the fault path, so a bad one
is a Mach code, never a kernel crash.  Conditions for every handler: kernel
lock held (released only while a blocking trap waits).
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass

from . import records
from ..errors import KernError, KernReturn
from .routines import ROUTINES, convert_target

K = KernReturn
U64 = (1 << 64) - 1


@dataclass(frozen=True)
class Trap:
    number: int
    name: str
    handler: object
    blocking: bool = False       # may wait: the CPU saves registers first

    def call(self, thread, args: list[int]) -> int:
        try:
            return self.handler(thread, *args)
        except KernError as e:
            return e.code


TRAPS: dict[int, Trap] = {}


def trap(number: int, name: str, blocking: bool = False):
    def register(fn):
        assert number not in TRAPS
        TRAPS[number] = Trap(number, name, fn, blocking)
        return fn
    return register


def trap_unknown(number: int) -> Trap:
    return Trap(number, "unknown", lambda *_a: int(K.KERN_INVALID_ARGUMENT))


# -- guest memory ------------------------------------------------------------------------

def copyin(task, address: int, size: int) -> bytes:
    """Bytes from the task's memory.  Raises KERN_INVALID_ADDRESS / KERN_PROTECTION_FAILURE,
    KERN_RESOURCE_SHORTAGE (over KERNEL_COPY_MAX bytes)."""
    from ..vm.user import vm_read
    return vm_read(task.map, address, size)


def copyout(task, address: int, data: bytes) -> None:
    from ..vm.user import vm_write
    vm_write(task.map, address, data)


def copyout_region(task, data: bytes) -> int:
    """A fresh region of the task holding `data` (vm_read's and arrays' out data)."""
    from ..vm.user import vm_allocate
    if not data:
        return 0
    addr = vm_allocate(task.map, 0, len(data), True)
    copyout(task, addr, data)
    return addr


# -- Mach traps --------------------------------------------------------------------------

def _name_for(task, port, msgt) -> int:
    from ..ipc.port import port_valid
    if not port_valid(port):
        return 0
    return task.itk_space.copyout_right(port, msgt)


@trap(-26, "mach_reply_port")
def mach_reply_port(thread, *_):
    from ..ipc.mach_port import mach_port_allocate
    from ..mach_types import PortRight
    return mach_port_allocate(thread.task.itk_space, PortRight.RECEIVE)


@trap(-27, "thread_self_trap")
def thread_self_trap(thread, *_):
    from ..ipc.port import ipc_port_make_send
    from ..mach_types import MsgType
    return _name_for(thread.task, ipc_port_make_send(thread.ith_self), MsgType.PORT_SEND)


@trap(-28, "task_self_trap")
def task_self_trap(thread, *_):
    from ..ipc.port import ipc_port_copy_send
    from ..mach_types import MsgType
    task = thread.task
    return _name_for(task, ipc_port_copy_send(task.itk_sself), MsgType.PORT_SEND)


@trap(-29, "host_self_trap")
def host_self_trap(thread, *_):
    from ..ipc.port import ipc_port_make_send
    from ..mach_types import MsgType
    return _name_for(thread.task, ipc_port_make_send(thread.kernel.host.port), MsgType.PORT_SEND)


@trap(-101, "normach_host_priv_self")
def host_priv_self(thread, *_):
    """host_priv of the task's node, for a task given the bootstrap privilege (spawned
    privileged, or the child of one); MACH_PORT_NULL for every other task."""
    from ..ipc.port import ipc_port_make_send
    from ..mach_types import MsgType
    if not thread.task.privileged:
        return 0
    return _name_for(thread.task, ipc_port_make_send(thread.kernel.host_priv.port), MsgType.PORT_SEND)


@trap(-59, "swtch_pri", blocking=True)
def swtch_pri(thread, *_):
    lock = thread.kernel.lock
    lock.release()
    try:
        time.sleep(0.0002)
    finally:
        lock.acquire()
    return 0


@trap(-100, "normach_task_exit", blocking=True)
def normach_task_exit(thread, status, *_):
    from .task import task_terminate
    task = thread.task
    if task.active:
        task.exit_status = status & 0xFF
        task_terminate(task)
    return 0


@trap(-31, "mach_msg_trap", blocking=True)
def mach_msg_trap(thread, msg, option, send_size, rcv_size, rcv_name, timeout):
    from ..ipc import msg_layout
    from ..ipc.mach_msg import mach_msg
    from ..mach_types import MsgOption
    task = thread.task
    option, send_size, rcv_size = option & 0xFFFFFFFF, send_size & 0xFFFFFFFF, rcv_size & 0xFFFFFFFF
    rcv_name, timeout = rcv_name & 0xFFFFFFFF, timeout & 0xFFFFFFFF
    sending = None
    if option & MsgOption.SEND_MSG:
        sending = _guest_message(task, msg, send_size)
    # A receive buffer that cannot be written matters only once a message comes: the
    # receive waits as any (the "sleep" of Mach libraries: a timed receive into NULL on
    # a fresh port), and a message that comes is destroyed, MACH_RCV_INVALID_DATA.
    unwritable = bool(option & MsgOption.RCV_MSG) and not _writable(task, msg, rcv_size)
    try:
        got = mach_msg(task, sending, option, rcv_name, timeout, 0 if unwritable else rcv_size)
    except KernError as e:
        if unwritable and e.code == K.MACH_RCV_TOO_LARGE:
            return int(K.MACH_RCV_INVALID_DATA)      # (destroyed as too large for 0 bytes)
        if e.code == K.MACH_RCV_TOO_LARGE and getattr(e, "header", None) is not None:
            size = getattr(e, "size", 0) or getattr(e.header, "size", 0) or 0
            _try_copyout(task, msg, msg_layout.encode_header(e.header, size))
        elif getattr(e, "message", None) is not None:
            _deliver(task, msg, rcv_size, e.message)
        return e.code
    if got is not None:
        _deliver(task, msg, rcv_size, got)
    return 0


def _guest_message(task, msg: int, send_size: int):
    from .. import param
    from ..ipc import msg_layout
    if send_size > param.MSG_SIZE_MAX:
        raise KernError(K.MACH_SEND_TOO_LARGE, f"{send_size} bytes")
    try:
        buf = copyin(task, msg, send_size)
    except KernError:
        raise KernError(K.MACH_SEND_INVALID_DATA, "message buffer unreadable") from None

    carried = [0]                   # names in the port arrays so far

    def read_names(address, count):
        carried[0] += count
        if carried[0] > param.MSG_PORTS_MAX:
            raise KernError(K.MACH_SEND_TOO_LARGE, f"over {param.MSG_PORTS_MAX} names in port arrays")
        try:
            data = copyin(task, address, 4 * count)
        except KernError:
            raise KernError(K.MACH_SEND_INVALID_MEMORY, "port array unreadable") from None
        return list(struct.unpack(f"<{count}I", data))
    return msg_layout.decode_send(buf, read_names)


def _writable(task, address: int, size: int) -> bool:
    from ..vm.user import vm_check_access
    from ..mach_types import VMProt
    try:
        vm_check_access(task.map, address, max(size, 1), VMProt.WRITE)
        return True
    except KernError:
        return False


def _try_copyout(task, address: int, data: bytes) -> bool:
    try:
        copyout(task, address, data)
        return True
    except KernError:
        return False


def _deliver(task, msg: int, rcv_size: int, got) -> None:
    from ..ipc import msg_layout

    def write_names(names):
        return copyout_region(task, struct.pack(f"<{len(names)}I", *names))
    data = msg_layout.encode_received(got, write_names)
    if len(data) + msg_layout.TRAILER.size <= rcv_size:
        data += msg_layout.trailer(got.seqno)
    _try_copyout(task, msg, data)


# -- kernel calls --------------------------------------------------------------------------

_IN_WORDS = {"int": 1, "bool": 1, "bytes": 2, "port": 1, "poly": 2, "ports": 2, "state": 2,
             "record": 2}
_OUT_WORDS = {"int": 1, "int32": 1, "port": 1, "task": 1, "thread": 1, "sonce": 1, "right": 2,
              "bytes": 2, "threads": 2, "ports": 2, "names": 4, "ints": 2, "record": 2,
              "state": 2}
_OUT_WIDTH = {"int": 8, "int32": 4, "port": 4, "task": 4, "thread": 4, "sonce": 4}


def kernel_call(thread, routine, argp: int, nwords: int) -> int:
    """Run `routine` for a guest: decode, check out-pointers, execute, copy out."""
    task = thread.task
    need = 1 + sum(_IN_WORDS[k] for _n, k in routine.params) + \
        sum(_OUT_WORDS[k] for k in routine.outs)
    if nwords != need:
        return int(K.MIG_BAD_ARGUMENTS)
    words = list(struct.unpack(f"<{need}Q", copyin(task, argp, 8 * need)))
    port = _target(task, words[0])
    remote = port.proxy is not None                  # the object lives on another node
    held = []
    try:
        target = None if remote else convert_target(port, routine.target)
        params, pos = _decode_params(task, routine, words, held)
        outs = words[pos:]
        _check_outs(task, routine.outs, outs)
    except KernError:
        _release_all(held)
        raise
    if remote:
        return _remote_kernel_call(thread, routine, port, params, outs)
    result = routine.impl(target, *params)
    values = [] if not routine.outs else [result] if len(routine.outs) == 1 else list(result)
    _copy_outs(task, routine.outs, outs, values)
    return 0


def _target(task, name: int):
    """The port a kernel call is sent to: the caller must hold a send right (E3.1)."""
    from ..ipc.port import port_valid
    from ..mach_types import PortType
    entry = task.itk_space.lookup(name & 0xFFFFFFFF) if name else None
    port = entry.object if entry is not None else None
    if not port_valid(port) or not port.active or not entry.has(PortType.SEND | PortType.SEND_ONCE):
        raise KernError(K.MACH_SEND_INVALID_DEST, f"name {name:#x} is not a send right")
    return port


def _copyin_name(task, name: int, disposition: int, held: list):
    if name == 0:
        return None, 0
    try:
        port, msgt = task.itk_space.copyin_right(name & 0xFFFFFFFF, disposition)
    except KernError as e:
        raise KernError(K.MACH_SEND_INVALID_RIGHT, e.detail or e.name) from None
    held.append((port, msgt))
    return port, msgt


def _decode_params(task, routine, words, held):
    from .. import param
    from ..mach_types import MsgType
    params, pos = [], 1
    for _name, kind in routine.params:
        w = words[pos]
        if kind in ("int", "bool"):
            params.append(w - (1 << 64) if w >> 63 else w)
        elif kind == "bytes":
            params.append(copyin(task, w, words[pos + 1]))
        elif kind == "port":
            params.append(_copyin_name(task, w, MsgType.COPY_SEND, held)[0])
        elif kind == "poly":
            params += list(_copyin_name(task, w, words[pos + 1] & 0xFF, held))
        elif kind == "ports":
            count = words[pos + 1]
            if count > param.CALL_ARRAY_MAX:
                raise KernError(K.KERN_INVALID_ARGUMENT, f"{count} ports")
            names = struct.unpack(f"<{count}I", copyin(task, w, 4 * count)) if count else ()
            params.append([_copyin_name(task, n, MsgType.COPY_SEND, held)[0] for n in names])
        elif kind in ("state", "record"):
            count = words[pos + 1] & 0xFFFFFFFF
            if count > param.CALL_ARRAY_MAX:
                raise KernError(K.KERN_INVALID_ARGUMENT, f"an array of {count} words")
            params.append(records.param_words(kind, copyin(task, w, 4 * count) if count else b""))
        pos += _IN_WORDS[kind]
    return params, pos


def _check_outs(task, kinds, outs) -> None:
    """Every out pointer must be writable before the routine runs (nothing half-done)."""
    pos = 0
    for kind in kinds:
        n = _OUT_WORDS[kind]
        for i in range(n):
            width = _OUT_WIDTH.get(kind, 8 if i % 2 == 0 and kind not in ("record", "state") else 4)
            if not _writable(task, outs[pos + i], width):
                raise KernError(K.KERN_INVALID_ADDRESS, f"out parameter {pos + i} not writable")
        pos += n


def _release_all(held) -> None:
    from ..ipc.kmsg import ipc_object_destroy
    for port, msgt in held:
        if port is not None:
            ipc_object_destroy(port, msgt)


def _u32(task, ptr, value) -> None:
    copyout(task, ptr, struct.pack("<I", value & 0xFFFFFFFF))


def _u64(task, ptr, value) -> None:
    copyout(task, ptr, struct.pack("<Q", value & U64))


def _array(task, values, fmt="I") -> int:
    return copyout_region(task, struct.pack(f"<{len(values)}{fmt}", *values))


def _copy_outs(task, kinds, outs, values) -> None:
    from ..ipc.port import ipc_port_make_send
    from ..mach_types import MsgType
    pos = 0
    S, SO = MsgType.PORT_SEND, MsgType.PORT_SEND_ONCE
    for kind, v in zip(kinds, values):
        p = outs[pos:pos + _OUT_WORDS[kind]]
        if kind == "int":
            _u64(task, p[0], v)
        elif kind == "int32":
            _u32(task, p[0], v)
        elif kind == "task":                  # a Task here, or a send right (a task elsewhere)
            right = ipc_port_make_send(v.itk_self) if hasattr(v, "itk_self") else v
            _u32(task, p[0], _name_for(task, right, S))
        elif kind == "thread":
            _u32(task, p[0], _name_for(task, ipc_port_make_send(v.ith_self), S))
        elif kind in ("port", "sonce"):
            _u32(task, p[0], _dead_or_name(task, v, S if kind == "port" else SO))
        elif kind == "right":
            port, msgt = v
            _u32(task, p[0], _dead_or_name(task, port, msgt))
            _u32(task, p[1], msgt)
        elif kind == "bytes":
            _u64(task, p[0], copyout_region(task, v))
            _u32(task, p[1], len(v))
        elif kind in ("threads", "ports"):
            rights = [ipc_port_make_send(t.ith_self) for t in v] if kind == "threads" else v
            names = [_dead_or_name(task, r, S) for r in rights]
            _u64(task, p[0], _array(task, names))
            _u32(task, p[1], len(names))
        elif kind == "names":
            names, types = v
            _u64(task, p[0], _array(task, names))
            _u32(task, p[1], len(names))
            _u64(task, p[2], _array(task, types))
            _u32(task, p[3], len(types))
        elif kind == "ints":
            _u64(task, p[0], _array(task, list(v)))
            _u32(task, p[1], len(v))
        elif kind in ("record", "state"):
            words = records.out_words(kind, v)
            cap = struct.unpack("<I", copyin(task, p[1], 4))[0]
            if cap < 2 * len(words):
                raise KernError(K.KERN_INVALID_ARGUMENT, f"count {cap} < {2 * len(words)}")
            copyout(task, p[0], struct.pack(f"<{len(words)}Q", *[w & U64 for w in words]))
            _u32(task, p[1], 2 * len(words))
        pos += _OUT_WORDS[kind]


def _dead_or_name(task, port, msgt) -> int:
    from ..ipc.port import IP_DEAD
    from ..mach_types import MACH_PORT_DEAD
    if port is IP_DEAD:
        return MACH_PORT_DEAD
    return _name_for(task, port, msgt)


# -- kernel calls on another node's objects ---------------------------------------------------

def _remote_kernel_call(thread, routine, port, params, outs) -> int:
    """A kernel call on an object of another node (kern/remote_call.py); the reply's
    outs are copied out to the guest.  Conditions: kernel lock held."""
    from .remote_call import remote_call
    task = thread.task
    code, kinds, values, done = remote_call(thread.kernel, routine, port, params,
                                            alive=lambda: thread.active)
    try:
        if code == 0:
            _copy_outs(task, kinds, outs, values)
            done(consumed=True)
    finally:
        done(consumed=False)
    return code


def _install_kernel_calls() -> None:
    for r in ROUTINES.values():
        TRAPS[r.id] = Trap(r.id, r.name, _kernel_call_handler(r), blocking=True)


def _kernel_call_handler(routine):
    def handler(thread, argp, nwords, *_):
        return kernel_call(thread, routine, argp, nwords)
    return handler


# -- Linux system calls -----------------------------------------------------------------------

def _install_linux_syscalls() -> None:
    """Numbers 0..LINUX_SYSCALL_MAX-1 are Linux's: each is EXC_SYSCALL to the thread's
    handler (kern/exception.py), -ENOSYS without one.  Mach traps are negative and
    kernel calls start at 1000, so the two never collide (tests/test_layering.py)."""
    from .. import param
    for number in range(param.LINUX_SYSCALL_MAX):
        assert number not in TRAPS
        TRAPS[number] = Trap(number, "linux_syscall", _linux_handler(number), blocking=True)


def _linux_handler(number: int):
    from .exception import syscall_raise

    def handler(thread, *_args):
        return syscall_raise(thread, number)
    return handler


_install_kernel_calls()
_install_linux_syscalls()
