/* A program that must survive any failure of a migration: it computes `rounds`
 * rounds over 4 MiB (so it has memory to move), printing a line per round with the
 * node it is on, and ends by sending itself a message through a receive right it
 * made at the start (so the right must have moved with it).  Its last line is the
 * result, the same however often and wherever it moved. */
#include <mach.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../../guest/tests/check.h"

#define SIZE (4 << 20)
#define SELF_PORT 0x6603

int main(int argc, char **argv)
{
    unsigned long rounds = argc > 1 ? strtoul(argv[1], NULL, 0) : 20;
    uint64_t *buf = malloc(SIZE);
    uint64_t sum = 0xcbf29ce484222325ULL;
    int node = -1;
    struct { mach_msg_header_t head; uint64_t value; char trailer[64]; } m;

    CHECK(buf != 0, "malloc");
    KR(mach_port_allocate_name(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, SELF_PORT));
    for (size_t i = 0; i < SIZE / 8; i++)
        buf[i] = i * 0x9e3779b97f4a7c15ULL;
    for (unsigned long r = 1; r <= rounds; r++) {
        for (size_t i = 0; i < SIZE / 8; i += 7) {
            sum = (sum ^ buf[i]) * 0x100000001b3ULL;
            buf[i] += sum;
        }
        norma_node_self(mach_host_self(), &node);
        printf("round %lu on node %d\n", r, node);
    }
    memset(&m, 0, sizeof m);
    m.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MAKE_SEND, 0);
    m.head.msgh_size = sizeof(mach_msg_header_t) + 8;
    m.head.msgh_remote_port = SELF_PORT;
    m.head.msgh_id = 77;
    m.value = sum;
    KR(mach_msg(&m.head, MACH_SEND_MSG, m.head.msgh_size, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL));
    memset(&m, 0, sizeof m);
    KR(mach_msg(&m.head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof m, SELF_PORT, 10000,
                MACH_PORT_NULL));
    CHECK(m.head.msgh_id == 77 && m.value == sum, "the message to itself");
    printf("result %016lx on node %d\n", (unsigned long)sum, node);
    return 0;
}
