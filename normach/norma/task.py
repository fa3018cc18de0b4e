"""norma_task_create, norma_task_clone, norma_task_teleport (spec §1.4-1.6, §0).

All three run on the parent's home node and share one algorithm:
1. check    – a live parent and a valid node (N1.9, §0.5), else KERN_INVALID_ARGUMENT;
2. same node – create: a local task_create (N1.20); clone: a local task sharing
              every region (§0.3); teleport: the parent itself, untouched (N1.22);
3. allocate – the child node makes a parentless task with what a task_create child
              inherits: bootstrap, registered and exception ports, resource limits
              (§0.1, N1.12-N1.13); it has no threads (N1.17);
4. memory   – with inherit_memory FALSE the child's map is empty (N1.18); moving an
              address space between nodes needs the distributed memory manager
              (issue 5): until then a remote call with inherit_memory TRUE fails
              with KERN_FAILURE and leaves nothing behind;
5. teleport – the parent is terminated once the child exists (N1.15).
"""

from __future__ import annotations

from ..kern.errors import KernError, KernReturn
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
    if inherit:
        raise KernError(K.KERN_FAILURE, "address spaces across nodes need the distributed "
                                        "memory manager (not yet)")
    child = kernel.remote.task_allocate(child_node, parent)
    if kill_parent and parent.active:
        task_terminate(parent)                             # N1.15, after the child exists
    return child


def norma_task_create(parent, inherit_memory, child_node):
    """N1.9-N1.20: a child on `child_node` that honours inheritance."""
    return _norma_task(parent, inherit_memory, child_node, clone=False, kill_parent=False)


def norma_task_clone(parent, inherit_memory, child_node):
    """A child on `child_node` sharing every region (§0.3: also on the parent's node)."""
    return _norma_task(parent, inherit_memory, child_node, clone=True, kill_parent=False)


def norma_task_teleport(parent, inherit_memory, child_node):
    """A clone on `child_node`, then the parent terminated (to its own node: itself, N1.22)."""
    return _norma_task(parent, inherit_memory, child_node, clone=True, kill_parent=True)
