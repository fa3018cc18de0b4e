/*
 * The guest of tests/test_migration.py: a program that keeps running while the
 * test migrates it between nodes, and one whose blocked receive the test aborts.
 *
 *   migration_guest work ITERATIONS
 *
 * Three threads compute a deterministic checksum each (see series(); the test
 * computes the same values in Python): workers 1 and 2 start at once, the main
 * thread computes series 0 itself, then serves messages.  The test gives the task,
 * before it runs, three rights under fixed names:
 *
 *   DATA_PORT    receive: numbered messages (id DATA, the number inline)
 *   CTL_PORT     receive: commands (id GO: handle the next BATCH numbers of DATA_PORT;
 *                id FIN: finish)
 *   SERVER_PORT  send: to the test's server; the guest sends it
 *                  READY  (id READY)         its threads have started
 *                  ECHO   (id ECHO)          [number, node] for each number received
 *                  RESULT (id RESULT)        [checksum 0..2, float bits 0..2, node]
 *
 * The workers stay alive (spinning on `release`) until the main thread has
 * received FIN, so a migration before FIN always moves three threads; after FIN
 * the main thread waits until it is the only thread left.  Everything that
 * depends on where the program runs is printed with the node (norma_node_self).
 *
 *   migration_guest abort
 *
 * One thread; the test suspends, aborts (thread_abort) and resumes it while it
 * waits in mach_msg on DATA_PORT:
 *   1. sends READY id ABORT_READY1, then receives with MACH_RCV_INTERRUPT:
 *      reports the return code (id ABORT_REPORT1, [mr]);
 *   2. sends READY id ABORT_READY2, then receives without MACH_RCV_INTERRUPT
 *      (the library resumes the wait): reports [mr, msgh_id, value] (id ABORT_REPORT2).
 */
#include <mach.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../guest/tests/check.h"

#define DATA_PORT ((mach_port_t)0x7703)
#define CTL_PORT ((mach_port_t)0x7803)
#define SERVER_PORT ((mach_port_t)0x7903)

enum { DATA = 100, GO = 200, FIN = 201, READY = 300, ECHO = 301, RESULT = 302,
       ABORT_READY1 = 400, ABORT_REPORT1 = 401, ABORT_READY2 = 402, ABORT_REPORT2 = 403 };

#define BATCH 4
#define NWORKERS 2
#define STEPS 8                           /* progress lines per series */
#define TIMEOUT_MS 60000

typedef struct {
    mach_msg_header_t head;
    uint64_t values[8];
    mach_msg_trailer_t trailer;
} msg_t;

static long iterations;
static uint64_t sums[NWORKERS + 1];
static uint64_t float_bits[NWORKERS + 1];
static volatile uint64_t finished;        /* workers done computing */
static volatile uint64_t release;         /* the workers may end */

static int node_now(void)
{
    int node = -1;
    mach_port_t host = mach_host_self();
    norma_node_self(host, &node);
    mach_port_deallocate(mach_task_self(), host);
    return node;
}

/* Series k: a 64-bit LCG stepped with i, and a floating-point sum (SSE registers
 * live across every migration).  test_migration.py's series() is the same. */
static void series(int k)
{
    uint64_t s = (uint64_t)k + 1;
    double h = 0.0;
    long step = iterations / STEPS;

    for (long i = 0; i < iterations; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL + (uint64_t)i * (uint64_t)(k + 1);
        h += 1.0 / (double)(i + 1 + k);
        if (step && (i + 1) % step == 0)
            printf("series %d: %ld/%d on node %d\n", k, (i + 1) / step, STEPS, node_now());
    }
    sums[k] = s;
    memcpy(&float_bits[k], &h, sizeof h);
}

static void worker(void *arg)
{
    int k = (int)(uintptr_t)arg;

    series(k);
    __atomic_fetch_add(&finished, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&release, __ATOMIC_ACQUIRE))
        swtch_pri(0);
    printf("worker %d ends on node %d\n", k, node_now());
}

static void send_server(msg_t *m, mach_msg_id_t id, int nvalues)
{
    m->head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
    m->head.msgh_size = (mach_msg_size_t)(sizeof(mach_msg_header_t) + 8 * nvalues);
    m->head.msgh_remote_port = SERVER_PORT;
    m->head.msgh_local_port = MACH_PORT_NULL;
    m->head.msgh_voucher_port = 0;
    m->head.msgh_id = id;
    KR(mach_msg(&m->head, MACH_SEND_MSG, m->head.msgh_size, 0, MACH_PORT_NULL, 0,
                MACH_PORT_NULL));
}

