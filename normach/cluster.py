"""Cluster: a set of node kernels seen as one system.

Three forms, one interface.  `Cluster(nodes=N)` builds N node kernels in this
process (the embedded form); `Cluster(nodes=N, processes=True)` starts N node
processes (node_process.py) and joins them as a client; `Cluster.connect(
"ADDRESS#SECRET")` joins a running cluster (`normach up`, `normach node`, an
MPI job) as a client.  A client is not a member: it has a small kernel of its
own where its handles live as proxies, announces itself to each node, and
leaves on `close` (dipc/control.py).  The cluster is the Python caller's entry
point: it creates fresh tasks, hands out host ports, starts programs (on node
processes they get an id HOME-K kept at their home node, normach/programs.py,
which follows them when they move), and checks the kernels' invariants (`audit`).
"""

from __future__ import annotations

from . import boot, param
import os
import uuid

from .handles import Host, Task
from .errors import KernError, KernReturn
from .kern.kernel import Kernel


class Cluster:
    """N node kernels.  Use as a context manager; `close()` terminates every task."""

    def __init__(self, nodes: int = 1, processes: bool = False,
                 phys_bytes: int = param.PHYS_MEM_BYTES, transport: str = "inproc",
                 secret: bytes | None = None, memory: int | None = None):
        """`memory`: each node's memory limit in bytes (kern/memory.py; default: a
        quarter of the host's RAM): guests get Mach errors beyond it, never the host's
        out-of-memory killer."""
        if not isinstance(nodes, int) or nodes < 1:
            raise KernError(KernReturn.KERN_INVALID_ARGUMENT, "a cluster needs at least one node")
        self.closed = False
        self._consoles: dict = {}
        self._programs: list = []          # embedded: followed across migrations
        self._endpoints: list = []
        self.nnodes = nodes
        self.client = None                 # processes=True: this process's own small kernel
        self._procs: list = []
        if processes:
            self.kernels = []
            self._start_processes(nodes, phys_bytes, secret, memory)
            return
        self.kernels = [boot.node_kernel(i, nodes, phys_bytes, memory) for i in range(nodes)]
        if transport not in ("inproc", "tcp"):
            raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"transport {transport!r}")
        if nodes > 1:
            self._start_dipc(transport, secret)
        from .servers import migration
        migration.listeners.append(self._migrated)

    def _start_processes(self, nodes: int, phys_bytes: int, secret: bytes | None,
                         memory: int | None = None) -> None:
        """Start one OS process per node (tcp loopback, CurveZMQ with a fresh secret) and
        join them as a client holding handles as proxies."""
        import secrets
        self.secret = secret or secrets.token_bytes(32)
        self._procs, addresses, keys = start_node_processes(nodes, self.secret, phys_bytes,
                                                            memory=memory)
        self._join_as_client(addresses[0])

    def _join_as_client(self, seed: str, timeout: float = 30.0) -> None:
        """Become a client of the cluster whose node 0 listens at `seed`: announce this
        process to every node (each records it alone, hears its heartbeat, and forgets
        it when it leaves or falls silent: dipc/control.py).
        Raises: KernError (KERN_NO_ACCESS: not the cluster's secret; KERN_NODE_DOWN:
        no answer at `seed`)."""
        import random
        from .dipc import control
        from .dipc.net import DipcNet
        from .node_process import _local_ip
        me = (1 << 20) + random.randrange(1 << 20)     # a client index, past every node
        net = DipcNet(me, f"tcp://{_local_ip(seed)}:0", self.secret, {0: seed})
        net.client = True
        self._endpoints.append(net)
        hello = control.ctl_join(node=me, address=net.endpoint.address, key="")
        try:
            reply = net.endpoint.request(0, hello, timeout)
        except KernError:
            net.close()
            self._endpoints.remove(net)
            raise
        self.nnodes = reply.nnodes
        self.client = boot.node_kernel(me, me + 1, 8 << 20)
        self.client.migration_server = self._migrate_handle
        table = {int(n): e for n, e in reply.table.items()}
        nodes = sorted(n for n in table if n != me)
        for node in nodes:
            address, key = table[node]
            net.endpoint.bind_key(node, key or None)
            net.endpoint.add_peer(node, str(address))
        for node in nodes:
            if node != 0:
                try:
                    net.endpoint.request(node, hello, param.DIPC_REQUEST_TIMEOUT)
                except KernError:
                    pass                            # down: its proxies die as any node's
        boot.connect(self.client, net, nodes)

    def _leave(self) -> None:
        """A client says goodbye to every node (each forgets it at once)."""
        from .dipc.control import ctl_leave
        net = self._endpoints[-1]
        net.dipc.release_all()       # rights it still names (sent before ctl_leave, in order)
        for node in list(net.peers):
            try:
                net.endpoint.request(node, ctl_leave(node=node), 2.0)
            except KernError:
                pass                                # down, or forgets us by our silence

    @classmethod
    def connect(cls, address: str, secret: bytes | None = None,
                timeout: float = 30.0) -> "Cluster":
        """Join a running cluster (`normach up` prints ADDRESS#SECRET) as a client.
        Raises: KernError (KERN_NO_ACCESS: wrong secret; KERN_NODE_DOWN: no answer)."""
        if "#" in address and secret is None:
            address, hexsecret = address.split("#", 1)
            secret = bytes.fromhex(hexsecret)
        c = cls.__new__(cls)
        c.closed, c._consoles, c._endpoints, c._procs, c._programs = False, {}, [], [], []
        c.kernels, c.client, c.secret, c.nnodes = [], None, secret, 0
        c._join_as_client(address, timeout)
        return c

    def _control(self, node: int, msg, timeout: float = 30.0):
        if not isinstance(node, int) or not 0 <= node < self.nnodes:
            raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"no node {node}")
        return self._endpoints[-1].endpoint.request(node, msg, timeout)

    def _handle_from(self, uid, cls):
        from .mach_types import MsgType
        with self.client.lock:
            return cls(self.client.remote.import_right(uid, MsgType.PORT_SEND))

    def _start_dipc(self, transport: str, secret: bytes | None) -> None:
        """Connect the nodes: one transport endpoint and one DIPC layer per node, over
        inproc (the default) or tcp loopback (each node on its own port)."""
        from .dipc.net import DipcNet
        tag = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"      # never reused, unlike id(self)
        nets = []
        for k in self.kernels:
            address = (f"inproc://normach-{tag}-{k.node}" if transport == "inproc"
                       else "tcp://127.0.0.1:0")
            nets.append(DipcNet(k.node, address, secret))
        addresses = {k.node: net.endpoint.address for k, net in zip(self.kernels, nets)}
        for k, net in zip(self.kernels, nets):
            peers = [n for n in addresses if n != k.node]
            for n in peers:
                net.endpoint.add_peer(n, addresses[n])
            boot.connect(k, net, peers)
            self._endpoints.append(net)

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def kernel(self, node: int) -> Kernel:
        if not isinstance(node, int) or not 0 <= node < len(self.kernels):
            raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"no node {node}")
        return self.kernels[node]

    def task_create(self, node: int = 0, name: str = "") -> Task:
        """A fresh task on `node`: empty address space, no threads, default limits."""
        from .ipc.port import ipc_port_make_send
        from .kern.task import task_create
        if self.client is not None:
            from .dipc.control import ctl_task_create
            return self._handle_from(self._control(node, ctl_task_create(label=name)).uid, Task)
        k = self.kernel(node)
        with k.lock:
            t = task_create(None, False, kernel=k, name=name)
            return Task(ipc_port_make_send(t.itk_self))

    def task(self, node: int, task_id: int) -> Task:
        """A handle to the live task `task_id` of `node` (the id `normach ps` shows).

        Raises: KernError KERN_INVALID_ARGUMENT (no such task or node).
        """
        from .ipc.port import ipc_port_make_send
        if self.client is not None:
            from .dipc.control import ctl_task
            return self._handle_from(self._control(node, ctl_task(task=task_id)).uid, Task)
        k = self.kernel(node)
        with k.lock:
            for t in k.tasks:
                if t.id == task_id and t.active:
                    return Task(ipc_port_make_send(t.itk_self))
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"no task {task_id} on node {node}")

    def local_task(self, name: str = "") -> Task:
        """A task in this process's own kernel (processes=True): Python code sends and
        receives messages as this task; rights to ports on the nodes are proxies."""
        from .ipc.port import ipc_port_make_send
        from .kern.task import task_create
        if self.client is None:
            raise KernError(KernReturn.KERN_INVALID_ARGUMENT, "only a cluster of processes has one")
        with self.client.lock:
            t = task_create(None, False, kernel=self.client, name=name)
            return Task(ipc_port_make_send(t.itk_self))

    def host(self, node: int = 0) -> Host:
        from .ipc.port import ipc_port_make_send
        if self.client is not None:
            from .dipc.control import ctl_host
            return self._handle_from(self._control(node, ctl_host(privileged=False)).uid, Host)
        k = self.kernel(node)
        with k.lock:
            return Host(ipc_port_make_send(k.host.port))

    def host_priv(self, node: int = 0) -> Host:
        from .ipc.port import ipc_port_make_send
        if self.client is not None:
            from .dipc.control import ctl_host
            return self._handle_from(self._control(node, ctl_host(privileged=True)).uid, Host)
        k = self.kernel(node)
        with k.lock:
            return Host(ipc_port_make_send(k.host_priv.port))

    # -- programs ---------------------------------------------------------------------
    def console(self, node: int):
        """The console server of `node` (started on first use)."""
        from .servers.console import ConsoleServer
        if node not in self._consoles:
            self._consoles[node] = ConsoleServer(self.task_create(node=node, name=f"console{node}"),
                                                 f"console{node}")
        return self._consoles[node]

    def spawn(self, prog: str, args=(), node: int = 0, env=(), sink=None,
              suspended: bool = False, privileged: bool = False, root=None,
              stdin=None, tty: bool = True) -> "Program":
        """Load and start a guest program on `node`: an ELF path, or C sources to build.

        Its console output is collected (and passed to `sink(bytes)` as it
        arrives); `wait` gives its exit status.  With `suspended` its first
        thread waits for `resume` (to give the task rights before it runs).  With
        `privileged` it may take its node's host_priv (normach_host_priv_self): a
        bootstrap privilege; other programs get MACH_PORT_NULL there.  A Linux program
        (not built by `normach cc`) runs under the Unix server with the host directory
        `root` as its "/" (default: the current directory; docs/unix-server.md), and the
        binary stream `stdin` as its console input (embedded clusters; default: none); its
        console is a terminal (isatty) unless `tty` is False.
        Raises: KernError KERN_INVALID_ARGUMENT (not a program; root not a directory), and
        the codes of task creation.
        """
        return self.spawn_image(_load_program(prog), prog, args, node, env, sink, suspended,
                                privileged, root, stdin, tty)

    def spawn_image(self, image: bytes, prog: str, args=(), node: int = 0, env=(), sink=None,
                    suspended: bool = False, privileged: bool = False,
                    root=None, stdin=None, tty: bool = True) -> "Program":
        """As `spawn`, from the ELF `image` of the program `prog` (its argv[0])."""
        from .ipc.port import ipc_port_make_send
        from .servers.console import launch
        argv = [prog, *map(str, args)]
        if self.client is not None:
            return self._spawn_remote(image, argv, node, env, suspended, privileged, root)
        k = self.kernel(node)
        task, thread, out = launch(k, self.console(node), image, os.path.basename(prog), argv,
                                   env, sink, suspended, privileged,
                                   None if root is None else str(root), stdin, tty)
        with k.lock:
            handle = Task(ipc_port_make_send(task.itk_self))
        program = Program(handle, task, out, node, thread)
        self._programs.append(program)
        return program

    def _spawn_remote(self, image: bytes, argv: list, node: int, env, suspended: bool,
                      privileged: bool = False, root=None):
        from .dipc.control import ctl_spawn
        root = os.path.realpath(root if root is not None else os.getcwd())
        reply = self._control(node, ctl_spawn(label=os.path.basename(argv[0]), argv=argv,
                                              suspended=suspended, privileged=privileged,
                                              image=image, root=root))
        p = Program(self._handle_from(reply.uid, Task), None, None, node)
        p.remote_id, p.home, p.name = reply.program, node, os.path.basename(argv[0])
        return p

    def program(self, pid: str) -> "Program":
        """The program `HOME-K` of a cluster of node processes (as `normach run --detach`
        prints it and `ps` shows it), wherever it runs now.
        Raises: KernError KERN_INVALID_ARGUMENT (not such an id; no such program)."""
        from .dipc.control import ctl_programs
        home, k = parse_program_id(pid)
        if self.client is None:
            raise KernError(KernReturn.KERN_INVALID_ARGUMENT, "only node processes keep program ids")
        for row in self._control(home, ctl_programs(node=home)).rows:
            if row[0] == k:
                p = Program(None, None, None, row[2])
                p.remote_id, p.home, p.name = k, home, row[1]
                return p
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"no program {pid}")

    def follow(self, program: "Program", offset: int = 0, timeout: float = 1.0):
        """The program's console output from byte `offset`, once there is some, it ended,
        or `timeout` s passed.  Returns: (text, next offset, None | (status, reason))."""
        from .dipc.control import ctl_follow
        r = self._control(program.home, ctl_follow(program=program.remote_id, offset=offset,
                                                    timeout_ms=int(timeout * 1000)), timeout + 30)
        program.node = r.node
        if r.done:
            program.remote_exit = (r.status, r.reason)
        return bytes(r.output), r.offset, program.remote_exit

    def kill(self, program: "Program") -> None:
        """Terminate the program's task, wherever it runs (its status becomes 137)."""
        from . import mach
        if program.remote_id is None:
            mach.task_terminate(program.task_handle)
            return
        from .dipc.control import ctl_kill
        self._control(program.home, ctl_kill(program=program.remote_id))

    def resume(self, program: "Program") -> None:
        """Start a program spawned with `suspended=True`."""
        from .kern.thread import thread_resume
        if program.remote_id is not None:
            from .dipc.control import ctl_resume
            self._control(program.home, ctl_resume(program=program.remote_id))
            return
        with self.kernel(program.node).lock:
            thread_resume(program.thread)

    def _remote_status(self, program: "Program", timeout_ms: int):
        """Bring the program's output here (all of it since the last look) and its end,
        waiting up to `timeout_ms` for either.  Returns: (status, reason) or None."""
        import time
        t0 = time.monotonic()
        data, offset, ended = self.follow(program, program.remote_offset, timeout_ms / 1000)
        while data:
            program.remote_output += data
            program.remote_offset = offset
            data, offset, ended = self.follow(program, offset, 0)
        if ended is None and timeout_ms and time.monotonic() - t0 < 0.01:
            time.sleep(0.01)               # the node is busy answering others: ask less often
        return ended

    def wait(self, program: "Program", timeout: float | None = None) -> int:
        """Wait for the program's task to end; returns its exit status.

        Raises: KernError KERN_OPERATION_TIMED_OUT if it is still running after `timeout` s.
        """
        import time
        end = None if timeout is None else time.monotonic() + timeout
        if program.remote_id is not None:
            while True:
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    raise KernError(KernReturn.KERN_OPERATION_TIMED_OUT, f"{program} still running")
                ended = self._remote_status(program, int(1000 * min(left or 1.0, 1.0)))
                if ended is not None:
                    return ended[0]
        while True:
            task, k = program.task, self.kernel(program.node)
            with k.lock:
                while task.active:
                    left = None if end is None else end - time.monotonic()
                    if left is not None and left <= 0:
                        raise KernError(KernReturn.KERN_OPERATION_TIMED_OUT,
                                        f"{program} still running")
                    k.task_events.wait(left)
            if program.task is task and not program.migrating:
                self._finished(program)
                return task.exit_status
            if program.task is task:               # migrating: its new task is on the way
                if end is not None and time.monotonic() >= end:
                    raise KernError(KernReturn.KERN_OPERATION_TIMED_OUT, f"{program} migrating")
                time.sleep(0.002)

    def _finished(self, program: "Program") -> None:
        """A program that ended is no longer followed (the cluster keeps no trace of it)."""
        try:
            self._programs.remove(program)
        except ValueError:
            pass                                   # already forgotten
        program.thread = None                      # only resume() used it

    def migrate(self, target, node: int):
        """Move a program (or a task handle) with its threads and rights to `node`.

        Returns: the Migration (servers/migration.py); a Program then names the new task.
        Raises: KernError, as task_migrate.
        """
        from . import mach
        if isinstance(target, Program) and target.remote_id is not None:
            return self._migrate_remote(target, node)
        handle = target.task_handle if isinstance(target, Program) else target
        return mach.task_migrate(handle, node)

    def _migrate_handle(self, handle, node: int):
        """A client's migration_server (mach.task_migrate of a task on a node process):
        the task's node runs the migration, and keeps where the task went, so that the
        home of its program follows it; this client may exit at once.  A task of the
        client's own kernel migrates here."""
        from .dipc.control import ctl_migrate, ctl_port
        if handle.port.proxy is None:
            from .servers.migration import task_migrate
            return task_migrate(handle, node)
        uid, at = handle.port.proxy
        r, m = self._run_migration(at, ctl_migrate(program=-1, task=-1, uid=list(uid), node=node))
        m.task = self._handle_from(self._control(r.node, ctl_port(uid=list(r.uid))).uid, Task)
        return m

    def _migrate_remote(self, program: "Program", node: int, task_id: int = -1):
        """A program of node processes moves by its home, which runs the migration
        (or, with task_id, the task of program.node): it outlives this client."""
        from .dipc.control import ctl_migrate
        at = program.home if task_id == -1 else program.node
        r, m = self._run_migration(at, ctl_migrate(
            program=program.remote_id if task_id == -1 else -1, task=task_id, uid=[], node=node))
        program.node = r.node
        program.migrations.append(m)
        return m

    def _run_migration(self, at: int, request):
        """Node `at` runs the migration `request` (ctl_migrate).
        Returns: (its ctl_moved answer, the Migration; .task None).  Raises: KernError."""
        from .servers.migration import Migration
        r = self._control(at, request, 300.0)
        return r, Migration(task=None, source=at, node=r.node, threads=r.threads,
                            rights=r.rights, messages=r.messages, freeze_s=r.freeze_us / 1e6)

    def migrate_task(self, node: int, task_id: int, to: int):
        """Move the task `task_id` of `node` (as ps shows it) to `to`; on node processes
        the migration runs on a node, not in this client (a program's at its home).
        Returns: the Migration.  Raises: KernError, as task_migrate."""
        if self.client is None:
            return self.migrate(self.task(node, task_id), to)
        for row in self.ps():
            if (row["node"], row["id"]) == (node, task_id) and row["program"]:
                return self._migrate_remote(self.program(row["program"]), to)
        p = Program(None, None, None, node)
        return self._migrate_remote(p, to, task_id)

    def _migrated(self, event: str, old, m) -> None:
        """A migration listener: a program whose task moves follows it."""
        port = getattr(old, "port", None)
        for program in list(self._programs):       # a copy: _finished runs in other threads
            if program.task_handle.port is not port:
                continue
            if event == "start":
                program.migrating += 1
            elif event == "failed":
                program.migrating -= 1
            else:
                old_handle = program.task_handle
                program.task_handle, program.node = m.task, m.node
                old_handle.deallocate()            # the task that moved away is gone
                program.task = self._task_object(m.task)
                program.migrations.append(m)
                program.migrating -= 1

    def _task_object(self, handle):
        """The kernel Task behind a task handle of this embedded cluster (or None)."""
        port = getattr(handle, "port", None)
        if port is None:
            return None
        if port.kobject is not None or port.proxy is None:
            return port.kobject
        uid, node = port.proxy
        if not 0 <= node < len(self.kernels) or self.kernels[node].remote is None:
            return None
        principal = self.kernels[node].remote.principals.get(uid)
        return None if principal is None else principal.kobject

    def output(self, program: "Program") -> str:
        """The program's console text so far."""
        if program.remote_id is not None:
            if program.remote_exit is None:
                self._remote_status(program, 0)
            return program.remote_output.decode("utf-8", errors="replace")
        return program.out.text()

    def tasks(self, node: int | None = None) -> list:
        """The live kernel Task objects (for `normach ps` and tests)."""
        ks = self.kernels if node is None else [self.kernel(node)]
        return [t for k in ks for t in sorted(k.tasks, key=lambda t: t.id)]

    def ps(self) -> list[dict]:
        """A row per task on every node: where its memory is (normach/ps.py)."""
        from .ps import task_rows
        if self.client is not None:
            from .dipc.control import ctl_ps
            from .ps import from_wire
            from .dipc.control import ctl_programs
            rows, programs = [], {}
            for n in range(self.nnodes):
                try:
                    rows += from_wire(self._control(n, ctl_ps(node=n), 10.0).rows)
                    for k, _name, _node, uid, _done, _status in self._control(
                            n, ctl_programs(node=n), 10.0).rows:
                        programs[tuple(uid)] = f"{n}-{k}"
                except (KernError, ValueError, TypeError):
                    pass
            for r in rows:
                r["program"] = programs.get(tuple(r["port"]), "")
            return rows
        return [r for k in self.kernels for r in task_rows(k)]

    def node_stats(self, node: int) -> dict:
        """What `node` holds (normach/ps.py node_stats): tasks, ports, tables, memory."""
        from .ps import node_stats
        if self.client is not None:
            from .dipc.control import ctl_stats
            return dict(self._control(node, ctl_stats(node=node)).counts)
        return node_stats(self.kernel(node))

    def audit(self) -> list[str]:
        """Check every kernel's invariants; returns the violations (empty: all hold)."""
        from .handles import release_orphans
        from .kern.audit import audit_kernel
        for k in self.kernels + ([self.client] if self.client is not None else []):
            with k.lock:
                release_orphans(k)              # rights of handles dropped undeallocated
        if self.client is not None:
            from .dipc.control import ctl_audit
            out = [f"client: {e}" for e in audit_kernel(self.client)]
            for n in range(self.nnodes):
                try:
                    problems = self._control(n, ctl_audit(node=n), 10.0).problems
                except KernError as e:
                    problems = [f"unreachable: {e.name}"]
                out += [f"node {n}: {p}" for p in problems]
            return out
        from .xmm.audit import audit_xmm
        live = [k for k in self.kernels if not self._dead(k.node)]
        return ([f"node {k.node}: {e}" for k in live for e in audit_kernel(k)]
                + audit_xmm(live))

    def _dead(self, node: int) -> bool:
        """Killed (kill_node) and declared down by the others: out of the audit."""
        others = [k for k in self.kernels if k.node != node and k.remote is not None]
        return bool(others) and all(node in k.remote.down for k in others)

    def close(self) -> None:
        """Terminate every task on every node."""
        from .kern.task import task_terminate
        if self.closed:
            return
        self.closed = True
        from .servers import migration
        if self._migrated in migration.listeners:
            migration.listeners.remove(self._migrated)
        if self._procs:
            self._stop_processes()
        for k in self.kernels:
            with k.lock:
                for t in sorted(k.tasks, key=lambda t: t.id):
                    if t.active:
                        task_terminate(t)
        for k in self.kernels:
            k.machine.join()
        live = [k for k, net in zip(self.kernels, self._endpoints) if not net.endpoint.closed]
        for _ in range(2):          # releases and hand-overs the terminations started
            for k in live:          # (a killed node does no more work: kill_node)
                if k.xmm is not None:
                    k.xmm.flush_background()
        for console in self._consoles.values():
            console.thread.join(5.0)
        if self.client is not None:
            with self.client.lock:
                for t in sorted(self.client.tasks, key=lambda t: t.id):
                    if t.active:
                        task_terminate(t)
            if not self._procs:
                self._leave()
        for ep in self._endpoints:
            ep.close()

    def _stop_processes(self) -> None:
        from .dipc.control import ctl_shutdown
        for n, proc in enumerate(self._procs):
            if proc.poll() is None and self._endpoints:
                try:
                    self._control(n, ctl_shutdown(node=n), 5.0)
                except KernError:
                    pass
        for proc in self._procs:
            try:
                proc.wait(10)
            except Exception:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()

    def kill_node(self, node: int) -> None:
        """Kill a node as a crash would: a node process gets SIGKILL; an embedded node
        goes silent (its transport endpoint closes) and the others declare it down.

        Raises: KernError KERN_INVALID_ARGUMENT (no such node, or a one-node cluster).
        """
        if self._procs:
            self._procs[node].kill()
            self._procs[node].wait()
            return
        if not isinstance(node, int) or not 0 <= node < len(self._endpoints):
            raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"no networked node {node!r}")
        self._endpoints[node].endpoint.close()

    def __repr__(self) -> str:
        return f"<Cluster {len(self.kernels)} nodes, {sum(len(k.tasks) for k in self.kernels)} tasks>"


