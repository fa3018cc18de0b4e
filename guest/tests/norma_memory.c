/*
 * Address spaces across nodes from a guest (spec §1.4, §2.4, N1.8): argv[1] is the
 * node to use (default: this node, where the same calls take their local forms).
 *   - a child made by task_create is teleported there: the teleported task has the
 *     child's memory (N1.15, V2.12), its writes do not reach us (the child's region
 *     was a COPY of ours);
 *   - task_create after task_set_child_node makes the child there, with our memory;
 *   - norma_task_create there shares a SHARE region both ways (V2.6 across nodes).
 */
#include <mach.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"

static int node_of(task_t t)
{
    int n = -1;
    KR(norma_port_location_hint(mach_task_self(), t, &n));
    return n;
}

static void expect_bytes(task_t t, vm_address_t a, const char *want)
{
    pointer_t data = 0;
    mach_msg_type_number_t count = 0;
    KR(vm_read(t, a, vm_page_size, &data, &count));
    CHECK(count == vm_page_size && memcmp((void *)data, want, strlen(want) + 1) == 0,
          "read %.16s, expected %s", (char *)data, want);
    KR(vm_deallocate(mach_task_self(), data, count));
}

int main(int argc, char **argv)
{
    task_t self = mach_task_self(), child, moved, there_child, shared_child;
    vm_address_t copied = 0, shared = 0;
    int here = -1;
    KR(norma_node_self(mach_host_self(), &here));
    int there = argc > 1 ? atoi(argv[1]) : here;

    KR(vm_allocate(self, &copied, vm_page_size, TRUE));
    KR(vm_allocate(self, &shared, vm_page_size, TRUE));
    KR(vm_inherit(self, shared, vm_page_size, VM_INHERIT_SHARE));
    strcpy((char *)copied, "copied page");
    strcpy((char *)shared, "shared page");

    /* 1. teleport a child of ours */
    KR(task_create(self, NULL, 0, TRUE, &child));
    KR(norma_task_teleport(child, TRUE, there, &moved));
    CHECK(node_of(moved) == there, "teleported task on node %d", node_of(moved));
    expect_bytes(moved, copied, "copied page");
    KR(vm_write(moved, copied, (pointer_t)"moved wrote", 12));
    expect_bytes(moved, copied, "moved wrote");
    CHECK(strcmp((char *)copied, "copied page") == 0, "our COPY page changed: %s", (char *)copied);
    printf("ok   teleported child on node %d has the memory, its writes stay its own\n", there);

    /* 2. task_create after task_set_child_node (N1.8) */
    KR(task_set_child_node(self, there));
    KR(task_create(self, NULL, 0, TRUE, &there_child));
    CHECK(node_of(there_child) == there, "task_create made the child on node %d",
          node_of(there_child));
    expect_bytes(there_child, copied, "copied page");
    printf("ok   task_create after task_set_child_node(%d): child there, with our memory\n", there);

    /* 3. a SHARE region stays shared with a child on the other node */
    KR(norma_task_create(self, TRUE, there, &shared_child));
    KR(vm_write(shared_child, shared, (pointer_t)"child wrote", 12));
    CHECK(strcmp((char *)shared, "child wrote") == 0, "shared page reads %s", (char *)shared);
    strcpy((char *)shared, "parent wrote");
    expect_bytes(shared_child, shared, "parent wrote");
    printf("ok   SHARE region shared with node %d both ways\n", there);

    KR(task_terminate(moved));
    KR(task_terminate(there_child));
    KR(task_terminate(shared_child));
    printf("norma_memory: PASS\n");
    return 0;
}
