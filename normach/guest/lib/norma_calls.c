/* The mach_norma subsystem (spec §1.1), packed as kern/routines.py declares. */
#include <mach.h>
#include "kcall.h"

kern_return_t task_set_child_node(task_t target_task, int child_node)
{
    return KCALL(task_set_child_node, W(target_task), S(child_node));
}

kern_return_t norma_node_self(host_t host, int *node)
{
    uint32_t n = 0;
    kern_return_t kr = KCALL(norma_node_self, W(host), P(&n));
    if (kr == KERN_SUCCESS)
        *node = (int)n;
    return kr;
}

kern_return_t norma_get_special_port(host_priv_t host_priv, int node, int which,
                                     mach_port_t *port)
{
    return KCALL(norma_get_special_port, W(host_priv), S(node), S(which), P(port));
}

kern_return_t norma_set_special_port(host_priv_t host_priv, int which, mach_port_t port)
{
    return KCALL(norma_set_special_port, W(host_priv), S(which), W(port));
}

kern_return_t norma_port_location_hint(task_t task, mach_port_t port, int *node)
{
    uint32_t n = 0;
    kern_return_t kr = KCALL(norma_port_location_hint, W(task), W(port), P(&n));
    if (kr == KERN_SUCCESS)
        *node = (int)n;
    return kr;
}

kern_return_t norma_task_create(task_t parent_task, boolean_t inherit_memory, int child_node,
                                task_t *child_task)
{
    return KCALL(norma_task_create, W(parent_task), W(inherit_memory), S(child_node),
                 P(child_task));
}

kern_return_t norma_task_clone(task_t parent_task, boolean_t inherit_memory, int child_node,
                               task_t *child_task)
{
    return KCALL(norma_task_clone, W(parent_task), W(inherit_memory), S(child_node),
                 P(child_task));
}

kern_return_t norma_task_teleport(task_t parent_task, boolean_t inherit_memory, int child_node,
                                  task_t *child_task)
{
    return KCALL(norma_task_teleport, W(parent_task), W(inherit_memory), S(child_node),
                 P(child_task));
}
