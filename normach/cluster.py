"""Cluster: a set of node kernels seen as one system.

`Cluster(nodes=N)` builds N node kernels in this process (the embedded form).
Later forms run nodes as processes or on other machines; the interface stays
the same.  The cluster is the Python caller's entry point: it creates fresh
tasks, hands out host ports, and checks the kernels' invariants (`audit`).
"""

from __future__ import annotations

from . import param
import os
import uuid

from .handles import Host, Task
from .kern.errors import KernError, KernReturn
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
        self.kernels = [Kernel(i, nodes, phys_bytes, memory) for i in range(nodes)]
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
        from .dipc import control
        self.secret = secret or secrets.token_bytes(32)
        self._procs, addresses, keys = start_node_processes(nodes, self.secret, phys_bytes,
                                                            memory=memory)
        for i in range(1, nodes):                      # every node learns every other
            self._seed_request(addresses[0], control.ctl_join(node=i, address=addresses[i],
                                                              key=keys[i]))
        self._join_as_client(addresses[0])

    def _seed_request(self, seed: str, msg):
        from .transport.endpoint import Endpoint
        import random
        me = (1 << 30) + random.randrange(1 << 20)    # a one-off sender: an index of its own
        with Endpoint(me, "tcp://127.0.0.1:0", {0: seed}, None, secret=self.secret) as ep:
            return ep.request(0, msg, 30.0)

    def _join_as_client(self, seed: str) -> None:
        """Become a client node of the cluster whose node 0 listens at `seed`."""
        import random
        from .dipc import control
        from .dipc.net import DipcNet
        from .dipc.node import Dipc
        me = (1 << 20) + random.randrange(1 << 20)     # a client index, past every node
        net = DipcNet(me, "tcp://127.0.0.1:0", self.secret, {0: seed})
        self._endpoints.append(net)
        reply = net.endpoint.request(0, control.ctl_join(node=me, address=net.endpoint.address,
                                                         key=""), 30.0)
        self.nnodes = reply.nnodes
        self.client = Kernel(me, me + 1, 8 << 20)
        for node, (address, key) in reply.table.items():
            if int(node) != me:
                net.endpoint.bind_key(int(node), key or None)
                net.endpoint.add_peer(int(node), str(address))
        net.attach(Dipc(self.client, net), [int(n) for n in reply.table if int(n) != me])

    @classmethod
    def connect(cls, address: str, secret: bytes | None = None) -> "Cluster":
        """Join a running cluster (`normach up` prints ADDRESS#SECRET) as a client."""
        if "#" in address and secret is None:
            address, hexsecret = address.split("#", 1)
            secret = bytes.fromhex(hexsecret)
        c = cls.__new__(cls)
        c.closed, c._consoles, c._endpoints, c._procs, c._programs = False, {}, [], [], []
        c.kernels, c.client, c.secret, c.nnodes = [], None, secret, 0
        c._join_as_client(address)
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
        from .dipc.node import Dipc
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
            net.attach(Dipc(k, net), peers)
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
              suspended: bool = False, privileged: bool = False) -> "Program":
        """Load and start a guest program on `node`: an ELF path, or C sources to build.

        Its console output is collected (and passed to `sink(bytes)` as it
        arrives); `wait` gives its exit status.  With `suspended` its first
        thread waits for `resume` (to give the task rights before it runs).  With
        `privileged` it may take its node's host_priv (normach_host_priv_self): a
        bootstrap privilege; other programs get MACH_PORT_NULL there.
        Raises: KernError KERN_INVALID_ARGUMENT (not a program), and the codes of task creation.
        """
        from .ipc.port import ipc_port_make_send
        from .servers.console import launch
        image = _load_program(prog)
        argv = [prog, *map(str, args)]
        if self.client is not None:
            return self._spawn_remote(image, argv, node, env, suspended, privileged)
        k = self.kernel(node)
        task, thread, out = launch(k, self.console(node), image, os.path.basename(prog), argv,
                                   env, sink, suspended, privileged)
        with k.lock:
            handle = Task(ipc_port_make_send(task.itk_self))
        program = Program(handle, task, out, node, thread)
        self._programs.append(program)
        return program

    def _spawn_remote(self, image: bytes, argv: list, node: int, env, suspended: bool,
                      privileged: bool = False):
        from .dipc.control import ctl_spawn
        reply = self._control(node, ctl_spawn(label=os.path.basename(argv[0]), argv=argv,
                                              suspended=suspended, privileged=privileged,
                                              image=image))
        p = Program(self._handle_from(reply.uid, Task), None, None, node)
        p.remote_id = reply.program
        return p

    def resume(self, program: "Program") -> None:
        """Start a program spawned with `suspended=True`."""
        from .kern.thread import thread_resume
        if program.remote_id is not None:
            from .dipc.control import ctl_resume
            self._control(program.node, ctl_resume(program=program.remote_id))
            return
        with self.kernel(program.node).lock:
            thread_resume(program.thread)

    def _remote_status(self, program: "Program", timeout_ms: int):
        from .dipc.control import ctl_wait
        r = self._control(program.node, ctl_wait(program=program.remote_id,
                                                 timeout_ms=timeout_ms), timeout_ms / 1000 + 30)
        program.remote_output = r.output
        if r.done:
            program.remote_exit = (r.status, r.reason)
        return r

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
                r = self._remote_status(program, int(1000 * min(left or 1.0, 1.0)))
                if r.done:
                    return r.status
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
        from .servers.migration import task_migrate
        handle = target.task_handle if isinstance(target, Program) else target
        return task_migrate(handle, node)

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
            rows = []
            for n in range(self.nnodes):
                try:
                    rows += from_wire(self._control(n, ctl_ps(node=n), 10.0).rows)
                except KernError:
                    pass
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
        for _ in range(2):          # releases and hand-overs the terminations started
            for k in self.kernels:
                if k.xmm is not None:
                    k.xmm.flush_background()
        for console in self._consoles.values():
            console.thread.join(5.0)
        if self.client is not None:
            with self.client.lock:
                for t in sorted(self.client.tasks, key=lambda t: t.id):
                    if t.active:
                        task_terminate(t)
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
        self.remote_id = None            # programs on node processes: their index there
        self.remote_exit = None          # (status, reason) once known
        self.remote_output = b""

    @property
    def reason(self) -> str:
        """Why the task ended, if an exception killed it ('' otherwise)."""
        if self.remote_id is not None:
            return self.remote_exit[1] if self.remote_exit else ""
        return self.task.exit_reason

    def __repr__(self) -> str:
        if self.remote_id is not None:
            state = "running" if self.remote_exit is None else f"exited {self.remote_exit[0]}"
        else:
            state = "running" if self.task.active else f"exited {self.task.exit_status}"
        return f"<Program {self.task.name} node={self.node} {state}>"


