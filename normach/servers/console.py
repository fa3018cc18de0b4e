"""The console server: where guest programs' printf output goes.

One console server runs per node as an ordinary task with a Python thread
receiving on a port set.  Each program started by `Cluster.spawn` gets its own
console port (a member of the set) as its bootstrap port; the guest libc sends
NORMACH_CONSOLE_WRITE messages (inline text, a send-once reply right) and the
server appends the text to that program's output and replies.  When the last send
right to a console port is gone (the program and every task it gave the port to
ended), its no-senders notification arrives on the port itself and the server
closes it: a node that ran a million programs holds no million ports.

As a program's bootstrap server it also takes NORMACH_MIGRATE requests
(`migrate_self(node)` in the guest: the task's port and a node): it hands them
to the migration manager in a thread of their own and replies when the task
has moved, so the reply finds the program on its new node.
"""

from __future__ import annotations

import threading

from .. import mach, param
from ..ipc.message import PortDesc
from ..errors import KernError, KernReturn
from ..mach_types import MsgType, Notify, PortRight
from .server import ServerStats, discard, log, receive_one, reply, serve_one, status_body

CONSOLE_WRITE = 0x4E430001
MIGRATE = 0x4E430002


class ConsoleServer:
    """Fields: task (the server's task handle), pset (its port set name), outputs
    {port name: Output}; guarded by `lock` for outputs."""

    def __init__(self, task, label: str = "console"):
        """Serve with `task` (a Task handle on the node whose programs print here)."""
        self.task = task
        self.pset = mach.mach_port_allocate(self.task, PortRight.PORT_SET)
        self.lock = threading.Lock()
        self.outputs: dict = {}
        self.messages = 0
        self.stats = ServerStats()
        self.migrations = threading.BoundedSemaphore(param.CONSOLE_MIGRATIONS_MAX)
        self.thread = threading.Thread(target=self._serve, daemon=True, name=label)
        self.thread.start()

    def open(self, output) -> "mach.Port":
        """A new console port for one program; returns a send right to it (a handle).
        The port is closed when its last send right goes (a no-senders notification)."""
        name = mach.mach_port_allocate(self.task, PortRight.RECEIVE)
        mach.mach_port_move_member(self.task, name, self.pset)
        with self.lock:
            self.outputs[name] = output
        send = mach.mach_port_extract_right(self.task, name, MsgType.MAKE_SEND)
        mach.mach_port_request_notification(self.task, name, Notify.NO_SENDERS, 1, name,
                                            MsgType.MAKE_SEND_ONCE)
        return send

    def close(self, output) -> None:
        """Close the console port of `output` (its program will never print)."""
        with self.lock:
            names = [n for n, o in self.outputs.items() if o is output]
        for name in names:
            self._close(name)

    def _close(self, name: int) -> None:
        with self.lock:
            if self.outputs.pop(name, None) is None:
                return
        try:
            mach.mach_port_mod_refs(self.task, name, PortRight.RECEIVE, -1)
        except KernError:
            pass

    def _serve(self) -> None:
        while True:
            m = receive_one(self.task, self.pset, self.stats)
            if m is None:
                return                      # the server's task is gone
            self.messages += 1
            serve_one(self.task, m, self._request, self.stats)

    def _request(self, m):
        """One request: returns the reply body, or None (the migration replies later).
        Raises: MIG_BAD_ID (an id it does not serve), MIG_BAD_ARGUMENTS."""
        if m.id == Notify.NO_SENDERS and m.local_disp == MsgType.PORT_SEND_ONCE:
            self._close(m.local_port)        # the kernel's notification: its program is gone
            return None
        if m.id == MIGRATE:
            return self._start_migration(m)
        if m.id != CONSOLE_WRITE:
            raise KernError(KernReturn.MIG_BAD_ID, f"console: message id {m.id}")
        text = b"".join(i for i in m.body if isinstance(i, (bytes, bytearray)))
        text = text.rstrip(b"\0")          # padding to a 4-byte message size
        discard(self.task, m)               # a write carries no rights: any sent are dropped
        with self.lock:
            out = self.outputs.get(m.local_port)
        if out is not None:
            out.write(text)
        return status_body(0)

    def _start_migration(self, m):
        """NORMACH_MIGRATE: body = [a send right to the task, the node (4 bytes)].
        Raises: MIG_BAD_ARGUMENTS (anything else: the rights sent are destroyed),
        KERN_RESOURCE_SHORTAGE (CONSOLE_MIGRATIONS_MAX migrations under way already)."""
        ports = [d for d in m.body if isinstance(d, PortDesc)]
        data = b"".join(i for i in m.body if isinstance(i, (bytes, bytearray)))
        if (len(ports) != 1 or not ports[0].name or ports[0].disposition != MsgType.PORT_SEND
                or len(data) < 4 or len(m.body) != 2):
            raise KernError(KernReturn.MIG_BAD_ARGUMENTS, "migrate: [task send right, node]")
        task = mach.mach_port_extract_right(self.task, ports[0].name, MsgType.MOVE_SEND)
        if not self.migrations.acquire(blocking=False):
            task.deallocate()
            raise KernError(KernReturn.KERN_RESOURCE_SHORTAGE, "migrations under way")
        node = int.from_bytes(data[:4], "little", signed=True)
        threading.Thread(target=self._migrate, args=(m, task, node), daemon=True,
                         name="migrate").start()
        return None

    def _migrate(self, m, task, node: int) -> None:
        from .migration import task_migrate
        try:
            task_migrate(task, node)
            status = 0
        except KernError as e:
            status = e.code
        except Exception:                   # a bug of the manager: the requester still hears
            log.exception("migration of %r to node %s failed", task, node)
            self.stats.bugs += 1
            status = int(KernReturn.KERN_FAILURE)
        finally:
            task.deallocate()               # the right the request carried
            self.migrations.release()
        reply(self.task, m, status_body(status))


