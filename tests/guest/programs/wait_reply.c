/* Sends a request (with a send-once reply right) to the port named argv[1] and waits
   for the answer; prints what came back: a reply, or a send-once notification (71). */
#include <mach.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct { mach_msg_header_t head; uint8_t rest[64]; } buffer_t;

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    mach_port_t server = (mach_port_t)strtoul(argv[1], 0, 10);
    mach_port_t reply = mach_reply_port();
    buffer_t buf = { .head = { .msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND,
                                                           MACH_MSG_TYPE_MAKE_SEND_ONCE),
                               .msgh_size = sizeof(mach_msg_header_t), .msgh_remote_port = server,
                               .msgh_local_port = reply, .msgh_id = 1234 } };
    mach_msg_return_t mr = mach_msg(&buf.head, MACH_SEND_MSG | MACH_RCV_MSG | MACH_RCV_TIMEOUT,
                                    sizeof(mach_msg_header_t), sizeof buf, reply, 60000, 0);
    if (mr != MACH_MSG_SUCCESS) {
        printf("wait_reply: mach_msg returned %#x\n", mr);
        return 1;
    }
    if (buf.head.msgh_id == 71) {
        printf("wait_reply: got a send-once notification: the server's node is gone\n");
        return 0;
    }
    printf("wait_reply: got reply id %d\n", buf.head.msgh_id);
    return 0;
}
