"""The Unix server: Linux programs on normach, as OSF/1 ran on NORMA Mach.

A static x86-64 Linux executable (any that `normach cc` did not build) runs in a
Mach task whose Linux system calls the kernel turns into exception messages
(EXC_SYSCALL, kern/exception.py) to this server.  The server emulates Linux on
Mach: memory calls on the task's VM, files in a host directory that is the
process's root, pipes, threads, fork and exec with task_create and
thread_set_state, signals delivered by rewriting a thread's registers.  Because
the process's port is its task's exception port, its system calls reach the
same server after the task migrates, and it keeps its files, pipes and children.

Modules: server (the loop, processes), call (one request), table (numbers ->
handlers), process, and one module per area: memory, clock, misc, files
(descriptors), fs (the file space), pipes, threads, procs, signals.
docs/unix-server.md tells what is and is not emulated.
"""

from . import clock, files, fs, memory, misc, pipes, procs, signals, threads  # noqa: F401
from .server import UnixServer, server_for, start_process      # (each area registers its calls)

__all__ = ["UnixServer", "server_for", "start_process"]
