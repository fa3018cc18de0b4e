"""`normach demo --tour`: a guided tour of what a normach node does, for a newcomer.

Each step prints what it is about to show, does it with the real kernel
calls, and prints what came back.
"""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from .. import Cluster, KernError, MsgOption, MsgType, Notify, PortRight, VMInherit, mach
from ..ipc.message import Message, OOLDesc, PortDesc

PAGE = 4096
RECEIVED = {int(MsgType.PORT_SEND): "a send right", int(MsgType.PORT_SEND_ONCE): "a send-once right",
            int(MsgType.PORT_RECEIVE): "a receive right"}


def _step(con: Console, title: str, text: str) -> None:
    con.print()
    con.print(Panel(text, title=f"[bold]{title}[/bold]", expand=False))


def _peek(task, addr: int, n: int) -> str:
    try:
        return repr(mach.vm_read(task, addr, n).rstrip(b"\0").decode())
    except KernError as e:
        return f"[red]{e.name}[/red]"


def tour_memory(con: Console, c: Cluster) -> None:
    _step(con, "1. Tasks and virtual memory",
          "A task owns an address space. We give one three regions and mark how a child "
          "created from it should inherit each: SHARE, COPY (copy-on-write) or NONE.")
    parent = c.task_create(node=0, name="parent")
    regions = {}
    for label, inh in (("shared", VMInherit.SHARE), ("copied", VMInherit.COPY),
                       ("private", VMInherit.NONE)):
        a = mach.vm_allocate(parent, 0, 2 * PAGE, True)
        mach.vm_write(parent, a, f"parent's {label} data".encode())
        mach.vm_inherit(parent, a, 2 * PAGE, inh)
        regions[label] = a
    child = mach.task_create(parent, True)
    t = Table("region", "address", "inheritance", "parent reads", "child reads")
    for label, a in regions.items():
        r = mach.vm_region(parent, a)
        t.add_row(label, hex(a), VMInherit(r.inheritance).name, _peek(parent, a, 32), _peek(child, a, 32))
    con.print("task_create(parent, inherit_memory=True) -> child")
    con.print(t)
    con.print("Now the child writes into its 'shared' and 'copied' regions:")
    mach.vm_write(child, regions["shared"], b"child wrote here!!!!!!")
    mach.vm_write(child, regions["copied"], b"child's private copy!")
    t = Table("region", "parent reads", "child reads")
    for label in ("shared", "copied"):
        a = regions[label]
        t.add_row(label, _peek(parent, a, 32), _peek(child, a, 32))
    con.print(t)
    s = mach.vm_statistics(parent)
    con.print(f"The shared write is seen by both; the copied one made a private page "
              f"(copy-on-write faults so far: {s['cow_faults']}, zero-fill pages: {s['zero_fill_count']}).")
    mach.task_terminate(child)
    mach.task_terminate(parent)


def tour_messages(con: Console, c: Cluster) -> None:
    _step(con, "2. Ports and messages",
          "Tasks talk by sending messages to ports. A port has one receiver and any number of "
          "senders; rights to ports are capabilities held under names in a task's port space.")
    server, client = c.task_create(name="server"), c.task_create(name="client")
    service = mach.mach_port_allocate(server, PortRight.RECEIVE)
    send = mach.mach_port_extract_right(server, service, MsgType.MAKE_SEND)
    name = 0x2003
    mach.mach_port_insert_right(client, name, send, MsgType.MOVE_SEND)
    con.print(f"server holds the receive right as name {service:#x}; "
              f"client got a send right under name {name:#x}")
    reply = mach.mach_port_allocate(client, PortRight.RECEIVE)
    big = mach.vm_allocate(client, 0, 16 * PAGE, True)
    for i in range(16):
        mach.vm_write(client, big + i * PAGE, f"page {i} of the client's buffer".encode())
    msg = Message(remote_port=name, remote_disp=MsgType.COPY_SEND, local_port=reply,
                  local_disp=MsgType.MAKE_SEND_ONCE, id=100,
                  body=[b"hello from the client", 42, PortDesc(reply, MsgType.MAKE_SEND),
                        OOLDesc(big, 16 * PAGE)])
    before = mach.vm_statistics(client)["cow_faults"]
    mach.mach_msg_send(client, msg)
    got = mach.mach_msg_receive(server, service)
    ool, port = got.body[3], got.body[2]
    t = Table("item", "what the server received")
    t.add_row("id", str(got.id))
    t.add_row("inline", repr(got.body[0]))
    t.add_row("inline int", str(got.body[1]))
    t.add_row("port right", f"name {port.name:#x}, {RECEIVED[port.disposition]}")
    t.add_row("reply right", f"name {got.remote_port:#x} (send-once)")
    peek = _peek(server, ool.address + 5 * PAGE, 32)
    t.add_row("out-of-line", f"{ool.size} bytes at {ool.address:#x}: {peek}")
    con.print(t)
    copied = mach.vm_statistics(client)["cow_faults"] - before
    con.print(f"The 64 KiB arrived copy-on-write: pages copied by the transfer: {copied}. Both tasks "
              "map the same frames until one of them writes.")
    mach.mach_msg_send(server, Message(remote_port=got.remote_port,
                                       remote_disp=MsgType.MOVE_SEND_ONCE, id=200, body=[b"done"]))
    ans = mach.mach_msg(client, Message(), MsgOption.RCV_MSG, reply)
    con.print(f"client got the reply: id {ans.id}, {ans.body[0]!r}")

    _step(con, "3. Dead names", "When a task dies its receive rights die with it; every holder of a "
          "send right finds a dead name, and can ask to be told by a notification message.")
    notify = mach.mach_port_allocate(client, PortRight.RECEIVE)
    mach.mach_port_request_notification(client, name, Notify.DEAD_NAME, 1, notify,
                                        MsgType.MAKE_SEND_ONCE)
    mach.task_terminate(server)
    n = mach.mach_msg_receive(client, notify, MsgOption.RCV_TIMEOUT, 1000)
    kind = mach.mach_port_type(client, name)
    con.print(f"task_terminate(server) -> the client received notification id {n.id} "
              f"(DEAD_NAME = {int(Notify.DEAD_NAME)}); name {name:#x} now has type {kind:#x} (dead name)")
    mach.task_terminate(client)


