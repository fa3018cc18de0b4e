"""A Unix process as the server keeps it: the Mach task that runs it, its threads,
its file descriptors and its place in the process tree.

The server knows a process by the port its system calls arrive on (the task's
EXC_SYSCALL exception port, one per process): that port moves with the task when
it migrates, so the process keeps its pid, files and children wherever it runs.
The task and thread ports change at a migration (the task is teleported); each
request carries the current ones, and the server follows them.

Fields are guarded by the server's thread: only it touches a Process.
"""

from __future__ import annotations

import dataclasses
import os


@dataclasses.dataclass(eq=False)
class LThread:
    """A thread of a process: its Linux tid and what the kernel of Linux would keep."""

    tid: int
    handle: object = None            # a Thread handle (send right), the newest seen
    clear_child_tid: int = 0         # set_tid_address / CLONE_CHILD_CLEARTID
    fs_base: int = 0                 # its TLS pointer: how a thread is known again after a move
    sigmask: int = 0                 # blocked signals (signals.py)
    exited: bool = False
    moved: bool = False              # its task moved: the next unknown thread with its TLS is it
    last_answer: tuple | None = None  # (request key, reply words) of its last call served, until
    # its next request shows the thread had the answer: a restarted call gets it again

    def __repr__(self) -> str:
        return f"<LThread {self.tid}>"


@dataclasses.dataclass(eq=False)
class Process:
    """One process: pid, parent, task handle, threads by their kernel port, fds, memory."""

    pid: int
    ppid: int
    root: str                        # the host directory that is its "/" (realpath)
    cwd: str = "/"                   # inside the root
    port: int = 0                    # the name of its syscall port in the server's space
    task: object = None              # a Task handle (send right), the newest seen
    threads: dict = dataclasses.field(default_factory=dict)   # kernel Port -> LThread
    fds: object = None               # an FdTable (files.py)
    output: object = None            # the console Output of the program it belongs to
    brk_start: int = 0
    brk: int = 0
    umask: int = 0o022
    children: list = dataclasses.field(default_factory=list)   # Process
    parent: "Process | None" = None
    exit_status: int | None = None   # a wait status (Linux encoding) once it has ended
    reaped: bool = False
    waiters: list = dataclasses.field(default_factory=list)    # Calls of wait4 on it
    sig: object = None               # its signal state (signals.py)
    name: str = ""
    extra: dict = dataclasses.field(default_factory=dict)      # per-area state

    @property
    def alive(self) -> bool:
        return self.exit_status is None

    def host_path(self, path: str) -> str:
        """The host path of `path` (absolute inside the root, or relative to cwd), with
        `..` resolved lexically and never above the root (files.py resolves links)."""
        joined = os.path.normpath(os.path.join(self.cwd, path))
        parts = [p for p in joined.split("/") if p not in ("", ".", "..")]
        return os.path.join(self.root, *parts)

    def __repr__(self) -> str:
        state = "alive" if self.alive else f"ended {self.exit_status:#x}"
        return f"<Process {self.pid} {self.name} {state} threads={len(self.threads)}>"
