"""`normach demo`: a running program moves from computer to computer.

Three nodes (each a Mach kernel with its own memory, here in one process)
run a C program that computes and, at the same time, answers a client's
requests on a port.  The demo moves the program 0 -> 1 -> 2 while it runs
and while the client keeps asking, and shows for each move how long the
program was frozen, how its memory followed (pages fetched when touched,
pages pushed in the background) and that nothing stayed behind.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from .. import Cluster, KernError, MsgOption, MsgType, PortRight, mach
from ..ipc.message import Message
from ..servers.migration import memory_info

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo_server.c")
SERVICE = 0x5003            # demo_server.c's name for its service port
CLIENT_NAME = 0x6003        # the client's name for its send right to it
DRAIN_S = 20.0              # longest wait for a moved program's memory to arrive


class Client:
    """A Python thread in a task on node 0 asking the program for squares, one at a time.

    Fields (its own thread writes, the demo reads at the end): sent, answered, wrong,
    by_node {node: answers}.
    """

    def __init__(self, c: Cluster, program):
        self.task = c.task_create(node=0, name="client")
        right = mach.mach_port_extract_right(program.task_handle, SERVICE, MsgType.MAKE_SEND)
        mach.mach_port_insert_right(self.task, CLIENT_NAME, right, MsgType.MOVE_SEND)
        self.reply = mach.mach_port_allocate(self.task, PortRight.RECEIVE)
        self.sent = self.answered = self.wrong = 0
        self.by_node: dict[int, int] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="demo-client")

    def _run(self) -> None:
        while not self.stopping.is_set():
            x = self.sent + 1
            self.sent += 1
            try:
                m = mach.mach_msg(self.task, Message(
                    remote_port=CLIENT_NAME, remote_disp=MsgType.COPY_SEND,
                    local_port=self.reply, local_disp=MsgType.MAKE_SEND_ONCE, id=1,
                    body=[x.to_bytes(8, "little")]),
                    MsgOption.SEND_MSG | MsgOption.RCV_MSG | MsgOption.RCV_TIMEOUT,
                    self.reply, 10_000)
            except KernError:
                return                          # no answer in 10 s: counted as lost
            if m.id != 101:                     # not the answer (a send-once notification)
                self.wrong += 1
                continue
            data = b"".join(i for i in m.body if isinstance(i, (bytes, bytearray)))
            square = int.from_bytes(data[:8], "little")
            node = int.from_bytes(data[8:12], "little", signed=True)
            self.answered += 1
            self.wrong += square != x * x
            self.by_node[node] = self.by_node.get(node, 0) + 1
            time.sleep(0.01)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(15)


class Lines:
    """The program's console output, printed line by line as it arrives."""

    def __init__(self, con: Console):
        self.con, self.buf, self.count = con, b"", 0
        self.lock = threading.Lock()

    def __call__(self, data: bytes) -> None:
        with self.lock:
            self.buf += data
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                self.count += 1
                self.con.print(f"  [dim]program |[/dim] {line.decode(errors='replace')}",
                               highlight=False)

    def wait_for(self, n: int, timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while self.count < n and time.monotonic() < end:
            time.sleep(0.01)


def _drain(con: Console, task) -> int:
    """Wait while the moved program's memory is pushed to it; returns the pages left."""
    end = time.monotonic() + DRAIN_S
    with con.status("pulling its memory over...") as status:
        while True:
            try:
                left = memory_info(task)["elsewhere"]
            except KernError:
                return 0                    # the program has finished meanwhile
            if left == 0 or time.monotonic() >= end:
                return left
            status.update(f"{left} pages of its memory still on other nodes...")
            time.sleep(0.05)


def _counters(c: Cluster, node: int) -> tuple[int, int]:
    stats = c.kernel(node).xmm.stats
    return stats["pages_in"], stats["pushed_in"]


def _hop(con: Console, c: Cluster, program, lines: Lines, node: int, after_lines: int) -> list:
    """Let the program print `after_lines` lines, move it to `node`; its row of the table."""
    lines.wait_for(after_lines)
    pages_in, pushed = _counters(c, node)
    m = c.migrate(program, node)
    con.print(f"[bold cyan]>> moved from node {m.source} to node {m.node}[/bold cyan]: frozen "
              f"{m.freeze_s * 1e3:.0f} ms, {m.threads} threads and {m.rights} port names moved "
              f"({m.messages} messages were waiting)")
    left = _drain(con, m.task)
    pages_in2, pushed2 = _counters(c, node)
    fetched = (pages_in2 - pages_in) - (pushed2 - pushed)
    con.print(f"[bold cyan]>> its memory followed[/bold cyan]: {fetched} pages fetched when "
              f"touched, {pushed2 - pushed} pushed in the background, {left} left on other nodes")
    return [f"{m.source} -> {m.node}", f"{m.freeze_s * 1e3:.0f} ms", str(m.threads),
            str(m.rights), str(fetched), str(pushed2 - pushed), str(left)]


def _build(con: Console) -> bytes | None:
    """The demo program's ELF image (built in a temporary folder, removed)."""
    from ..guest.build import GuestBuildError, compile_program
    with tempfile.TemporaryDirectory(prefix="normach-demo-") as folder:
        exe = os.path.join(folder, "demo_server")
        try:
            compile_program(exe, [SOURCE])
        except GuestBuildError as e:
            con.print(f"[red]cannot build the demo program: {e}[/red]")
            return None
        with open(exe, "rb") as f:
            return f.read()


def run(con: Console | None = None, rounds: int = 10, hops=(1, 2)) -> int:
    """The demo; returns 0 if the program ended well, every request was answered and
    every kernel invariant holds."""
    con = con or Console()
    con.print(Panel(
        "[bold]normach[/bold]: a Mach multicomputer in Python.\n"
        "Three [bold]nodes[/bold] (each a Mach kernel with its own memory) run a C program "
        "that computes and, at the same time, answers a client's requests. We move the "
        "running program from node to node (process migration): its threads, its open "
        "ports and its memory go with it, and neither it nor its client notices.",
        expand=False))
    exe = _build(con)
    if exe is None:
        return 1
    t0 = time.monotonic()
    with Cluster(nodes=3) as c:
        lines = Lines(con)
        p = c.spawn_image(exe, "demo_server", args=[str(rounds)], node=0, sink=lines,
                          suspended=True)
        mach.mach_port_allocate_name(p.task_handle, PortRight.RECEIVE, SERVICE)
        client = Client(c, p)
        c.resume(p)
        client.thread.start()
        con.print(f"started the program on node 0 ({rounds} rounds of work); a client on node 0 "
                  "asks it for squares, one request every 10 ms")
        rows = [_hop(con, c, p, lines, node, 2 + 3 * i) for i, node in enumerate(hops)]
        lines.wait_for(rounds - 1)
        client.stop()                       # before the end: every request gets its answer
        status = c.wait(p, timeout=120)
        problems = c.audit()
    table = Table("move", "frozen", "threads", "port names", "pages fetched on touch",
                  "pages pushed", "pages left behind", title="each move")
    for r in rows:
        table.add_row(*r)
    con.print(table)
    lost = client.sent - client.answered
    con.print(f"the program ended on node {p.node} with status {status}; the client sent "
              f"{client.sent} requests, {client.answered} were answered "
              f"({', '.join(f'{n} by node {k}' for k, n in sorted(client.by_node.items()))}), "
              f"{lost} lost, {client.wrong} wrong")
    for problem in problems:
        con.print(f"[red]{problem}[/red]")
    ok = status == 0 and lost == 0 and client.wrong == 0 and not problems
    if ok:
        con.print(f"[green]all kernel invariants hold[/green] (demo took {time.monotonic() - t0:.1f} s)")
    return 0 if ok else 1