class Output:
    """The console text of one program; `sink(text)` sees it as it arrives.  Only the
    last CONSOLE_OUTPUT_MAX bytes are kept (`dropped` counts the older ones): a program
    printing for ever does not grow the node without bound."""

    def __init__(self, sink=None):
        self.stdin = None            # a Linux program's console input (unix.files.ConsoleInput)
        self.tty = True              # the console is a terminal (isatty) for a Linux program
        self.data = bytearray()
        self.dropped = 0
        self.sink = sink
        self.lock = threading.Lock()
        self.grew = threading.Condition(self.lock)   # notified on every write

    def write(self, text: bytes) -> None:
        with self.lock:
            self.data += text
            excess = len(self.data) - param.CONSOLE_OUTPUT_MAX
            if excess > 0:
                del self.data[:excess]
                self.dropped += excess
            self.grew.notify_all()
        if self.sink is not None:
            self.sink(text)

    def end(self) -> int:
        """The offset after the last byte written."""
        with self.lock:
            return self.dropped + len(self.data)

    def trim(self, keep: int) -> None:
        """Keep only the last `keep` bytes (the older ones count as dropped)."""
        with self.lock:
            excess = len(self.data) - keep
            if excess > 0:
                del self.data[:excess]
                self.dropped += excess

    def since(self, offset: int, limit: int, wait_s: float = 0.0) -> tuple[bytes, int]:
        """The text from byte `offset` of everything written (at most `limit` bytes;
        text already dropped is skipped), waiting up to `wait_s` for some.
        Returns: (text, the offset after it)."""
        with self.grew:
            if self.dropped + len(self.data) <= offset and wait_s > 0:
                self.grew.wait(wait_s)
            start = max(offset, self.dropped)
            chunk = bytes(self.data[start - self.dropped:start - self.dropped + limit])
            return chunk, start + len(chunk)

    def text(self) -> str:
        with self.lock:
            return self.data.decode("utf-8", errors="replace")


def launch(kernel, console: ConsoleServer, image: bytes, name: str, argv: list, env=(),
           sink=None, suspended: bool = False, privileged: bool = False, root: str | None = None,
           stdin=None, tty: bool = True):
    """Load `image` into a fresh task of `kernel` whose bootstrap port is a new console
    port of `console`; start its first thread unless `suspended`.  `privileged`: the
    program may take host_priv (normach_host_priv_self), as a bootstrap server would.
    A Linux program (kern/exec.py, the personality) becomes a process of the node's
    Unix server, its files inside the host directory `root` (default: the current one),
    its console input read from the binary stream `stdin` (default: none, end of file),
    its console a terminal (isatty) if `tty`.

    Returns (task, thread, Output).  Raises: KernError (not a program, no memory; a
    root that is not a directory: KERN_INVALID_ARGUMENT).
    """
    from ..kern.exec import parse_image
    from ..kern.task import task_create
    program = parse_image(image)                  # before the lock: the image is the caller's
    linux = program.personality == "linux"
    if linux:
        root = _root(root)
    out = Output(sink)
    out.tty = tty
    port = console.open(out)
    with kernel.lock:
        try:
            task = task_create(None, False, kernel=kernel, name=name)
        except KernError as e:                    # no budget for one more task
            failed = e
        else:
            thread, failed = _load(task, program, argv, env, port, suspended or linux,
                                   privileged)
    if failed is None and linux:
        if stdin is not None:
            from .unix.files import ConsoleInput
            out.stdin = ConsoleInput(stdin)
        failed = _start_linux(kernel, task, thread, out, root, name, program, suspended)
    if failed is not None:
        port.deallocate()
        console.close(out)
        raise failed
    return task, thread, out


def _root(root: str | None) -> str:
    import os
    path = os.path.realpath(root or os.getcwd())
    if not os.path.isdir(path):
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"{root}: not a directory")
    return path


def _start_linux(kernel, task, thread, out, root: str, name: str, program, suspended: bool):
    """Make the loaded Linux `task` a process of the node's Unix server and start it
    unless `suspended`.  Returns None, or the KernError that made it fail (the task
    is gone).  Conditions: kernel lock not held."""
    from ..kern.task import task_terminate
    from ..kern.thread import thread_resume
    from .unix import start_process
    try:
        start_process(kernel, task, out, root, name, program.brk)
    except KernError as e:
        with kernel.lock:
            task_terminate(task)
        return e
    if not suspended:
        with kernel.lock:
            thread_resume(thread)
    return None


def _load(task, program, argv, env, port, suspended: bool, privileged: bool):
    """Load `program` into the fresh `task`, give it its console port, start it unless
    `suspended`.  Returns (its first thread, None), or (None, the KernError that made
    it fail: the task is gone).  Conditions: the kernel lock held."""
    from ..kern.exec import exec_image
    from ..kern.task import task_terminate
    from ..kern.thread import thread_resume
    assert task.kernel.lock.held()
    task.privileged = privileged
    try:
        thread = exec_image(task, program, list(argv), list(env))
    except KernError as e:
        task_terminate(task)
        return None, e
    task.itk_bootstrap = port.take()
    if not suspended:
        thread_resume(thread)
    return thread, None