GUEST = r"""
#include <mach.h>
#include <stdio.h>
#include <stdlib.h>
static volatile unsigned long sum;
int main(int argc, char **argv)
{
    unsigned long n = argc > 1 ? strtoul(argv[1], 0, 10) : 1000000;
    vm_address_t buf;
    if (vm_allocate(mach_task_self(), &buf, 64 * vm_page_size, TRUE) != KERN_SUCCESS)
        return 1;
    for (unsigned long i = 0; i < n; i++)
        sum += ((unsigned char *)buf)[(i * 4099) % (64 * vm_page_size)] + i;
    printf("guest: summed %lu values: %lu\n", n, sum);
    return 0;
}
"""


def tour_guest(con: Console, c: Cluster) -> None:
    _step(con, "4. A real program",
          "Tasks run x86-64 machine code: a C program built with the system compiler against "
          "normach's <mach.h> runs on an emulated CPU; its memory is demand-paged by the "
          "kernel's fault path, and its printf goes to a console server by mach_msg.")
    import os
    import tempfile
    from ..guest.build import GuestBuildError, compile_program
    with tempfile.TemporaryDirectory(prefix="normach-demo-") as d:
        src, exe = os.path.join(d, "sum.c"), os.path.join(d, "sum")
        with open(src, "w") as f:
            f.write(GUEST)
        try:
            compile_program(exe, [src])
        except GuestBuildError as e:
            con.print(f"[yellow]skipped: no C compiler here ({e})[/yellow]")
            return
        p = c.spawn(exe, args=["2000000"])
    status = c.wait(p, timeout=60)
    con.print(f"spawned on node 0; exit status {status}; console output:")
    con.print(f"  {c.output(p).strip()}")


def tour_nodes(con: Console) -> list:
    _step(con, "5. Several nodes",
          "A multicomputer: three node kernels, each with its own memory and tasks, joined by a "
          "transport. A right to a port on another node is a proxy; messages to it travel to "
          "the port's node, and a receive right can move to another node with its queue.")
    with Cluster(nodes=3) as c:
        client, server = c.task_create(node=0, name="client"), c.task_create(node=2, name="server")
        port = mach.mach_port_allocate(server, PortRight.RECEIVE)
        mach.mach_port_insert_right(client, 0x2003, mach.mach_port_extract_right(
            server, port, MsgType.MAKE_SEND), MsgType.MOVE_SEND)
        con.print(f"the client on node 0 holds a right to a port of node "
                  f"{mach.norma_port_location_hint(client, 0x2003)}")
        for i in range(3):
            mach.mach_msg_send(client, Message(remote_port=0x2003, remote_disp=MsgType.COPY_SEND,
                                               id=i, body=[f"request {i}".encode()]))
        mover = c.task_create(node=1, name="new home")
        inbox = mach.mach_port_allocate(mover, PortRight.RECEIVE)
        mach.mach_port_insert_right(server, 0x3003, mach.mach_port_extract_right(
            mover, inbox, MsgType.MAKE_SEND), MsgType.MOVE_SEND)
        mach.mach_msg_send(server, Message(remote_port=0x3003, remote_disp=MsgType.COPY_SEND,
                                           body=[PortDesc(port, MsgType.MOVE_RECEIVE)]))
        moved = mach.mach_msg_receive(mover, inbox).body[0].name
        got = [mach.mach_msg_receive(mover, moved) for _ in range(3)]
        con.print(f"the server moved its receive right to node 1; the three queued requests "
                  f"followed, in order: {[m.body[0].rstrip(bytes(1)).decode() for m in got]}")
        mach.mach_msg_send(client, Message(remote_port=0x2003, remote_disp=MsgType.COPY_SEND, id=9))
        con.print(f"a new request from node 0 still arrives (id "
                  f"{mach.mach_msg_receive(mover, moved).id}), forwarded by node 2 (the client's "
                  f"location hint still says node {mach.norma_port_location_hint(client, 0x2003)}:"
                  f" hints may lag a move)")
        return c.audit()


def run(con: Console | None = None) -> int:
    con = con or Console()
    con.print(Panel("[bold]normach[/bold]: a Mach kernel in Python. This tour runs on one embedded node.",
                    expand=False))
    with Cluster(nodes=1) as c:
        con.print(f"booted {c.kernels[0]!r}")
        tour_memory(con, c)
        tour_messages(con, c)
        tour_guest(con, c)
        problems = c.audit()
    problems += tour_nodes(con)
    _step(con, "6. Invariants", "After all that, the kernel audits itself: frames, object references, "
          "page tables, port rights and reference counts.")
    if problems:
        for p in problems:
            con.print(f"[red]{p}[/red]")
        return 1
    con.print("[green]all kernel invariants hold[/green]")
    return 0
