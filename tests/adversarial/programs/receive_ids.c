/* Receives on a port it names RECEIVE_NAME and prints each message's id until it gets
 * id 0 (or waits 60 s in vain).  The Python side sends it messages with odd ids. */
#include <mach.h>
#include <stdio.h>
#include "../../../guest/tests/check.h"

#define RECEIVE_NAME 0x5103

int main(void)
{
    struct { mach_msg_header_t head; char rest[256]; } buf;
    KR(mach_port_allocate_name(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, RECEIVE_NAME));
    printf("ready\n");
    for (;;) {
        mach_msg_return_t mr = mach_msg(&buf.head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0,
                                        sizeof buf, RECEIVE_NAME, 60000, MACH_PORT_NULL);
        CHECK(mr == MACH_MSG_SUCCESS, "receive returned %#x", mr);
        printf("id %d\n", buf.head.msgh_id);
        if (buf.head.msgh_id == 0)
            return 0;
    }
}
