"""Distributed shared memory benchmarks (embedded cluster), with same-run baselines:

* teleport freeze time (the call, parent stopped until the child holds its address
  space) with 1, 64 and 512 MiB touched, vs streaming the same bytes over raw zmq
  (the floor of any eager copy);
* a remote read fault, and a write fault that must first take the page from k
  readers, measured in the fault path of the faulting node, vs a raw zmq round trip;
* page-in rate of a teleported task reading its memory on demand (background push
  off) vs raw zmq streaming; the time the background push takes to leave the old
  node holding nothing, vs raw zmq streaming of the same bytes;
* a counter shared under a spinlock, and a parallel matrix multiply, with the
  second task on another node vs on the same node.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time

from normach import Cluster, mach, param

from .bench_dipc import raw_zmq_rtt
from .harness import Result

US, MIB = 1e6, 1 << 20
PAGE = 4096


def _stream(nbytes: int) -> float:
    from normach.transport.bench import raw_zmq_stream
    return statistics.median(raw_zmq_stream("inproc", nbytes) for _ in range(3))


def _touched_task(c, mib: int):
    t = c.task_create(node=0)
    a = mach.vm_allocate(t, 0, mib * MIB, True)
    chunk = b"\x5a" * MIB
    for i in range(mib):
        mach.vm_write(t, a + i * MIB, chunk)
    return t, a


def freeze_time(mib: int, runs: int) -> float:
    """Median seconds of norma_task_teleport with `mib` MiB touched (each run on a quiet
    cluster: the previous teleport's background push is over).  Touching hundreds of MiB
    from Python keeps this process busy for seconds (and Python's collector with it), so
    the embedded nodes' heartbeat is made patient for the duration."""
    saved, param.DIPC_HEARTBEAT_TIMEOUT_S = param.DIPC_HEARTBEAT_TIMEOUT_S, 60.0
    try:
        return _freeze_time(mib, runs)
    finally:
        param.DIPC_HEARTBEAT_TIMEOUT_S = saved


def _freeze_time(mib: int, runs: int) -> float:
    out = []
    with Cluster(nodes=2, phys_bytes=(mib + 16) * MIB) as c:
        w, _ = _touched_task(c, 1)                      # warm-up: first call's imports
        mach.task_terminate(mach.norma_task_teleport(w, True, 1))
        for _ in range(runs):
            _settle(c)                                  # the last run's push and releases
            t, _ = _touched_task(c, mib)
            t0 = time.perf_counter()
            child = mach.norma_task_teleport(t, True, 1)
            out.append(time.perf_counter() - t0)
            mach.task_terminate(child)
    return statistics.median(out)


def _settle(c) -> None:
    """Wait until no node holds anything for shared memory any more."""
    for _ in range(100):
        for k in c.kernels:
            k.xmm.flush_background()
        if not any(k.xmm.managers or k.xmm.pagers for k in c.kernels):
            return
        time.sleep(0.01)


def _fault_loop(kernel, task, addrs, access) -> float:
    """Seconds per fault of `task` (on `kernel`) at each of `addrs`, in the fault path."""
    from normach.vm.fault import vm_fault
    t0 = time.perf_counter()
    with kernel.lock:
        for a in addrs:
            vm_fault(task.map, a, access)
    return (time.perf_counter() - t0) / len(addrs)


def fault_times(k_readers: int, n: int = 400) -> tuple:
    """(read fault, write fault with k readers) in seconds: the writer is on node 1, the
    k readers on nodes 2 and 3; the manager node 0 also holds each page (taking it from
    there needs no message)."""
    with Cluster(nodes=4, phys_bytes=64 * MIB) as c:
        t = c.task_create(node=0)
        a = mach.vm_allocate(t, 0, 2 * n * PAGE, True)
        mach.vm_write(t, a, b"\x01" * (2 * n * PAGE))
        tasks = {0: t}
        for node in (1, 2, 3):
            tasks[node] = mach.norma_task_clone(t, True, node)
        local = {node: next(x for x in c.kernels[node].tasks) for node in (1, 2, 3)}
        pages = list(range(0, 2 * n, 2))               # no two neighbours: no read-ahead
        random.Random(1).shuffle(pages)
        reads = [a + p * PAGE for p in pages[: n // 2]]
        writes = [a + p * PAGE for p in pages[n // 2:]]
        read = _fault_loop(c.kernels[1], local[1], reads, 1)
        for node in (2, 3)[:k_readers]:
            _fault_loop(c.kernels[node], local[node], writes, 1)
        write = _fault_loop(c.kernels[1], local[1], writes, 3)
        return read, write


def page_in(mib: int) -> float:
    """Seconds for a teleported task to read `mib` MiB on demand (no background push)."""
    from normach.vm.user import vm_read
    saved, param.XMM_PUSH_AFTER_TELEPORT = param.XMM_PUSH_AFTER_TELEPORT, False
    try:
        with Cluster(nodes=2, phys_bytes=(mib + 16) * MIB) as c:
            t, a = _touched_task(c, mib)
            mach.norma_task_teleport(t, True, 1)
            k1 = c.kernels[1]
            child = next(iter(k1.tasks))
            t0 = time.perf_counter()
            with k1.lock:
                for i in range(mib):
                    vm_read(child.map, a + i * MIB, MIB)
            return time.perf_counter() - t0
    finally:
        param.XMM_PUSH_AFTER_TELEPORT = saved


def push_time(mib: int) -> float:
    """Seconds from the end of a teleport until the old node holds nothing for the task."""
    with Cluster(nodes=2, phys_bytes=(mib + 16) * MIB) as c:
        t, _ = _touched_task(c, mib)
        mach.norma_task_teleport(t, True, 1)
        t0 = time.perf_counter()
        x0 = c.kernels[0].xmm
        while x0.managers:
            time.sleep(0.001)
        return time.perf_counter() - t0


def _guest(name: str) -> str:
    from normach.guest.build import compile_program
    here = os.path.dirname(__file__)
    src = (os.path.join(here, "guest", f"{name}.c") if name == "matmul" else
           os.path.join(here, "..", "guest", "tests", f"{name}.c"))
    exe = os.path.join(tempfile.mkdtemp(prefix="normach-bench-"), name)
    compile_program(exe, [src])
    return exe


def guest_time(exe: str, there: int) -> float:
    """Seconds for the guest (node 0, its clone on node `there`) to run to exit 0, on
    node processes: unicorn keeps the GIL while it emulates, so only nodes in separate
    processes compute in parallel.  A first, untimed run warms both node processes up
    (their first CPU costs ~0.5 s to set up)."""
    with Cluster(nodes=2, processes=True, phys_bytes=64 * MIB) as c:
        for warm in (True, False):
            t0 = time.perf_counter()
            p = c.spawn(exe, args=[str(there if not warm else 1)], node=0)
            assert c.wait(p, timeout=600) == 0, (p.reason, c.output(p))
        return time.perf_counter() - t0


def run_all() -> list[Result]:
    out = []
    rtt = raw_zmq_rtt("inproc")
    for mib in (1, 64, 512):
        freeze = freeze_time(mib, 1 if mib > 64 else 3)
        out.append(Result(f"teleport freeze time, {mib} MiB touched", "ms", freeze * 1e3,
                          f"eager copy floor: {mib} MiB over raw zmq", _stream(mib * MIB) * 1e3,
                          "aim: flat"))
    read, _ = fault_times(1)
    out.append(Result("remote read fault (page held by its manager node)", "µs", read * US,
                      "raw zmq DEALER/ROUTER echo, inproc", rtt * US))
    for k in (0, 1, 2):
        _, write = fault_times(k)
        out.append(Result(f"remote write fault, {k} remote readers to flush", "µs", write * US,
                          "raw zmq DEALER/ROUTER echo, inproc", rtt * US))
    mib = 64
    secs, floor = page_in(mib), _stream(mib * MIB)
    out.append(Result(f"page-in after teleport, {mib} MiB on demand", "MB/s", mib / secs,
                      "raw zmq streaming, inproc", mib / floor, "higher is better"))
    out.append(Result(f"background push of {mib} MiB until no residual page", "ms",
                      push_time(mib) * 1e3, f"{mib} MiB over raw zmq", floor * 1e3))
    counter = _guest("norma_counter")
    out.append(Result("shared counter, 2 x 10,000 locked increments, 2 nodes", "ms",
                      guest_time(counter, 1) * 1e3, "the same on 1 node", guest_time(counter, 0) * 1e3))
    matmul = _guest("matmul")
    out.append(Result("matrix multiply 256x256, halves on 2 nodes", "ms",
                      guest_time(matmul, 1) * 1e3, "both halves on 1 node",
                      guest_time(matmul, 0) * 1e3))
    return out


if __name__ == "__main__":
    from .harness import report
    report(run_all(), None)
