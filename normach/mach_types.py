"""Mach constants: the values of <mach/*.h> a caller passes or receives.

Names and values follow spec §2.1, §6.1-6.5 and §7; they are also what the guest
headers define, so a value means the same thing from Python and from C.
"""

from enum import IntEnum, IntFlag

MACH_PORT_NULL = 0
MACH_PORT_DEAD = 0xFFFFFFFF
TRUE = 1
FALSE = 0


class VMProt(IntFlag):
    NONE = 0
    READ = 1
    WRITE = 2
    EXECUTE = 4
    DEFAULT = 3
    ALL = 7
    NO_CHANGE = 8


class VMInherit(IntEnum):
    SHARE = 0
    COPY = 1
    NONE = 2
    DONATE_COPY = 3
    DEFAULT = 1
    LAST_VALID = 2


class PortRight(IntEnum):
    """MACH_PORT_RIGHT_* (P6.1); RECEIVE_NO_NMS allocates without no-senders (D5.9)."""

    SEND = 0
    RECEIVE = 1
    SEND_ONCE = 2
    PORT_SET = 3
    DEAD_NAME = 4
    NUMBER = 5
    RECEIVE_NO_NMS = 6


def MACH_PORT_TYPE(right: int) -> int:
    return 1 << (right + 16)


class PortType(IntFlag):
    NONE = 0
    SEND = 1 << 16
    RECEIVE = 1 << 17
    SEND_ONCE = 1 << 18
    PORT_SET = 1 << 19
    DEAD_NAME = 1 << 20
    SEND_RECEIVE = SEND | RECEIVE
    SEND_RIGHTS = SEND | SEND_ONCE
    PORT_RIGHTS = SEND | RECEIVE | SEND_ONCE
    PORT_OR_DEAD = PORT_RIGHTS | DEAD_NAME
    ALL_RIGHTS = PORT_OR_DEAD | PORT_SET
    DNREQUEST = 0x80000000


class MsgType(IntEnum):
    """Dispositions (P6.5 table) and received right types (P6.6)."""

    PORT_NAME = 15
    MOVE_RECEIVE = 16
    MOVE_SEND = 17
    MOVE_SEND_ONCE = 18
    COPY_SEND = 19
    MAKE_SEND = 20
    MAKE_SEND_ONCE = 21
    # what the receiver sees
    PORT_RECEIVE = 16
    PORT_SEND = 17
    PORT_SEND_ONCE = 18


class MsgOption(IntFlag):
    NONE = 0
    SEND_MSG = 0x1
    RCV_MSG = 0x2
    SEND_TIMEOUT = 0x10
    SEND_INTERRUPT = 0x40
    SEND_CANCEL = 0x80
    RCV_TIMEOUT = 0x100
    RCV_NOTIFY = 0x200
    RCV_INTERRUPT = 0x400
    RCV_OVERWRITE = 0x1000


MACH_MSGH_BITS_COMPLEX = 0x80000000


def MACH_MSGH_BITS(remote: int, local: int) -> int:
    return remote | (local << 8)


class CopyOption(IntEnum):
    """OOL memory copy options (P6.10)."""

    PHYSICAL_COPY = 0
    VIRTUAL_COPY = 1
    ALLOCATE = 2
    OVERWRITE = 3


class Notify(IntEnum):
    """Notification message ids (§6.5)."""

    PORT_DELETED = 65
    PORT_DESTROYED = 69
    NO_SENDERS = 70
    SEND_ONCE = 71
    DEAD_NAME = 72


class PortFlavor(IntEnum):
    """mach_port_get/set_attributes flavors."""

    LIMITS_INFO = 1
    RECEIVE_STATUS = 2
    DNREQUESTS_SIZE = 3


class TaskSpecialPort(IntEnum):
    KERNEL = 1
    HOST = 2
    BOOTSTRAP = 4
    WIRED_LEDGER = 5
    PAGED_LEDGER = 6


class ThreadSpecialPort(IntEnum):
    """THREAD_*_PORT of OSF MK's thread_special_ports.h."""

    KERNEL = 1


class ThreadStateFlavor(IntEnum):
    """x86-64 thread state flavors (values as in Mach's i386 thread_status.h)."""

    x86_THREAD_STATE64 = 4
    x86_FLOAT_STATE64 = 5
    x86_DEBUG_STATE64 = 11


class HostInfoFlavor(IntEnum):
    HOST_BASIC_INFO = 1
    HOST_SCHED_INFO = 3
    HOST_PRIORITY_INFO = 5


class TaskInfoFlavor(IntEnum):
    TASK_BASIC_INFO = 1
    TASK_THREAD_TIMES_INFO = 3
    TASK_EVENTS_INFO = 2
    TASK_NORMA_MEMORY_INFO = 64    # normach: pages resident, held only elsewhere, lost


class ThreadInfoFlavor(IntEnum):
    THREAD_BASIC_INFO = 3


class ThreadRunState(IntEnum):
    """thread_basic_info.run_state."""

    RUNNING = 1
    STOPPED = 2
    WAITING = 3
    UNINTERRUPTIBLE = 4
    HALTED = 5


class VMRegionFlavor(IntEnum):
    VM_REGION_BASIC_INFO = 10


# NORMA special port ids (OSF MK's norma_special_ports.h): kernel ids below
# MAX_SPECIAL_KERNEL_ID name a node's own ports; user ids up to MAX_SPECIAL_ID are
# registered by servers (norma/node.py).
NORMA_DEVICE_PORT, NORMA_HOST_PORT, NORMA_HOST_PRIV_PORT = 1, 2, 3
NORMA_NAMESERVER_PORT = 11
MAX_SPECIAL_KERNEL_ID, MAX_SPECIAL_ID = 10, 40
