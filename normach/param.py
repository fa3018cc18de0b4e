"""Tunables of a node kernel, in one place.  One comment each."""

PAGE_SIZE = 4096                    # bytes per page and per physical frame
PAGE_SHIFT = 12                     # log2(PAGE_SIZE)
PHYS_MEM_BYTES = 64 << 20           # default size of a node's physical pool
NODE_MEMORY_SHARE = 4              # a node's default memory limit: host RAM divided by this
NODE_MEMORY_FALLBACK = 1 << 30     # the default limit where the host's RAM cannot be read
THREAD_MEMORY_COST = 4 << 20       # budget charged per thread (its unicorn CPU, ~3 MiB resident)
NAME_MEMORY_COST = 2 << 10         # budget charged per port name (its entry, often a port)
TASK_MEMORY_COST = 64 << 10        # budget charged per task (map, space, ports, bookkeeping)
MSG_SIZE_MAX = 16 << 20            # largest message (header and inline data) mach_msg takes
MSG_QUEUED_OVERHEAD = 512          # budget charged per queued message beside its inline data
CONSOLE_MIGRATIONS_MAX = 8         # migrate_self requests a console server runs at once
ELF_MAX_SEGMENTS = 64              # PT_LOAD entries a program may have
MSG_PORTS_MAX = 1 << 16            # most port names the port arrays of one message carry
CALL_ARRAY_MAX = 1 << 16           # most elements of one array argument of a kernel call trap
LINUX_SYSCALL_MAX = 1000           # below: Linux system calls (EXC_SYSCALL); kernel calls start here
KERNEL_COPY_MAX = 64 << 20         # most bytes one kernel call copies in or out of a task at once
PAGEOUT_FREE_TARGET = 8             # frames the pageout path frees when the pool is empty
VM_WIRE_MAX_FRACTION = 0.5          # of a node's frames vm_wire may hold in all (the rest stays pageable)

VM_MIN_ADDRESS = 0x1000             # lowest user address (page 0 is never mapped)
VM_MAX_ADDRESS = 0x7FFF_FFFF_F000   # end of the x86-64 user range
VM_ANYWHERE_BASE = 0x1000_0000      # where "anywhere" allocations start looking

PORT_QLIMIT_DEFAULT = 5             # MACH_PORT_QLIMIT_DEFAULT (P6.12)
PORT_QLIMIT_MAX = 16                # MACH_PORT_QLIMIT_MAX (P6.12)
UREFS_MAX = 65535                   # MACH_PORT_UREFS_MAX (P6.4)
SPACE_MAX_ENTRIES = 1 << 16         # names a port space may hold before KERN_NO_SPACE
NAME_GEN_BITS = 8                   # low bits of a port name: generation number (P6.2)

TRANSPORT_MAX_HEADER_BYTES = 1 << 20    # largest msgpack header frame (frame 0) a node accepts
TRANSPORT_MAX_RAW_BYTES = 16 << 20      # largest raw (page data) frame a node accepts
TRANSPORT_FRAME_BYTES = 8 << 10         # largest zmq frame accepted, even before authentication (framing.py)
TRANSPORT_MAX_NESTING = 16              # deepest nesting of lists/maps inside a "list"/"map" field
TRANSPORT_HANDLER_THREADS = 8           # worker threads per endpoint that run request handlers
TRANSPORT_NOTIFY_THREADS = 1            # threads per endpoint that run on_peer_down callbacks (in order)
TRANSPORT_RECONNECT_IVL_MS = 100        # first delay before a DEALER reconnects to a peer
TRANSPORT_RECONNECT_IVL_MAX_MS = 1000   # longest delay between a DEALER's reconnect attempts
TRANSPORT_HANDSHAKE_IVL_MS = 5000       # a connection still handshaking after this is dropped
TRANSPORT_INPROC_BIND_RETRY_S = 2.0     # how long a restarted endpoint retries binding a closing inproc name

DIPC_HEARTBEAT_S = 0.5              # how often a node pings each peer
DIPC_HEARTBEAT_TIMEOUT_S = 2.0      # a peer silent this long is declared down (dead names, D5.8)
CLIENTS_MAX = 4096                  # clients one node keeps at once (each costs a transport entry)
CLIENT_LEASE_S = 10.0               # a client (Cluster.connect, the CLI) silent this long is forgotten
DIPC_REQUEST_TIMEOUT = 5.0          # seconds a node waits for another node's answer before declaring it down
DIPC_TOMBSTONES = 65536            # uids of dead ports from other nodes remembered as dead
DIPC_TRANSIT_BATCH = 100            # transits a proxy fetches at once when it runs short (D5.9)
DIPC_MAX_OOL_BYTES = 12 << 20      # out-of-line data one message may carry to another node (eager copy)
XMM_READAHEAD = 8                  # pages also asked for when a node faults on the page after its last one
XMM_READAHEAD_MAX = 64             # the read-ahead window doubles on each sequential fault up to this
XMM_READAHEAD_STREAMS = 8          # sequential streams followed at once per object (e.g. rows of 3 arrays)
XMM_GRANT_WAIT_S = 2.0             # a lock waits this long for the grant it revokes (< DIPC_REQUEST_TIMEOUT)
XMM_PUSH_AFTER_TELEPORT = True     # push a teleported task's memory to its node in the background
XMM_HAND_OVER_TRIES = 8            # times a manager tries to move an object to the one node using it
XMM_PUSH_BATCH = 256               # pages per message when a teleported task's memory is pushed to it
XMM_PUSH_DELAY_S = 0.25           # the push starts this long after a teleport (a migration sets up first)
XMM_RELEASE_BATCH = 256            # pages per message when a node gives written pages back
CPU_TIME_SLICE_MS = 10             # a CPU runs this long before a waiting CPU of its node gets a turn

TASK_NAME_MAX = 64                  # bytes of a task's name (task_set_name)
EXITS_KEPT = 1024                   # exit statuses a node keeps of tasks that ended (ctl_exit)
MIGRATION_HOPS_MAX = 64             # moves a program's home follows in one look (ctl_exit successors)
CTL_WAIT_S = 0.5                    # longest a control request (wait, follow, exit) waits on a node
CTL_WAITERS_MAX = 4                 # control requests waiting at once on a node (of its handler threads)
FOLLOW_CHUNK = 256 << 10            # console text one ctl_follow answer carries at most
PROGRAMS_KEPT = 64                  # ended programs a node keeps for logs/wait (the oldest go)
ENDED_OUTPUT_KEPT = 256 << 10       # console text an ended program keeps for `normach logs`
CONSOLE_OUTPUT_MAX = 8 << 20        # console text kept per program (older text is dropped, counted)

TASK_PORT_REGISTER_MAX = 3          # mach_ports_register slots (T7.10)
LEDGER_VM_DEFAULT = 1 << 40         # default ledger limit on a task's virtual memory, bytes
LEDGER_THREADS_DEFAULT = 1024       # default ledger limit on a task's thread count
