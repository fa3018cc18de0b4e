/*
 * The program `normach demo` migrates while it runs.
 *
 * It does two things at once, in two threads:
 *  - computes: ROUNDS rounds over an 32 MiB table, each rewriting every page
 *    and printing a checksum and the node it is on;
 *  - serves: answers requests on the port the demo gave it (SERVICE) with the
 *    square of the number asked and the node that answered.
 * Nothing in it knows about migration: it asks norma_node_self where it is.
 */
#include <mach.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERVICE 0x5003               /* the name of its receive right (given by the demo) */
#define TABLE (32 << 20)

static unsigned char table[TABLE];
static volatile uint64_t answered;

typedef struct {
    mach_msg_header_t head;
    uint64_t value;
    char trailer[64];
} request_t;

typedef struct {
    mach_msg_header_t head;
    uint64_t square;
    int32_t node;
    int32_t pad;
} reply_t;

static int where(void)
{
    int node = -1;
    norma_node_self(mach_host_self(), &node);
    return node;
}

static void serve(void *arg)
{
    union { mach_msg_header_t head; request_t request; reply_t reply; } m;
    (void)arg;
    for (;;) {
        if (mach_msg(&m.head, MACH_RCV_MSG, 0, sizeof m, SERVICE, 0, 0) != MACH_MSG_SUCCESS)
            return;                                  /* the port is gone: stop serving */
        uint64_t v = m.request.value;
        m.reply.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0);
        m.reply.head.msgh_size = sizeof(reply_t);
        m.reply.head.msgh_local_port = MACH_PORT_NULL;
        m.reply.head.msgh_id += 100;
        m.reply.square = v * v;
        m.reply.node = where();
        mach_msg(&m.head, MACH_SEND_MSG, sizeof(reply_t), 0, MACH_PORT_NULL, 0, 0);
        answered++;
    }
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 10;
    uint64_t sum = 0;

    if (normach_thread_spawn(mach_task_self(), serve, 0, 64 * 1024, NULL) != KERN_SUCCESS)
        return 2;
    for (int r = 0; r < rounds; r++) {
        for (int p = 0; p < TABLE; p += 4096)
            for (int i = 0; i < 64; i++) {
                table[p + (r * 64 + i) % 4096] += (unsigned char)(p / 4096 + i);
                sum = sum * 31 + table[p + i];
            }
        for (uint64_t i = 0; i < 6000000; i++)
            sum ^= (sum << 7) + i;
        printf("round %2d on node %d: checksum %016lx, %lu requests answered so far\n",
               r + 1, where(), (unsigned long)sum, (unsigned long)answered);
    }
    return 0;
}
