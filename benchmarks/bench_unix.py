"""The Unix server (docs/unix-server.md): what a Linux system call costs, beside the
same run's baselines.

* getpid, and write of 1 byte into a pipe, each a round trip to the Unix server
  (EXC_SYSCALL with the thread's registers, the answer with them back), against a
  Mach trap the kernel answers at once, from the same Linux program;
* reading a 16 MiB file in 64 KiB reads, against the host reading the same file
  the same way (Python, os.read).

Per-call figures are the difference of runs of N and N + 2000 calls (best of 3), so
loading and start-up drop out; the file read is the difference of 1 and 3 passes.
"""

from __future__ import annotations

import os
import tempfile
import time

from .harness import Result

US = 1e6
HERE = os.path.dirname(os.path.abspath(__file__))
FILE_MB = 16


def _build() -> str:
    from normach.guest.build import compile_linux
    d = tempfile.mkdtemp(prefix="normach-bench-unix-")
    exe = os.path.join(d, "unix_calls")
    compile_linux(exe, [os.path.join(HERE, "guest", "unix_calls.c")])
    return exe


def _run(exe: str, args: list, root: str) -> float:
    from normach import Cluster
    with Cluster(nodes=1) as c:
        t0 = time.perf_counter()
        p = c.spawn(exe, args=args, root=root)
        assert c.wait(p, timeout=900) == 0, (p.reason, c.output(p))
        return time.perf_counter() - t0


def _per_call(exe: str, mode: str, root: str, small: int = 200, big: int = 2200) -> float:
    def best(n):
        return min(_run(exe, [mode, str(n)], root) for _ in range(3))
    return (best(big) - best(small)) / (big - small)


def _host_read(path: str, passes: int) -> float:
    t0 = time.perf_counter()
    for _ in range(passes):
        fd = os.open(path, os.O_RDONLY)
        while os.read(fd, 65536):
            pass
        os.close(fd)
    return time.perf_counter() - t0


def run_all() -> list[Result]:
    exe = _build()
    root = tempfile.mkdtemp(prefix="normach-bench-unix-root-")
    null = _per_call(exe, "null", root)
    getpid = _per_call(exe, "getpid", root)
    pipe = _per_call(exe, "pipe", root)
    path = os.path.join(root, "data")
    with open(path, "wb") as f:
        f.write(os.urandom(FILE_MB << 20))
    guest = min(_run(exe, ["read", "3", "data"], root) for _ in range(2)) \
        - min(_run(exe, ["read", "1", "data"], root) for _ in range(2))
    host = min(_host_read(path, 3) for _ in range(3)) - min(_host_read(path, 1) for _ in range(3))
    mb = 2 * FILE_MB
    return [Result("getpid through the Unix server", "µs", getpid * US,
                   "Mach null trap, same program", null * US),
            Result("write 1 byte to a pipe through the Unix server", "µs", pipe * US,
                   "Mach null trap, same program", null * US),
            Result(f"read a {FILE_MB} MiB file in 64 KiB reads", "MB/s", mb / max(guest, 1e-9),
                   "the host's own read of the file (os.read)", mb / max(host, 1e-9),
                   f"the host reads {guest / max(host, 1e-9):.0f}x faster")]
