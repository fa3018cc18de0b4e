/*
 * A sum computed by three nodes at once, sharing one array.
 *
 *     normach run --nodes 3 examples/parallel_sum.c
 *
 * The task fills an array, clones itself onto nodes 1 and 2 with
 * norma_task_clone (the clones share all of its memory), starts a thread in
 * each clone, and sums its own third while they sum theirs.  The clones'
 * results land in the shared memory; distributed shared memory brings each
 * node the pages it reads.
 */
#include <mach.h>
#include <stdio.h>
#include <stdlib.h>

#define N (1 << 20)
#define PARTS 3

static unsigned int data[N];
static volatile uint64_t partial[PARTS], done[PARTS];
static volatile int where[PARTS];

static void sum_part(int part)
{
    uint64_t s = 0;
    for (int i = part * (N / PARTS); i < (part == PARTS - 1 ? N : (part + 1) * (N / PARTS)); i++)
        s += data[i];
    partial[part] = s;
    __atomic_store_n(&done[part], 1, __ATOMIC_RELEASE);
}

/* A clone's thread.  The clone shares all of the parent's memory, globals included,
 * so it leaves the runtime's globals alone (no mach_init, no printf: the parent
 * prints) and asks the kernel for its own task port. */
static void clone_main(void *arg)
{
    int part = (int)(long)arg, node = -1;
    norma_node_self(mach_host_self(), &node);
    where[part] = node;
    sum_part(part);
    task_terminate(task_self_trap());
}

int main(void)
{
    uint64_t expected = 0, total = 0;

    for (int i = 0; i < N; i++) {
        data[i] = (unsigned int)(i * 2654435761u) >> 8;
        expected += data[i];
    }
    for (int part = 1; part < PARTS; part++) {
        task_t clone;
        int node = part;
        if (norma_task_clone(mach_task_self(), TRUE, node, &clone) != KERN_SUCCESS) {
            printf("norma_task_clone to node %d failed: run with normach run --nodes 3\n", node);
            return 1;
        }
        if (normach_thread_spawn(clone, clone_main, (void *)(long)part, 64 * 1024, NULL) != KERN_SUCCESS)
            return 1;
    }
    norma_node_self(mach_host_self(), (int *)&where[0]);
    sum_part(0);
    for (int part = 0; part < PARTS; part++) {
        while (!__atomic_load_n(&done[part], __ATOMIC_ACQUIRE))
            swtch_pri(0);
        printf("part %d: %lu, summed on node %d\n", part, (unsigned long)partial[part],
               where[part]);
        total += partial[part];
    }
    printf("sum %lu (expected %lu): %s\n", (unsigned long)total, (unsigned long)expected,
           total == expected ? "ok" : "WRONG");
    return total == expected ? 0 : 1;
}