class Program:
    """A guest program started by `Cluster.spawn`: its task and console output."""

    def __init__(self, task_handle, task, out, node: int, thread=None):
        self.task_handle = task_handle
        self.task = task
        self.out = out
        self.node = node
        self.thread = thread
        self.migrating = 0               # migrations of its task in progress
        self.migrations: list = []       # the Migrations it went through, in order
        self.remote_id = None            # programs on node processes: their index at home
        self.home = node                 # ... and their home node (where logs/wait/kill go)
        self.name = ""
        self.remote_exit = None          # (status, reason) once known
        self.remote_output = b""
        self.remote_offset = 0           # where remote_output ends in the program's output

    @property
    def reason(self) -> str:
        """Why the task ended, if an exception killed it ('' otherwise)."""
        if self.remote_id is not None:
            return self.remote_exit[1] if self.remote_exit else ""
        return self.task.exit_reason

    def __repr__(self) -> str:
        if self.remote_id is not None:
            state = "running" if self.remote_exit is None else f"exited {self.remote_exit[0]}"
            return f"<Program {self.home}-{self.remote_id} {self.name} node={self.node} {state}>"
        state = "running" if self.task.active else f"exited {self.task.exit_status}"
        return f"<Program {self.task.name} node={self.node} {state}>"


def parse_program_id(pid: str) -> tuple[int, int]:
    """`HOME-K` -> (HOME, K).  Raises: KernError KERN_INVALID_ARGUMENT."""
    home, sep, k = str(pid).partition("-")
    if not (sep and home.isdigit() and k.isdigit()):
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"not a program id (HOME-K): {pid!r}")
    return int(home), int(k)


