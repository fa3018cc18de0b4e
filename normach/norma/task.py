"""norma_task_create, norma_task_clone, norma_task_teleport (spec §1.4-1.6, §0).

All three run on the parent's home node and share one algorithm:
1. check    – a live parent and a valid node (N1.9, §0.5), else KERN_INVALID_ARGUMENT;
2. same node – create: a local task_create (N1.20); clone: a local task sharing
              every region (§0.3); teleport: the parent itself, untouched (N1.22);
3. allocate – the child node makes a parentless task with what a task_create child
              inherits: bootstrap, registered and exception ports, resource limits
              (§0.1, N1.12-N1.13); it has no threads (N1.17);
4. memory   – with inherit_memory FALSE the child's map is empty (N1.18); else the
              parent's map is described in one vector (xmm/copy_vm.py: shared
              objects by name, copies as copy objects) before the child is
              allocated, and the child's node enters it all or nothing; pages
              follow on demand.  Unlike the source (N1.14), a failed transfer is
              an error: the half-built child is destroyed (§0.5);
5. teleport – the parent is terminated once the child has its memory (N1.15), and
              the memory only the child uses is pushed to its node in the
              background (xmm/push.py: no residual dependency).
"""

from __future__ import annotations

from .. import param
from ..errors import KernError, KernReturn
from .node import node_valid

K = KernReturn


def _norma_task(parent, inherit_memory, child_node, clone: bool, kill_parent: bool):
    from ..kern.task import task_create, task_terminate
    kernel = parent.kernel
    if not parent.active:
        raise KernError(K.KERN_INVALID_ARGUMENT, "parent task is terminated")
    if not node_valid(kernel, child_node):
        raise KernError(K.KERN_INVALID_ARGUMENT, f"child node {child_node!r}")
    inherit = bool(inherit_memory)
    if child_node == kernel.node:
        if kill_parent:
            return parent                                  # N1.22: nothing happens
        return task_create(parent, inherit, share_all=clone)
    if kernel.remote is None:
        raise KernError(K.KERN_NODE_DOWN, f"node {child_node} is not reachable")
    vector, held = _describe(parent, clone) if inherit else (None, [])
    try:
        child = kernel.remote.task_allocate(child_node, parent)
        if vector is not None:
            _transfer(kernel, child, child_node, vector)
    except KernError:
        if vector:
            from ..xmm.copy_vm import exported_xids
            kernel.xmm.retire_unused(exported_xids(vector))
        raise
    finally:
        if held:
            kernel.xmm.transfer(held, -1)
    if kill_parent and parent.active:
        task_terminate(parent)                             # N1.15, after the child exists
        if vector and param.XMM_PUSH_AFTER_TELEPORT:
            from ..xmm.copy_vm import exported_xids
            kernel.xmm.evacuate([x for x in exported_xids(vector) if x[0] == kernel.node],
                                child_node)
    return child


def _describe(parent, clone: bool) -> tuple:
    """(vector of the parent's map, xids held in transit): exports and copies its objects.
    Conditions: kernel lock held (may be released).  Raises: KERN_INVALID_ARGUMENT if the
    parent died meanwhile, KERN_NODE_DOWN, KERN_FAILURE."""
    from ..xmm.copy_vm import build_vector
    kernel = parent.kernel
    if kernel.xmm is None:
        raise KernError(K.KERN_NODE_DOWN, "no distributed memory manager on this node")
    vector, held = build_vector(kernel.xmm, parent.map, share_all=clone)
    if not parent.active:
        kernel.xmm.transfer(held, -1)
        raise KernError(K.KERN_INVALID_ARGUMENT, "parent task terminated meanwhile")
    return vector, held


def _transfer(kernel, child, child_node: int, vector: list) -> None:
    """Send the vector to the child's node (which destroys the child if it fails).
    Conditions: kernel lock held (released meanwhile).  Raises: the child node's error."""
    from ..ipc.port import ipc_port_release_send
    from ..xmm import messages as m
    try:
        kernel.xmm.call(child_node, m.xmm_vm_map(task=list(child.proxy[0]), entries=vector))
    except KernError:
        ipc_port_release_send(child)
        raise


def norma_task_create(parent, inherit_memory, child_node):
    """N1.9-N1.20: a child on `child_node` that honours inheritance."""
    return _norma_task(parent, inherit_memory, child_node, clone=False, kill_parent=False)


def norma_task_clone(parent, inherit_memory, child_node):
    """A child on `child_node` sharing every region (§0.3: also on the parent's node)."""
    return _norma_task(parent, inherit_memory, child_node, clone=True, kill_parent=False)


def norma_task_teleport(parent, inherit_memory, child_node):
    """A clone on `child_node`, then the parent terminated (to its own node: itself, N1.22)."""
    return _norma_task(parent, inherit_memory, child_node, clone=True, kill_parent=True)
