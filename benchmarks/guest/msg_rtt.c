/* Guest-to-guest null RPC: a client thread sends a request with a send-once
   reply right; a server thread receives it and replies.  argv[1] = round trips. */
#include <mach.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct { mach_msg_header_t head; uint8_t trailer[32]; } buffer_t;

static mach_port_t service;

static void server(void *arg)
{
    long n = (long)(uintptr_t)arg;
    buffer_t buf;
    for (long i = 0; i < n; i++) {
        if (mach_msg(&buf.head, MACH_RCV_MSG, 0, sizeof buf, service, 0, 0) != MACH_MSG_SUCCESS)
            exit(2);
        mach_msg_header_t reply = { .msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0),
                                    .msgh_size = sizeof reply,
                                    .msgh_remote_port = buf.head.msgh_remote_port,
                                    .msgh_id = buf.head.msgh_id + 100 };
        if (mach_msg(&reply, MACH_SEND_MSG, sizeof reply, 0, 0, 0, 0) != MACH_MSG_SUCCESS)
            exit(3);
    }
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atoi(argv[1]) : 1000;
    mach_port_t reply = mach_reply_port();
    thread_t th;
    if (mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &service) ||
        mach_port_insert_right(mach_task_self(), service, service, MACH_MSG_TYPE_MAKE_SEND) ||
        normach_thread_spawn(mach_task_self(), server, (void *)(uintptr_t)n, 64 * 1024, &th))
        return 1;
    buffer_t buf;
    for (long i = 0; i < n; i++) {
        buf.head = (mach_msg_header_t){
            .msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE),
            .msgh_size = sizeof buf.head, .msgh_remote_port = service,
            .msgh_local_port = reply, .msgh_id = 1 };
        if (mach_msg(&buf.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof buf.head, sizeof buf, reply,
                     0, 0) != MACH_MSG_SUCCESS)
            return 4;
    }
    return 0;
}
