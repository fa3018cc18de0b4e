/* NORMA node calls from a guest (spec N1.1, N1.6, N1.26, N1.28, N1.30, N1.32). */
#include <mach.h>
#include <stdio.h>
#include <stdlib.h>
#include "check.h"

int main(int argc, char **argv)
{
    int expect = argc > 1 ? atoi(argv[1]) : 0;
    int node = -1, hint = -1;
    KR(norma_node_self(mach_host_self(), &node));
    CHECK(node == expect, "norma_node_self %d, expected %d", node, expect);
    KR(norma_port_location_hint(mach_task_self(), mach_task_self(), &hint));
    CHECK(hint == node, "location hint %d vs node %d (N1.32)", hint, node);

    CHECK(task_set_child_node(mach_task_self(), -1) == KERN_INVALID_ARGUMENT, "child node -1");
    CHECK(task_set_child_node(mach_task_self(), 1000) == KERN_INVALID_ARGUMENT, "child node 1000");
    KR(task_set_child_node(mach_task_self(), node));

    host_priv_t hp = normach_host_priv_self();
    mach_port_t host = MACH_PORT_NULL, empty = 1, mine, got = MACH_PORT_NULL;
    KR(norma_get_special_port(hp, node, NORMA_HOST_PORT, &host));
    CHECK(host != MACH_PORT_NULL, "no host port");
    KR(norma_get_special_port(hp, node, NORMA_NAMESERVER_PORT, &empty));
    CHECK(empty == MACH_PORT_NULL, "empty slot gave %#x", empty);
    CHECK(norma_get_special_port(mach_host_self(), node, 2, &got) == KERN_INVALID_HOST,
          "unprivileged host accepted");

    KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &mine));
    KR(mach_port_insert_right(mach_task_self(), mine, mine, MACH_MSG_TYPE_MAKE_SEND));
    CHECK(norma_set_special_port(hp, 5, mine) == KERN_INVALID_VALUE, "kernel id accepted");
    KR(norma_set_special_port(hp, NORMA_NAMESERVER_PORT, mine));
    KR(norma_get_special_port(hp, node, NORMA_NAMESERVER_PORT, &got));
    CHECK(got == mine, "registered port came back as %#x, not %#x", got, mine);
    task_t child = MACH_PORT_NULL, same = MACH_PORT_NULL;
    CHECK(norma_task_create(mach_task_self(), FALSE, 1000, &child) == KERN_INVALID_ARGUMENT,
          "norma_task_create to node 1000");
    KR(norma_task_create(mach_task_self(), TRUE, node, &child));       /* N1.20: local */
    KR(task_terminate(child));
    KR(norma_task_teleport(mach_task_self(), FALSE, node, &same));      /* N1.22: itself */
    CHECK(same == mach_task_self(), "teleport to own node gave %#x", same);
    printf("norma_node: node %d, PASS\n", node);
    return 0;
}
