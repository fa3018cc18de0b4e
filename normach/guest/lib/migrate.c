/* migrate_self: process migration asked for by the program itself.
 *
 * The request goes to the bootstrap port, whose server (servers/console.py)
 * hands it to the migration manager with the task port it carries.  This
 * thread waits for the reply in mach_msg; the manager aborts that wait,
 * moves the task (the reply port with it) and the thread resumes the wait
 * on the new node, where the reply arrives.
 */
#include <mach.h>
#include <string.h>

typedef struct __attribute__((packed)) {
    mach_msg_header_t head;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t task;
    int32_t node;
} migrate_request_t;

typedef struct __attribute__((packed)) {
    mach_msg_header_t head;
    int32_t status;
    char trailer[64];
} migrate_reply_t;

kern_return_t migrate_self(int node)
{
    union { mach_msg_header_t head; migrate_request_t request; migrate_reply_t reply; } msg;
    mach_port_t server = MACH_PORT_NULL, reply = mach_reply_port();
    mach_msg_return_t mr;
    kern_return_t kr;

    kr = task_get_special_port(mach_task_self(), TASK_BOOTSTRAP_PORT, &server);
    if (kr != KERN_SUCCESS || server == MACH_PORT_NULL)
        return kr != KERN_SUCCESS ? kr : KERN_FAILURE;
    memset(&msg, 0, sizeof msg);
    msg.request.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND,
                                                MACH_MSG_TYPE_MAKE_SEND_ONCE) |
                                 MACH_MSGH_BITS_COMPLEX;
    msg.request.head.msgh_size = sizeof(migrate_request_t);
    msg.request.head.msgh_remote_port = server;
    msg.request.head.msgh_local_port = reply;
    msg.request.head.msgh_id = NORMACH_MIGRATE;
    msg.request.body.msgh_descriptor_count = 1;
    msg.request.task.name = mach_task_self();
    msg.request.task.disposition = MACH_MSG_TYPE_COPY_SEND;
    msg.request.task.type = MACH_MSG_PORT_DESCRIPTOR;
    msg.request.node = node;
    mr = mach_msg(&msg.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof(migrate_request_t),
                  sizeof msg, reply, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    mach_port_destroy(mach_task_self(), reply);
    mach_port_deallocate(mach_task_self(), server);
    if (mr != MACH_MSG_SUCCESS)
        return mr;
    return msg.reply.status;
}
