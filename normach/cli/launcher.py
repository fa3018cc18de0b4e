"""Nodes started by an existing launcher: MPI's `mpirun` or Slurm's `srun`.

Users of a real multicomputer start jobs with the launcher their site runs, so
`mpirun -n K normach node --from-launcher` (or `srun -n K ...`, which starts the
ranks through the same PMI interface) makes every rank a node: rank R is node
R of a K-node cluster.  The launcher's own communicator does the bootstrap and
nothing else:

  1. rank 0 draws the cluster secret and broadcasts it (inside the job: it never
     appears on a command line or in a file other users can read);
  2. every rank starts its node (binding --listen, any port) and all ranks
     exchange their [address, public key] entries (allgather), so every node
     has the whole membership table before any traffic;
  3. rank 0 writes the cluster file (cli/where.py) and prints where it is (the
     secret is in that file alone: a job's output files are often readable by others).

From then on the nodes talk over their own transport, as any cluster's do.
The optional dependency is mpi4py (`pip install 'normach[mpi]'`, with Open MPI
or another MPI from the system's packages).
"""

from __future__ import annotations

import secrets
import sys

from .. import param
from ..errors import KernError
from ..node_process import NodeError, NodeProcess, tcp_address


def run_rank(listen: str, advertise: str | None, memory_mib: int | None) -> int:
    """Be this launcher rank's node until the cluster is shut down.  Returns 0.
    Raises: NodeError (no mpi4py; a bad --listen; the node cannot start)."""
    try:
        from mpi4py import MPI
    except ImportError:
        raise NodeError("--from-launcher needs mpi4py: pip install 'normach[mpi]' "
                        "(with Open MPI from the system's packages)") from None
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    secret = comm.bcast(secrets.token_bytes(32) if rank == 0 else None, root=0)
    try:
        address = tcp_address(listen)
    except ValueError as e:
        raise NodeError(f"--listen: {e}") from None
    try:
        node = NodeProcess(rank, size, address, secret, param.PHYS_MEM_BYTES,
                           memory_mib << 20 if memory_mib else None, advertise=advertise)
    except KernError as e:
        raise NodeError(f"rank {rank}: {e.detail or e.name}") from None
    table = comm.allgather(node.table[rank])
    node.learn({i: entry for i, entry in enumerate(table) if i != rank})
    comm.Barrier()                                 # every node knows every other
    if rank == 0:
        _announce(table[0][0], secret, size)
    node.serve()
    return 0


def _announce(address: str, secret: bytes, size: int) -> None:
    from .where import write_cluster_file
    path = write_cluster_file(address, secret, size)       # the secret: there alone (0600),
    print(f"normach: {size} nodes up from the launcher, node 0 at {address}; cluster file "
          f"{path}", file=sys.stderr, flush=True)        # not in the job's output files
