/*
 * Process migration asked for by the program (migrate_self): each argument is a
 * node to move to.  Two threads keep computing through the moves; a receive
 * right made before the first move, with a message queued on it, is still
 * under its name afterwards with its message; norma_node_self reports the new
 * node after each move; a move to the node it is on, or to a node that does
 * not exist, fails with KERN_INVALID_ARGUMENT and leaves it where it was.
 * Without arguments it checks only the failures (a one-node cluster).
 */
#include <mach.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"

#define STEPS 400000

static volatile uint64_t worker_sum, worker_done;

static void worker(void *arg)
{
    uint64_t s = 0;
    (void)arg;
    for (uint64_t i = 0; i < 4 * STEPS; i++)
        s += i % 13;
    worker_sum = s;
    __atomic_store_n(&worker_done, 1, __ATOMIC_RELEASE);
}

/* The sum of i % m for i < n, as the loops compute it. */
static uint64_t series(uint64_t n, uint64_t m)
{
    uint64_t r = n % m;
    return n / m * (m * (m - 1) / 2) + r * (r - 1) / 2;
}

static int where(void)
{
    int node = -1;
    KR(norma_node_self(mach_host_self(), &node));
    return node;
}

typedef struct {
    mach_msg_header_t head;
    uint32_t value;
    char trailer[64];
} note_t;

static void post(mach_port_t port, uint32_t value)
{
    note_t m;
    memset(&m, 0, sizeof m);
    m.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MAKE_SEND, 0);
    m.head.msgh_size = sizeof(mach_msg_header_t) + 4;
    m.head.msgh_remote_port = port;
    m.head.msgh_id = 7;
    m.value = value;
    KR(mach_msg(&m.head, MACH_SEND_MSG, m.head.msgh_size, 0, MACH_PORT_NULL, 0, 0));
}

static uint32_t take(mach_port_t port)
{
    note_t m;
    KR(mach_msg(&m.head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof m, port, 1000, 0));
    return m.value;
}

int main(int argc, char **argv)
{
    mach_port_t port;
    uint64_t s = 0;
    int here = where();

    KR(normach_thread_spawn(mach_task_self(), worker, 0, 64 * 1024, NULL));
    KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &port));
    EXPECT_KR(KERN_INVALID_ARGUMENT, migrate_self(here));
    EXPECT_KR(KERN_INVALID_ARGUMENT, migrate_self(99));
    CHECK(where() == here, "moved by a failed migrate_self");
    for (int hop = 1; hop < argc; hop++) {
        int to = atoi(argv[hop]);
        post(port, (uint32_t)hop);
        for (uint64_t i = 0; i < STEPS; i++)
            s += i % 7;
        KR(migrate_self(to));
        CHECK(where() == to, "on node %d after migrate_self(%d)", where(), to);
        CHECK(take(port) == (uint32_t)hop, "the queued message did not follow");
        printf("hop %d: on node %d\n", hop, to);
    }
    CHECK(wait_for(&worker_done, 1, 100000000), "the worker never finished");
    CHECK(worker_sum == series(4 * STEPS, 13), "worker sum %lu", (unsigned long)worker_sum);
    CHECK(s == (uint64_t)(argc - 1) * series(STEPS, 7), "main sum %lu", (unsigned long)s);
    printf("migrate_self: %d moves, sums %lu %lu: PASS\n", argc - 1, (unsigned long)s,
           (unsigned long)worker_sum);
    return 0;
}
