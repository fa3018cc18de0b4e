"""The kernel of one node.

A `Kernel` is one node of the multicomputer: a node index, the kernel lock, a
physical memory pool, the default pager, the tasks that live here and the host
ports.  Everything on a node hangs off its `Kernel`; nothing is global, so an
embedded cluster is simply several `Kernel` objects in one process.
"""

from __future__ import annotations

import collections
import itertools

from .. import param
from .lock import KernelLock
from .clock import CALENDAR_CLOCK, SYSTEM_CLOCK, Clock


class Kernel:
    """One node kernel.

    Fields (guarded by `lock` unless marked fixed):
      node        fixed: this node's index (norma_node_self)
      nnodes      fixed: configured number of nodes (validity of node ids, N1.2)
      lock        the node kernel lock
      phys        physical frame pool (vm/page.py)
      default_pager  the pager of anonymous memory (vm/pager.py)
      tasks       set of live tasks on this node
      host_port, host_priv_port   kernel ports of the host objects
      special_ports  norma special port table {id: Port} (N1.26-N1.29)
      stats       vm_statistics counters
      memory      the node's memory budget (kern/memory.py): what guests may make it hold
      machine     fixed after boot: the node's CPUs (boot.py attaches them)
    """

    def __init__(self, node: int = 0, nnodes: int = 1, phys_bytes: int = param.PHYS_MEM_BYTES,
                 memory_limit: int | None = None):
        from ..vm.page import PhysicalMemory
        from ..vm.pager import DefaultPager
        from ..vm.statistics import VMStatistics
        from ..ipc.ipc_kernel import IPCKernelState
        from .host import Host
        from .memory import NodeMemory, default_limit

        assert 0 <= node < nnodes
        self.node = node
        self.nnodes = nnodes
        self.lock = KernelLock()
        self.stats = VMStatistics()
        self.ipc = IPCKernelState()          # port registry and IPC counters
        self.handle_rights = collections.Counter()   # {(Port, right type): n} held by Python handles
        self.orphaned_rights = collections.deque()   # (Port, right) of handles dropped undeallocated
        self.reply_ports = set()           # receive rights kernel threads wait on (an exception's answer)
        self.phys = PhysicalMemory(self, phys_bytes)
        self.memory = NodeMemory(memory_limit or default_limit(), self.phys.nframes * param.PAGE_SIZE)
        self.default_pager = DefaultPager(self)
        self.tasks: set = set()
        self.vm_objects: dict = {}         # id -> live VMObject (for audits and `normach ps`)
        self._ids = itertools.count(1)
        self.host = Host(self, privileged=False)
        self.host_priv = Host(self, privileged=True)
        self.special_ports: dict = {}
        self.remote = None                 # the DIPC layer (dipc/node.py) when there are nodes
        self.xmm = None                    # the distributed memory manager (xmm/node.py), likewise
        self.task_events = self.lock.condition()   # notified whenever a task terminates
        self.migration_server = None       # callable(task handle, node) behind
        # mach.task_migrate: the migration manager (boot.py), or a client's, which has the
        # task's node run it
        self.exits: collections.OrderedDict = collections.OrderedDict()
        # task port uid -> (exit status, reason) of the last EXITS_KEPT tasks that ended
        # (lock): a task's status outlives it, for whoever on another node asks late
        self.machine = None                # its CPUs (machine/machine.py), attached at boot (boot.py)
        with self.lock:
            self.host.init_port()
            self.host_priv.init_port()
            self.clocks = {c: Clock(self, c) for c in (SYSTEM_CLOCK, CALENDAR_CLOCK)}

    def kernel_held_send_rights(self):
        """Counter {Port: n} of send rights held by kernel state and handles (for audits)."""
        from .audit import kernel_held_send_rights
        return kernel_held_send_rights(self)

    def kernel_held_sonce_rights(self):
        """Counter {Port: n} of send-once rights held by handles or other nodes (audits)."""
        from .audit import handle_held_rights
        from ..mach_types import MsgType
        c = handle_held_rights(self, MsgType.PORT_SEND_ONCE)
        if self.remote is not None:
            c.update(self.remote.held_sonce_rights())
        return c

    def kernel_held_receive_rights(self):
        """Counter {Port: n} of receive rights held by Python handles, and of the reply
        ports threads wait on in the kernel (for audits)."""
        from .audit import handle_held_rights
        from ..mach_types import MsgType
        return handle_held_rights(self, MsgType.PORT_RECEIVE) + collections.Counter(self.reply_ports)

    def next_id(self) -> int:
        """A node-unique serial number (object ids, task ids)."""
        return next(self._ids)

    def __repr__(self) -> str:
        return (f"<Kernel node={self.node}/{self.nnodes} tasks={len(self.tasks)} "
                f"frames={self.phys.free_count}/{self.phys.nframes} free>")