def _load_program(prog: str) -> bytes:
    """The ELF image of `prog`: a path to an executable, or C sources (built first)."""
    if prog.endswith(".c"):
        import tempfile
        from .guest.build import compile_program
        with tempfile.TemporaryDirectory(prefix="normach-") as folder:
            out = os.path.join(folder, os.path.basename(prog)[:-2])
            compile_program(out, [prog])      # raises GuestBuildError with the diagnostics
            with open(out, "rb") as f:
                return f.read()
    try:
        with open(prog, "rb") as f:
            return f.read()
    except OSError as e:
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"{prog}: {e.strerror}") from None


def start_node_processes(nodes: int, secret: bytes, phys_bytes: int = param.PHYS_MEM_BYTES,
                         first: int = 0, count: int | None = None, memory: int | None = None,
                         listen: str = "tcp://127.0.0.1:0", advertise: str | None = None,
                         join: str | None = None):
    """Start node processes `first`..`first+count-1` of an `nodes`-node cluster.  Node
    0 (unless `join` names a running cluster's) starts first, at `listen`; the others
    listen on the same host (any port) and join it.  The secret goes to them in their
    environment, never on their command line.
    Returns: (processes, {node: address}, {node: public key}).
    Raises: KernError(KERN_NODE_DOWN) if one did not start (all are then killed)."""
    import subprocess
    import sys
    env = {**os.environ, "NORMACH_SECRET": secret.hex()}
    host = listen.rsplit(":", 1)[0]
    procs, addresses, keys = [], {}, {}

    def launch(i: int, where: str, seed: str | None):
        argv = [sys.executable, "-m", "normach.node_process", "--index", str(i),
                "--nodes", str(nodes), "--listen", where, "--phys-bytes", str(phys_bytes)]
        argv += ["--memory-bytes", str(memory)] if memory else []
        argv += ["--advertise", advertise] if advertise else []
        argv += ["--join", seed] if seed else []
        procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env))
        return procs[-1]

    indices = list(range(first, first + (nodes if count is None else count)))
    try:
        if join is None and indices and indices[0] == 0:
            _hello(launch(0, listen, None), 0, addresses, keys)
            join, indices = addresses[0], indices[1:]
        started = [(i, launch(i, f"{host}:0", join)) for i in indices]
        for i, proc in started:
            _hello(proc, i, addresses, keys)
    except BaseException:                      # a node that did not start, or Ctrl-C
        for p in procs:
            p.kill()
            p.wait()
        raise
    return procs, addresses, keys


def _hello(proc, i: int, addresses: dict, keys: dict) -> None:
    """Read the line a node process prints once it listens (and joined)."""
    import json
    line = proc.stdout.readline()
    if not line:
        raise KernError(KernReturn.KERN_NODE_DOWN, f"node process {i} did not start")
    try:
        hello = json.loads(line)
        addresses[i], keys[i] = hello["address"], hello.get("key", "")
    except (ValueError, KeyError, TypeError):
        raise KernError(KernReturn.KERN_NODE_DOWN, f"node process {i}: {line.strip()!r}") from None
