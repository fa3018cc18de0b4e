"""Small helpers shared by the IPC tests (lock held by the caller)."""

from normach.ipc.mach_msg import mach_msg_receive, mach_msg_send
from normach.ipc.mach_port import (
    mach_port_allocate,
    mach_port_extract_right,
    mach_port_get_refs,
    mach_port_request_notification,
    mach_port_type,
)
from normach.ipc.message import Message
from normach.mach_types import MsgOption, MsgType, PortRight

R = PortRight
T = MsgType


def receive_right(task, right=PortRight.RECEIVE) -> int:
    return mach_port_allocate(task.itk_space, right)


def send_right_in(src_task, name, dst_task, disp=MsgType.MAKE_SEND) -> int:
    """Give dst_task a right made/copied from src_task's `name`; returns dst's name."""
    port, msgt = mach_port_extract_right(src_task.itk_space, name, disp)
    return dst_task.itk_space.copyout_right(port, msgt)


def send(task, dest, disp=MsgType.COPY_SEND, body=(), reply=0, reply_disp=0, id=100,
         option=0, timeout=0, size=None):
    mach_msg_send(task, Message(remote_port=dest, remote_disp=disp, local_port=reply,
                                local_disp=reply_disp, id=id, body=list(body), size=size),
                  option, timeout)


def poll(task, name, rcv_size=None):
    """Receive without waiting (RCV_TIMEOUT, timeout 0)."""
    return mach_msg_receive(task, name, MsgOption.RCV_TIMEOUT, 0, rcv_size)


def notify_on(task, name, msg_id, target_name, sync=0):
    """Request notification `msg_id` on target_name with a send-once right made
    from task's receive right `name`; returns the previous request."""
    port, msgt = mach_port_extract_right(task.itk_space, name, MsgType.MAKE_SEND_ONCE)
    return mach_port_request_notification(task.itk_space, target_name, msg_id, sync, port, msgt)


def refs(task, name, right):
    return mach_port_get_refs(task.itk_space, name, right)


def ptype(task, name):
    return mach_port_type(task.itk_space, name)
