"""Finding the cluster a command is about, without retyping it.

`normach up` writes a *cluster file* (`cluster.json` in the user's runtime
folder from platformdirs, or their config folder where the session has no
runtime folder; the folder 0700 and the file 0600, as ssh keeps its keys): the
address of node 0 and the cluster's secret.  Every command that talks to a
cluster finds it, in this order:

  1. `--cluster ADDRESS#SECRET` on the command line (`--join` is the old name);
  2. the environment: `NORMACH_CLUSTER=ADDRESS#SECRET`;
  3. the cluster file.

A secret on a command line can be read by any local user (/proc/PID/cmdline),
so the last two are the ones to use on a shared machine; node processes get
the secret in their environment (`NORMACH_SECRET`), never in argv.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import Fail


def cluster_file() -> Path:
    """Where `up` writes the cluster file (NORMACH_CLUSTER_FILE overrides)."""
    override = os.environ.get("NORMACH_CLUSTER_FILE")
    if override:
        return Path(override)
    import platformdirs
    if os.path.isdir(os.environ.get("XDG_RUNTIME_DIR", "")):     # the session's own folder
        return Path(platformdirs.user_runtime_dir("normach")) / "cluster.json"
    return Path(platformdirs.user_config_dir("normach")) / "cluster.json"   # not /tmp


def write_cluster_file(address: str, secret: bytes, nodes: int) -> Path:
    """Write the cluster file (0600, atomically); returns its path."""
    path = cluster_file()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.parent.stat()
    if st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise Fail(f"{path.parent}: owned or writable by another user: refused")
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"address": address, "secret": secret.hex(), "nodes": nodes,
                   "pid": os.getpid()}, f)
    os.replace(tmp, path)
    return path


def remove_cluster_file() -> None:
    """Remove the cluster file if this process wrote it (`up` stopping)."""
    path = cluster_file()
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def parse(spec: str, what: str = "--cluster") -> tuple[str, bytes]:
    """`ADDRESS#SECRET` -> (tcp address, secret).  Raises: Fail."""
    from ..node_process import tcp_address
    address, sep, hexsecret = spec.strip().partition("#")
    if not sep or not hexsecret:
        raise Fail(f"{what}: expected ADDRESS#SECRET (as `normach up` prints it), got {spec!r}")
    try:
        secret = bytes.fromhex(hexsecret)
        return tcp_address(address), secret
    except ValueError as e:
        raise Fail(f"{what}: {e}" if "HOST" in str(e) or "host" in str(e)
                   else f"{what}: the secret is not hex") from None


def find(option: str | None) -> tuple[str, bytes] | None:
    """The cluster named by the option, the environment or the file; None if none is."""
    if option:
        return parse(option)
    if os.environ.get("NORMACH_CLUSTER"):
        return parse(os.environ["NORMACH_CLUSTER"], "NORMACH_CLUSTER")
    path = cluster_file()
    if not path.exists():
        return None
    _check_owner(path)
    try:
        data = json.loads(path.read_text())
        return parse(f"{data['address']}#{data['secret']}", str(path))
    except (OSError, ValueError, KeyError, TypeError):
        raise Fail(f"{path}: not a cluster file (remove it, or start a cluster with `normach up`)") from None


def _check_owner(path: Path) -> None:
    """A cluster file someone else owns, or others can read, is refused."""
    st = path.stat()
    if st.st_uid != os.getuid():
        raise Fail(f"{path}: owned by another user: refused")
    if st.st_mode & 0o077:
        raise Fail(f"{path}: readable by others (mode {st.st_mode & 0o777:o}): refused")


def need(option: str | None):
    """As `find`, but a cluster must be named.  Raises: Fail."""
    found = find(option)
    if found is None:
        raise Fail("no cluster: start one with `normach up`, or name one with "
                   "--cluster ADDRESS#SECRET or NORMACH_CLUSTER")
    return found


def connect(option: str | None):
    """A client of the named cluster.  Raises: Fail (one line: which cluster, why)."""
    from .. import KernError, KernReturn
    from ..cluster import Cluster
    address, secret = need(option)
    try:
        return Cluster.connect(address, secret=secret, timeout=5.0)
    except KernError as e:
        if e.code == KernReturn.KERN_NO_ACCESS:
            raise Fail(f"cannot join {address}: authentication failed (wrong secret)") from None
        stale = ("" if option or os.environ.get("NORMACH_CLUSTER") else
                 f"; if that cluster is gone, remove {cluster_file()}")
        raise Fail(f"cannot join {address}: no cluster answers there ({e.name}){stale}") from None
