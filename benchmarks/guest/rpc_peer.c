/* Two guests doing null RPCs across nodes.  argv: "server" NAME N | "client" NAME N.
   The server receives on NAME (a receive right the launcher put there) and replies on
   the send-once right each request carries; the client sends N requests to NAME (a send
   right the launcher put there) and waits for each reply. */
#include <mach.h>
#include <stdlib.h>
#include <string.h>

typedef struct { mach_msg_header_t head; uint8_t trailer[32]; } buffer_t;

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    mach_port_t name = (mach_port_t)strtoul(argv[2], 0, 10);
    long n = atol(argv[3]);
    buffer_t buf;
    if (strcmp(argv[1], "server") == 0) {
        for (long i = 0; i < n; i++) {
            if (mach_msg(&buf.head, MACH_RCV_MSG, 0, sizeof buf, name, 0, 0) != MACH_MSG_SUCCESS)
                return 3;
            mach_msg_header_t reply = { .msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0),
                                        .msgh_size = sizeof reply,
                                        .msgh_remote_port = buf.head.msgh_remote_port,
                                        .msgh_id = buf.head.msgh_id + 100 };
            if (mach_msg(&reply, MACH_SEND_MSG, sizeof reply, 0, 0, 0, 0) != MACH_MSG_SUCCESS)
                return 4;
        }
        return 0;
    }
    mach_port_t reply = mach_reply_port();
    for (long i = 0; i < n; i++) {
        buf.head = (mach_msg_header_t){
            .msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE),
            .msgh_size = sizeof buf.head, .msgh_remote_port = name, .msgh_local_port = reply,
            .msgh_id = 1 };
        if (mach_msg(&buf.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof buf.head, sizeof buf, reply,
                     0, 0) != MACH_MSG_SUCCESS)
            return 5;
    }
    return 0;
}
