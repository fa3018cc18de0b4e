/* A receive buffer matters only when a message is copied out (issue 14, item 2): a
 * timed receive into NULL on a fresh port is the "sleep" of Mach C libraries and
 * ends MACH_RCV_TIMED_OUT at its timeout; a message that does come to a buffer that
 * cannot be written is destroyed, MACH_RCV_INVALID_DATA, and nothing else is lost. */
#include "check.h"

int main(void)
{
    mach_port_t port;
    KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &port));
    mach_msg_return_t mr = mach_msg(NULL, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, 64, port, 20,
                                    MACH_PORT_NULL);
    CHECK(mr == MACH_RCV_TIMED_OUT, "sleep: %#x", mr);
    printf("ok   timed receive into NULL -> MACH_RCV_TIMED_OUT\n");

    mach_msg_header_t h = { .msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MAKE_SEND, 0),
                            .msgh_size = sizeof h, .msgh_remote_port = port, .msgh_id = 7 };
    KR(mach_msg(&h, MACH_SEND_MSG, sizeof h, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL));
    KR(mach_msg(&h, MACH_SEND_MSG, sizeof h, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL));
    mr = mach_msg(NULL, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, 64, port, 1000, MACH_PORT_NULL);
    CHECK(mr == MACH_RCV_INVALID_DATA, "into NULL: %#x", mr);
    struct { mach_msg_header_t head; mach_msg_trailer_t trailer; } buf;
    KR(mach_msg(&buf.head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof buf, port, 1000,
                MACH_PORT_NULL));
    CHECK(buf.head.msgh_id == 7, "the second message: id %d", buf.head.msgh_id);
    mr = mach_msg(&buf.head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof buf, port, 0,
                  MACH_PORT_NULL);
    CHECK(mr == MACH_RCV_TIMED_OUT, "the first was destroyed, nothing more: %#x", mr);
    printf("rcv_null_buffer: PASS\n");
    return 0;
}
