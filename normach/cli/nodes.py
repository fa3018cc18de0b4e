"""`normach up`, `normach node` and `normach status`: running and watching nodes.

`up` starts node processes here: node 0 at --listen, the rest on the same host,
each told the cluster secret in its environment.  It writes the cluster file
(cli/where.py) so that later commands find the cluster, and removes it when it
stops.  `node` runs one node in this process that joins a running cluster (from
another machine, or again after it died: the cluster takes its new incarnation)
or, with --from-launcher, is one rank of an MPI or Slurm job (launcher.py).
"""

from __future__ import annotations

import os
import signal
import sys
import threading

import click

from .errors import FAILURE, Fail


def up(nodes: int, local: int, listen: str, advertise: str | None, memory: int | None) -> None:
    import secrets

    from .. import KernError
    from ..cluster import start_node_processes
    from ..node_process import tcp_address
    from . import where
    try:
        address = tcp_address(listen)
    except ValueError as e:
        raise Fail(f"--listen: {e}") from None
    secret = secrets.token_bytes(32)
    try:
        procs, addresses, _keys = start_node_processes(
            nodes, secret, count=local, memory=memory << 20 if memory else None,
            listen=address, advertise=advertise)
    except KernError as e:
        raise Fail(f"the nodes did not form a cluster: {e.detail or e.name}") from None
    try:
        path = where.write_cluster_file(addresses[0], secret, nodes)
        click.echo(f"connect: {addresses[0]}#{secret.hex()}")
        click.echo(f"normach: {local} of {nodes} nodes up; cluster file {path} "
                   "(ps, run, logs, status ... find it)")
        if local < nodes:
            click.echo(f"the other nodes join with: NORMACH_SECRET={secret.hex()} "
                       f"normach node --index I --join {addresses[0]} --listen HOST")
        sys.stdout.flush()
        _serve(procs)
    finally:
        _stop(procs)                                # whatever happened: no node left behind
        where.remove_cluster_file()


def _serve(procs) -> None:
    """Until SIGTERM, Ctrl-C, or every node process ended."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5) and any(p.poll() is None for p in procs):
            pass
    except KeyboardInterrupt:
        pass


def _stop(procs) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except Exception:
            p.kill()
            p.wait()


def node(index, nodes, join, listen, advertise, memory, launcher) -> int:
    """Run one node here until it is told to stop.  Returns the exit code."""
    from .. import node_process
    if launcher:
        if index is not None or join:
            raise Fail("--from-launcher: the launcher gives the index and the cluster "
                       "(no --index, no --join)")
        from .launcher import run_rank
        from ..node_process import NodeError
        try:
            return run_rank(listen, advertise, memory)
        except NodeError as e:
            raise Fail(str(e)) from None
    if index is None:
        raise Fail("node: --index is needed (or --from-launcher)")
    seed, secret = _seed(join)
    if secret is None:
        raise Fail("no secret: set NORMACH_SECRET (a cluster without one would take "
                   "anyone's messages)")
    os.environ["NORMACH_SECRET"] = secret.hex()         # read (and removed) by node_process
    argv = ["--index", str(index), "--listen", listen]
    argv += ["--nodes", str(nodes)] if nodes else []
    argv += ["--join", seed] if seed else []
    argv += ["--advertise", advertise] if advertise else []
    argv += ["--memory-bytes", str(memory << 20)] if memory else []
    if not seed and not nodes:
        raise Fail("node: --join ADDRESS (a running cluster's node 0), or --nodes N to start one")
    return node_process.main(argv)


def _seed(join: str | None) -> tuple[str | None, bytes | None]:
    """Node 0's address and the secret.  The secret never comes from the command line."""
    from . import where
    if join and "#" in join:
        raise Fail("--join takes the address only: give the secret in NORMACH_SECRET "
                   "(a command line is readable by every local user)")
    if os.environ.get("NORMACH_SECRET"):
        try:
            secret = bytes.fromhex(os.environ["NORMACH_SECRET"])
        except ValueError:
            raise Fail("NORMACH_SECRET: not hex") from None
        return join, secret
    found = where.find(None)
    if found is None:
        if join:
            raise Fail("no secret: set NORMACH_SECRET (as `normach up` prints it) or "
                       "NORMACH_CLUSTER")
        return None, None
    return join or found[0], found[1]


# -- status ------------------------------------------------------------------------------
def status_rows(c) -> list[dict]:
    """A row per node: its state as seen from here and from node 0, and what it holds."""
    from .. import KernError
    from ..dipc.control import ctl_stats
    rows = []
    for n in range(c.nnodes):
        try:
            counts = dict(c._control(n, ctl_stats(node=n), 3.0).counts)
            counts["state"] = "up"
        except KernError as e:
            counts = {"node": n, "state": "down" if e.name == "KERN_NODE_DOWN" else "suspect"}
        rows.append(counts)
    _suspects(c, rows)
    return rows


def _suspects(c, rows: list) -> None:
    """A node this client cannot reach that node 0 still counts as up is "suspect"."""
    up = [r for r in rows if r["state"] == "up" and "down" in r]
    if not up:
        return
    down_seen = set(up[0]["down"])
    for r in rows:
        if r["state"] == "down" and r["node"] not in down_seen:
            r["state"] = "suspect"


__all__ = ["up", "node", "status_rows", "FAILURE"]
