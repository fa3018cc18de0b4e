/* A guest that sends its bootstrap (console) server every malformed request it can
 * think of, then checks the server still answers: printf works and a good request
 * gets its reply.  Each bad request must be answered with a MIG error (or dropped
 * when it has no reply right), never kill the server. */
#include <mach.h>
#include <string.h>
#include "../../../guest/tests/check.h"

#ifndef MIG_BAD_ID
#define MIG_BAD_ID (-303)
#endif
#ifndef MIG_BAD_ARGUMENTS
#define MIG_BAD_ARGUMENTS (-304)
#endif

typedef struct __attribute__((packed)) {
    mach_msg_header_t head;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t port;
    int32_t node;
} one_port_t;

typedef struct __attribute__((packed)) {
    mach_msg_header_t head;
    mach_msg_body_t body;
    mach_msg_ool_descriptor_t ool;
    mach_msg_port_descriptor_t port;
    char text[8];
} ool_write_t;

typedef struct __attribute__((packed)) {
    mach_msg_header_t head;
    int32_t status;
    char trailer[64];
} status_reply_t;

static mach_port_t server;

/* Send `msg` with a send-once reply right and return the status the server answered. */
static int ask(mach_msg_header_t *msg, mach_msg_size_t size)
{
    union { status_reply_t reply; char room[512]; } r;
    mach_port_t reply = mach_reply_port();
    msg->msgh_remote_port = server;
    msg->msgh_local_port = reply;
    msg->msgh_bits = (msg->msgh_bits & MACH_MSGH_BITS_COMPLEX) |
                     MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    msg->msgh_size = size;
    KR(mach_msg(msg, MACH_SEND_MSG, size, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL));
    memset(&r, 0, sizeof r);
    KR(mach_msg(&r.reply.head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof r, reply, 20000,
                MACH_PORT_NULL));
    mach_port_destroy(mach_task_self(), reply);
    return r.reply.status;
}

static int migrate_with(mach_port_t name, int disposition)
{
    one_port_t m;
    memset(&m, 0, sizeof m);
    m.head.msgh_bits = MACH_MSGH_BITS_COMPLEX;
    m.head.msgh_id = NORMACH_MIGRATE;
    m.body.msgh_descriptor_count = 1;
    m.port.name = name;
    m.port.disposition = disposition;
    m.port.type = MACH_MSG_PORT_DESCRIPTOR;
    m.node = 1;
    return ask(&m.head, sizeof m);
}

int main(void)
{
    mach_port_t p;
    KR(task_get_special_port(mach_task_self(), TASK_BOOTSTRAP_PORT, &server));

    /* 1. migrate requests whose "task" is a send-once right, a receive right, a port */
    p = mach_reply_port();
    CHECK(migrate_with(p, MACH_MSG_TYPE_MAKE_SEND_ONCE) == MIG_BAD_ARGUMENTS, "send-once");
    CHECK(migrate_with(p, MACH_MSG_TYPE_MAKE_SEND) != KERN_SUCCESS, "not a task port");
    p = mach_reply_port();
    CHECK(migrate_with(p, MACH_MSG_TYPE_MOVE_RECEIVE) == MIG_BAD_ARGUMENTS, "receive right");
    printf("ok   migrate requests with bad rights refused\n");

    /* 2. a migrate request with no body, and an unknown id */
    {
        mach_msg_header_t h;
        memset(&h, 0, sizeof h);
        h.msgh_id = NORMACH_MIGRATE;
        CHECK(ask(&h, sizeof h) == MIG_BAD_ARGUMENTS, "empty migrate");
        memset(&h, 0, sizeof h);
        h.msgh_id = 0x12345678;
        CHECK(ask(&h, sizeof h) == MIG_BAD_ID, "unknown id");
        memset(&h, 0, sizeof h);
        h.msgh_id = 0x7fffffff;                     /* reply id would overflow int32 */
        CHECK(ask(&h, sizeof h) == MIG_BAD_ID, "largest id");
    }
    printf("ok   empty and unknown requests refused\n");

    /* 3. a console write carrying out-of-line memory and a receive right, no reply */
    {
        ool_write_t w;
        vm_address_t a;
        KR(vm_allocate(mach_task_self(), &a, 1 << 20, TRUE));
        memset((void *)a, 7, 1 << 20);
        memset(&w, 0, sizeof w);
        w.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0) | MACH_MSGH_BITS_COMPLEX;
        w.head.msgh_size = sizeof w;
        w.head.msgh_remote_port = server;
        w.head.msgh_id = NORMACH_CONSOLE_WRITE;
        w.body.msgh_descriptor_count = 2;
        w.ool.address = a;
        w.ool.size = 1 << 20;
        w.ool.copy = 1;
        w.ool.type = MACH_MSG_OOL_DESCRIPTOR;
        w.port.name = mach_reply_port();
        w.port.disposition = MACH_MSG_TYPE_MOVE_RECEIVE;
        w.port.type = MACH_MSG_PORT_DESCRIPTOR;
        memcpy(w.text, "junk!\n", 6);
        for (int i = 0; i < 20; i++) {
            if (i)
                w.port.name = mach_reply_port();
            KR(mach_msg(&w.head, MACH_SEND_MSG, sizeof w, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL));
        }
    }
    printf("ok   console writes with rights and memory sent\n");

    /* 4. a console write whose reply right is a send right (not send-once) */
    {
        union { status_reply_t reply; one_port_t req; } m;
        mach_port_t r = mach_reply_port();
        memset(&m, 0, sizeof m);
        m.req.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND);
        m.req.head.msgh_size = sizeof(mach_msg_header_t) + 8;
        m.req.head.msgh_remote_port = server;
        m.req.head.msgh_local_port = r;
        m.req.head.msgh_id = NORMACH_CONSOLE_WRITE;
        memcpy((char *)&m + sizeof(mach_msg_header_t), "sendrt\n\0", 8);
        KR(mach_msg(&m.req.head, MACH_SEND_MSG | MACH_RCV_MSG | MACH_RCV_TIMEOUT,
                    m.req.head.msgh_size, sizeof m, r, 20000, MACH_PORT_NULL));
        CHECK(m.reply.status == 0, "send-right reply status %d", m.reply.status);
    }
    printf("ok   a send right as reply port is answered\n");
    printf("PASS\n");
    return 0;
}
