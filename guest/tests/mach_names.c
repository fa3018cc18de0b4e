/* Names a Mach program reaches for (issue 14, items 5 and 9): thread_abort has a stub
 * and a prototype and interrupts a receive that asked for it (MACH_RCV_INTERRUPT);
 * MACH_PORT_VALID, the MACH_MSGH_BITS masks and MACH_MSGH_BITS_OTHER, time_value_t,
 * mig_reply_header_t. */
#include "check.h"

static mach_port_t port;
static volatile uint64_t result = 1;        /* the worker's mach_msg return, once back */

static void worker(void *arg)
{
    struct { mach_msg_header_t head; char body[64]; mach_msg_trailer_t trailer; } buf;
    (void)arg;
    mach_msg_return_t mr = mach_msg(&buf.head, MACH_RCV_MSG | MACH_RCV_INTERRUPT, 0,
                                    sizeof buf, port, 0, MACH_PORT_NULL);
    __atomic_store_n(&result, (uint64_t)mr, __ATOMIC_RELEASE);
}

int main(void)
{
    thread_t t;
    KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &port));
    CHECK(MACH_PORT_VALID(port), "a receive right's name is valid");
    CHECK(!MACH_PORT_VALID(MACH_PORT_NULL) && !MACH_PORT_VALID(MACH_PORT_DEAD), "null, dead");

    mach_msg_bits_t bits = MACH_MSGH_BITS_COMPLEX
                           | MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    CHECK(MACH_MSGH_BITS_OTHER(bits) == MACH_MSGH_BITS_COMPLEX, "other bits %#x", bits);
    CHECK(MACH_MSGH_BITS_PORTS(bits) == MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND,
                                                       MACH_MSG_TYPE_MAKE_SEND_ONCE), "ports");
    CHECK(sizeof(mig_reply_header_t) == sizeof(mach_msg_header_t) + sizeof(kern_return_t),
          "mig_reply_header_t: header and return code");
    time_value_t tv = { 1, 500000 };
    CHECK(sizeof tv == 8 && tv.seconds + tv.microseconds == 500001, "time_value_t");

    KR(normach_thread_spawn(mach_task_self(), worker, 0, 64 * 1024, &t));
    /* abort until the worker was in its receive and came back from it */
    for (long i = 0; i < 100000000 && __atomic_load_n(&result, __ATOMIC_ACQUIRE) == 1; i++) {
        KR(thread_abort(t));
        swtch_pri(0);
    }
    CHECK(result == MACH_RCV_INTERRUPTED, "receive returned %#lx", (unsigned long)result);
    printf("ok   thread_abort -> MACH_RCV_INTERRUPTED\n");
    mach_port_deallocate(mach_task_self(), t);
    printf("mach_names: PASS\n");
    return 0;
}
