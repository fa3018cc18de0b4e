/*
 * A counter that moves itself around the cluster while it counts.
 *
 *     normach run --nodes 3 examples/migrating_counter.c
 *
 * Every 1,000,000 increments it asks to be moved to the next node with
 * migrate_self(node): the call returns on the new node, with the count,
 * the stack and everything else in place.
 */
#include <mach.h>
#include <stdio.h>

int main(void)
{
    int nodes = 3, here = -1;
    volatile unsigned long count = 0;

    for (int leg = 0; leg < 6; leg++) {
        norma_node_self(mach_host_self(), &here);
        for (int i = 0; i < 1000000; i++)
            count++;
        printf("counted to %lu on node %d\n", count, here);
        kern_return_t kr = migrate_self((here + 1) % nodes);
        if (kr != KERN_SUCCESS)
            printf("migrate_self: %d (a one-node cluster? try normach run --nodes 3)\n", kr);
    }
    norma_node_self(mach_host_self(), &here);
    printf("done: %lu, on node %d\n", count, here);
    return count == 6000000 ? 0 : 1;
}
