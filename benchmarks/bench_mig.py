"""MIG (docs/mig.md): what a call through generated stubs costs, beside the same run's
baselines.

* task_info by a MIG message to the task port, against task_info by the kernel-call
  trap (the guest ABI's hand-written stub): the price of the message path;
* add() through MIG stubs between two threads of a guest (mach_msg_server), against
  a hand-packed null mach_msg RPC between two guest threads (benchmarks/guest/msg_rtt.c).

Each figure is wall time per call from a pair of runs (N and N + 2000 calls: the
difference leaves out loading and start-up).
"""

from __future__ import annotations

import os
import tempfile

from .harness import Result, guest_per_call

US = 1e6
HERE = os.path.dirname(os.path.abspath(__file__))


def _build() -> tuple[str, str]:
    """(mig_calls, msg_rtt) executables."""
    from normach.guest.build import compile_interface, compile_program, kernel_defs_dir
    d = tempfile.mkdtemp(prefix="normach-bench-mig-")
    gen = os.path.join(d, "gen")
    kernel = kernel_defs_dir() / "mach" / "mach.defs"
    files = compile_interface(kernel, gen, ["USERPREFIX=mig_"], header="mach_mig.h")
    files += compile_interface(os.path.join(HERE, "guest", "bench.defs"), gen)
    sources = [os.path.join(HERE, "guest", "mig_calls.c")] + \
        [str(f) for f in files if f.name in ("machUser.c", "benchUser.c", "benchServer.c")]
    calls, rtt = os.path.join(d, "mig_calls"), os.path.join(d, "msg_rtt")
    compile_program(calls, sources, ["-I", gen])
    compile_program(rtt, [os.path.join(HERE, "guest", "msg_rtt.c")])
    return calls, rtt


def run_all() -> list[Result]:
    calls, rtt = _build()
    trap = guest_per_call(calls, lambda n: ["trap", str(n)])
    mig = guest_per_call(calls, lambda n: ["mig", str(n)])
    rpc = guest_per_call(calls, lambda n: ["rpc", str(n)])
    hand = guest_per_call(rtt, lambda n: [str(n)])
    return [Result("task_info by a MIG message to the task port", "µs", mig * US,
                   "task_info by the kernel-call trap", trap * US),
            Result("MIG add() RPC, guest thread to guest thread", "µs", rpc * US,
                   "hand-packed null mach_msg RPC, guest threads", hand * US)]
