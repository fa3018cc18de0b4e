"""Return codes and the two kinds of failure: the bottom floor, as Mach's
`include/mach/kern_return.h` (every layer imports it; it imports nothing of ours).

Everything a caller, a guest or another node can cause is reported with a Mach
code: the kernel raises `KernError(code)` inside and the user-exported layer lets
it reach the caller (`normach.mach` raises it; the guest ABI returns the number).
A kernel bug is never a `KernError`: it is an `AssertionError` or `KernelPanic`.
"""

from enum import IntEnum


class KernReturn(IntEnum):
    """Every kern_return_t, mach_msg_return_t and MIG code of spec §3.1-3.2."""

    KERN_SUCCESS = 0
    KERN_INVALID_ADDRESS = 1
    KERN_PROTECTION_FAILURE = 2
    KERN_NO_SPACE = 3
    KERN_INVALID_ARGUMENT = 4
    KERN_FAILURE = 5
    KERN_RESOURCE_SHORTAGE = 6
    KERN_NOT_RECEIVER = 7
    KERN_NO_ACCESS = 8
    KERN_MEMORY_FAILURE = 9
    KERN_MEMORY_ERROR = 10
    KERN_NOT_IN_SET = 12
    KERN_NAME_EXISTS = 13
    KERN_ABORTED = 14
    KERN_INVALID_NAME = 15
    KERN_INVALID_TASK = 16
    KERN_INVALID_RIGHT = 17
    KERN_INVALID_VALUE = 18
    KERN_UREFS_OVERFLOW = 19
    KERN_INVALID_CAPABILITY = 20
    KERN_RIGHT_EXISTS = 21
    KERN_INVALID_HOST = 22
    KERN_MEMORY_PRESENT = 23
    KERN_MEMORY_DATA_MOVED = 24
    KERN_MEMORY_RESTART_COPY = 25
    KERN_INVALID_PROCESSOR_SET = 26
    KERN_POLICY_LIMIT = 27
    KERN_INVALID_POLICY = 28
    KERN_INVALID_OBJECT = 29
    KERN_ALREADY_WAITING = 30
    KERN_DEFAULT_SET = 31
    KERN_EXCEPTION_PROTECTED = 32
    KERN_INVALID_LEDGER = 33
    KERN_INVALID_MEMORY_CONTROL = 34
    KERN_INVALID_SECURITY = 35
    KERN_NOT_DEPRESSED = 36
    KERN_TERMINATED = 37
    KERN_LOCK_SET_DESTROYED = 38
    KERN_LOCK_UNSTABLE = 39
    KERN_LOCK_OWNED = 40
    KERN_LOCK_OWNED_SELF = 41
    KERN_SEMAPHORE_DESTROYED = 42
    KERN_RPC_SERVER_TERMINATED = 43
    KERN_RPC_TERMINATE_ORPHAN = 44
    KERN_RPC_CONTINUE_ORPHAN = 45
    KERN_NO_THREAD = 46
    KERN_NODE_DOWN = 47
    KERN_NOT_WAITING = 48
    KERN_OPERATION_TIMED_OUT = 49
    KERN_RETURN_MAX = 0x100

    MACH_SEND_IN_PROGRESS = 0x10000001
    MACH_SEND_INVALID_DATA = 0x10000002
    MACH_SEND_INVALID_DEST = 0x10000003
    MACH_SEND_TIMED_OUT = 0x10000004
    MACH_SEND_INTERRUPTED = 0x10000007
    MACH_SEND_MSG_TOO_SMALL = 0x10000008
    MACH_SEND_INVALID_REPLY = 0x10000009
    MACH_SEND_INVALID_RIGHT = 0x1000000A
    MACH_SEND_INVALID_NOTIFY = 0x1000000B
    MACH_SEND_INVALID_MEMORY = 0x1000000C
    MACH_SEND_NO_BUFFER = 0x1000000D
    MACH_SEND_TOO_LARGE = 0x1000000E
    MACH_SEND_INVALID_TYPE = 0x1000000F
    MACH_SEND_INVALID_HEADER = 0x10000010
    MACH_SEND_INVALID_TRAILER = 0x10000011
    MACH_SEND_TRANSPORT_ERROR = 0x10000012
    MACH_SEND_PORT_MIGRATED = 0x10000013
    MACH_SEND_RESEND_FAILED = 0x10000014
    MACH_SEND_INVALID_RT_OOL_SIZE = 0x10000015   # OSF MK real-time IPC (never returned here)

    MACH_RCV_IN_PROGRESS = 0x10004001
    MACH_RCV_INVALID_NAME = 0x10004002
    MACH_RCV_TIMED_OUT = 0x10004003
    MACH_RCV_TOO_LARGE = 0x10004004
    MACH_RCV_INTERRUPTED = 0x10004005
    MACH_RCV_PORT_CHANGED = 0x10004006
    MACH_RCV_INVALID_NOTIFY = 0x10004007
    MACH_RCV_INVALID_DATA = 0x10004008
    MACH_RCV_PORT_DIED = 0x10004009
    MACH_RCV_IN_SET = 0x1000400A
    MACH_RCV_HEADER_ERROR = 0x1000400B
    MACH_RCV_BODY_ERROR = 0x1000400C
    MACH_RCV_INVALID_TYPE = 0x1000400D
    MACH_RCV_SCATTER_SMALL = 0x1000400E
    MACH_RCV_INVALID_TRAILER = 0x1000400F
    MACH_RCV_TRANSPORT_ERROR = 0x10004010
    MACH_RCV_IN_PROGRESS_TIMED = 0x10004011      # OSF MK real-time IPC (never returned here)

    MIG_TYPE_ERROR = -300
    MIG_REPLY_MISMATCH = -301
    MIG_REMOTE_ERROR = -302
    MIG_BAD_ID = -303
    MIG_BAD_ARGUMENTS = -304
    MIG_NO_REPLY = -305
    MIG_EXCEPTION = -306
    MIG_ARRAY_TOO_LARGE = -307
    MIG_SERVER_DIED = -308
    MIG_TRAILER_ERROR = -309

    EML_BAD_TASK = 0x2000     # emulation errors are module-coded; these two values are ours
    EML_BAD_CNT = 0x2001


# Copyout soft-failure bits OR-ed into MACH_RCV_HEADER_ERROR / BODY_ERROR (§3.2), and
# their mask (OSF MK message.h; 0x200 is its real-time MACH_MSG_INVALID_RT_DESCRIPTOR).
MACH_MSG_IPC_SPACE = 0x2000
MACH_MSG_VM_SPACE = 0x1000
MACH_MSG_IPC_KERNEL = 0x800
MACH_MSG_VM_KERNEL = 0x400
MACH_MSG_MASK = 0x3E00


def code_name(code: int) -> str:
    """The Mach name of a code, or its hex value if it has none."""
    try:
        return KernReturn(code).name
    except ValueError:
        return hex(code)


class KernError(Exception):
    """A Mach error a caller can cause: `.code` is the kern_return_t, `.name` its name."""

    def __init__(self, code: int, detail: str = ""):
        self.code = int(code)
        self.name = code_name(self.code)
        self.detail = detail
        super().__init__(f"{self.name}" + (f": {detail}" if detail else ""))

    def __reduce__(self):
        return (KernError, (self.code, self.detail))


class KernelPanic(Exception):
    """A kernel invariant was broken: a bug in normach, never a caller's fault."""


def panic(msg: str) -> "KernelPanic":
    return KernelPanic(msg)