static void receive(msg_t *m, mach_port_t port, mach_msg_option_t extra)
{
    KR(mach_msg(&m->head, MACH_RCV_MSG | MACH_RCV_TIMEOUT | extra, 0, sizeof *m, port,
                TIMEOUT_MS, MACH_PORT_NULL));
}

static int work(void)
{
    msg_t m;
    uint64_t expect = 0;
    thread_act_array_t list;
    mach_msg_type_number_t count = 0;

    printf("work: %ld iterations, starting on node %d\n", iterations, node_now());
    for (int k = 1; k <= NWORKERS; k++)
        KR(normach_thread_spawn(mach_task_self(), worker, (void *)(uintptr_t)k, 64 * 1024,
                                NULL));
    memset(&m, 0, sizeof m);
    send_server(&m, READY, 0);
    series(0);
    for (;;) {
        receive(&m, CTL_PORT, 0);
        if (m.head.msgh_id == FIN)
            break;
        CHECK(m.head.msgh_id == GO, "command id %d", m.head.msgh_id);
        for (int j = 0; j < BATCH; j++) {
            receive(&m, DATA_PORT, 0);
            CHECK(m.head.msgh_id == DATA, "data id %d", m.head.msgh_id);
            uint64_t number = m.values[0];
            CHECK(number == expect, "number %lu, expected %lu", (unsigned long)number,
                  (unsigned long)expect);
            expect++;
            int node = node_now();
            printf("number %lu on node %d\n", (unsigned long)number, node);
            m.values[0] = number;
            m.values[1] = (uint64_t)node;
            send_server(&m, ECHO, 2);
        }
    }
    CHECK(wait_for(&finished, NWORKERS, 100000000), "only %lu workers finished",
          (unsigned long)finished);
    __atomic_store_n(&release, 1, __ATOMIC_RELEASE);
    for (long i = 0; i < 100000000; i++) {       /* the workers terminate themselves */
        KR(task_threads(mach_task_self(), &list, &count));
        for (mach_msg_type_number_t j = 0; j < count; j++)
            mach_port_deallocate(mach_task_self(), list[j]);
        KR(vm_deallocate(mach_task_self(), (vm_address_t)list, count * sizeof *list));
        if (count == 1)
            break;
        swtch_pri(0);
    }
    CHECK(count == 1, "%u threads left", count);
    int node = node_now();
    for (int k = 0; k <= NWORKERS; k++)
        printf("checksum %d: %016lx %016lx\n", k, (unsigned long)sums[k],
               (unsigned long)float_bits[k]);
    for (int k = 0; k <= NWORKERS; k++) {
        m.values[k] = sums[k];
        m.values[NWORKERS + 1 + k] = float_bits[k];
    }
    m.values[2 * (NWORKERS + 1)] = (uint64_t)node;
    send_server(&m, RESULT, 2 * (NWORKERS + 1) + 1);
    printf("work: all threads finished, %lu numbers, ending on node %d\n",
           (unsigned long)expect, node);
    return 0;
}

static int abort_test(void)
{
    msg_t m;
    mach_msg_return_t mr;

    memset(&m, 0, sizeof m);
    send_server(&m, ABORT_READY1, 0);
    mr = mach_msg(&m.head, MACH_RCV_MSG | MACH_RCV_INTERRUPT, 0, sizeof m, DATA_PORT,
                  MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    printf("receive with MACH_RCV_INTERRUPT returned %#x\n", mr);
    m.values[0] = (uint64_t)mr;
    send_server(&m, ABORT_REPORT1, 1);

    send_server(&m, ABORT_READY2, 0);
    memset(&m, 0, sizeof m);
    mr = mach_msg(&m.head, MACH_RCV_MSG, 0, sizeof m, DATA_PORT, MACH_MSG_TIMEOUT_NONE,
                  MACH_PORT_NULL);
    printf("receive without MACH_RCV_INTERRUPT returned %#x, id %d\n", mr, m.head.msgh_id);
    uint64_t value = m.values[0];
    m.values[0] = (uint64_t)mr;
    m.values[1] = (uint64_t)m.head.msgh_id;
    m.values[2] = value;
    send_server(&m, ABORT_REPORT2, 3);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "work") == 0) {
        iterations = argc > 2 ? strtol(argv[2], NULL, 0) : 100000;
        return work();
    }
    if (argc > 1 && strcmp(argv[1], "abort") == 0)
        return abort_test();
    printf("usage: migration_guest work ITERATIONS | abort\n");
    return 2;
}