def _load_program(prog: str) -> bytes:
    """The ELF image of `prog`: a path to an executable, or C sources (built first)."""
    if prog.endswith(".c"):
        import tempfile
        from .guest.build import compile_program
        out = os.path.join(tempfile.mkdtemp(prefix="normach-"), os.path.basename(prog)[:-2])
        compile_program(out, [prog])          # raises GuestBuildError with the diagnostics
        prog = out
    try:
        with open(prog, "rb") as f:
            return f.read()
    except OSError as e:
        raise KernError(KernReturn.KERN_INVALID_ARGUMENT, f"{prog}: {e.strerror}") from None


def start_node_processes(nodes: int, secret: bytes, phys_bytes: int = param.PHYS_MEM_BYTES,
                         first: int = 0, count: int | None = None, memory: int | None = None):
    """Start node processes `first`..`first+count-1` of an `nodes`-node cluster on tcp
    loopback.  Returns (processes, {node: address}, {node: public key}): each node
    prints its key on the pipe only its starter reads."""
    import json
    import subprocess
    import sys
    procs, addresses, keys = [], {}, {}
    for i in range(first, first + (nodes if count is None else count)):
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "normach.node_process", "--index", str(i),
             "--nodes", str(nodes), "--secret-hex", secret.hex(),
             "--phys-bytes", str(phys_bytes)] + (["--memory-bytes", str(memory)] if memory else []),
            stdout=subprocess.PIPE, text=True))
    for i, proc in zip(range(first, first + len(procs)), procs):
        line = proc.stdout.readline()
        if not line:
            for p in procs:
                p.kill()
            raise KernError(KernReturn.KERN_NODE_DOWN, f"node process {i} did not start")
        hello = json.loads(line)
        addresses[i], keys[i] = hello["address"], hello.get("key", "")
    return procs, addresses, keys
