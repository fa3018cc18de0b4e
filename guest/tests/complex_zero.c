/* A COMPLEX message with a descriptor count of 0 (issue 14, item 1) arrives as sent:
 * the COMPLEX bit, the count word and the inline data where they were, the size
 * unchanged; on this node and through another node (DIPC). */
#include "check.h"

typedef struct {
    mach_msg_header_t head;
    mach_msg_body_t body;                    /* descriptor count 0 */
    uint32_t data[3];
} zero_t;

static void check_round(mach_port_t dest, mach_port_t rcv, const char *where)
{
    zero_t m = { .head = { .msgh_bits = MACH_MSGH_BITS_COMPLEX
                                        | MACH_MSGH_BITS(MACH_MSG_TYPE_MAKE_SEND, 0),
                           .msgh_size = sizeof m, .msgh_remote_port = dest, .msgh_id = 42 },
                 .body = { .msgh_descriptor_count = 0 }, .data = { 0x11, 0x22, 0x33 } };
    KR(mach_msg(&m.head, MACH_SEND_MSG, sizeof m, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL));
    struct { zero_t m; mach_msg_trailer_t trailer; } got;
    memset(&got, 0xee, sizeof got);
    KR(mach_msg(&got.m.head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof got, rcv, 10000,
                MACH_PORT_NULL));
    CHECK(got.m.head.msgh_bits & MACH_MSGH_BITS_COMPLEX, "%s: COMPLEX bit lost", where);
    CHECK(got.m.head.msgh_size == sizeof(zero_t), "%s: size %u, sent %u", where,
          got.m.head.msgh_size, (unsigned)sizeof(zero_t));
    CHECK(got.m.body.msgh_descriptor_count == 0, "%s: count %u", where,
          got.m.body.msgh_descriptor_count);
    CHECK(got.m.data[0] == 0x11 && got.m.data[1] == 0x22 && got.m.data[2] == 0x33,
          "%s: data shifted: %#x %#x %#x", where, got.m.data[0], got.m.data[1], got.m.data[2]);
    printf("ok   %s: COMPLEX, count 0, %u bytes\n", where, got.m.head.msgh_size);
}

int main(void)
{
    mach_port_t port;
    KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &port));
    check_round(port, port, "this node");
    printf("complex_zero: PASS\n");
    return 0;
}
