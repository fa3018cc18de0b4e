/*
 * A counter shared across nodes (spec §4, X4.6): this task clones itself onto
 * another node (argv[1]; default: its own node), starts a thread in the clone
 * from a state it sets, and both add 1 to a shared counter 10,000 times under a
 * spinlock.  Coherence makes the spinlock work across nodes: an atomic exchange
 * needs the page's single write access, so at most one node runs it at a time.
 * Each round also adds 1 to a second counter with a locked add and no spinlock:
 * the read-modify-write of a single instruction must not straddle another node's
 * write (the CPU retries an instruction whose store had to wait for the page).
 * The clone's thread writes its report and terminates its task; what it wrote
 * must survive that (X4.11).  Both totals must be exactly 20,000.
 */
#include <mach.h>
#include <stdio.h>
#include <stdlib.h>
#include "check.h"

#define ROUNDS 10000

struct shared {
    spin_lock_t lock;               /* mach.h's: yields while it waits */
    volatile uint64_t counter;
    volatile uint64_t done;
    volatile uint64_t node;         /* where the clone's thread ran */
    uint64_t atomic;                /* added to with lock add, no spinlock */
};

static struct shared *sh;

static void add(void)
{
    for (int i = 0; i < ROUNDS; i++) {
        spin_lock(&sh->lock);
        sh->counter++;
        spin_unlock(&sh->lock);
        __atomic_fetch_add(&sh->atomic, 1, __ATOMIC_RELAXED);
    }
}

static void clone_entry(void *arg)
{
    int node = -1;
    (void)arg;
    mach_init();                            /* the clone's own ports */
    norma_node_self(mach_host_self(), &node);
    sh->node = (uint64_t)node;
    add();
    __atomic_store_n(&sh->done, 1, __ATOMIC_RELEASE);
    task_terminate(mach_task_self());
}

int main(int argc, char **argv)
{
    task_t self = mach_task_self(), clone;
    vm_address_t page = 0;
    int here = -1;
    int there;

    KR(norma_node_self(mach_host_self(), &here));
    there = argc > 1 ? atoi(argv[1]) : here;
    KR(vm_allocate(self, &page, vm_page_size, TRUE));
    sh = (struct shared *)page;
    KR(norma_task_clone(self, TRUE, there, &clone));
    KR(normach_thread_spawn(clone, clone_entry, 0, 64 * 1024, NULL));
    add();
    CHECK(wait_for(&sh->done, 1, 100000000), "the clone never finished");
    CHECK(sh->node == (uint64_t)there, "clone ran on node %lu, not %d",
          (unsigned long)sh->node, there);
    CHECK(sh->counter == 2 * ROUNDS, "counter %lu, expected %d", (unsigned long)sh->counter,
          2 * ROUNDS);
    CHECK(sh->atomic == 2 * ROUNDS, "locked adds %lu, expected %d", (unsigned long)sh->atomic,
          2 * ROUNDS);
    printf("norma_counter: nodes %d and %d added up to %lu: PASS\n", here, there,
           (unsigned long)sh->counter);
    return 0;
}
