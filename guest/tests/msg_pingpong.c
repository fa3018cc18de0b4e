/*
 * Messages between two tasks: the parent makes a child with
 * task_create(inherit TRUE) and starts a thread in it at `server`; a send right
 * to the parent's port is inserted into the child with mach_port_insert_right.
 * The messages carry inline data, port rights and out-of-line memory.
 *
 *   child  -> parent  HELLO    port descriptor: a send right to the child's port
 *   parent -> child   REQUEST  port (send right to `extra`), OOL 3 pages + 100 bytes,
 *                              inline values and text; reply: send-once to `pport`
 *   child  -> extra   VIA_EXTRA  through the right it received
 *   child  -> parent  REPLY    OOL 2 pages (deallocated by the send), sums, status
 *   parent -> child   QUIT
 */
#include <mach.h>
#include <stdio.h>
#include <string.h>
#include "check.h"

enum { HELLO = 1000, REQUEST, VIA_EXTRA, QUIT, REPLY = REQUEST + 100 };

#define OOL_SIZE (3 * 4096 + 100)
#define REPLY_OOL_SIZE (2 * 4096)
#define TIMEOUT_MS 60000

typedef struct __attribute__((packed)) {
    mach_msg_header_t head;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t port;
    char text[8];
} hello_t;

typedef struct __attribute__((packed)) {
    mach_msg_header_t head;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t port;
    mach_msg_ool_descriptor_t ool;
    uint64_t values[4];
    char text[16];
} request_t;

typedef struct __attribute__((packed)) {
    mach_msg_header_t head;
    char text[12];
} via_extra_t;

typedef struct __attribute__((packed)) {
    mach_msg_header_t head;
    mach_msg_body_t body;
    mach_msg_ool_descriptor_t ool;
    uint64_t status;            /* 0, or the child's failing line */
    uint64_t ool_sum;
    uint64_t values_sum;
} reply_t;

typedef union {
    mach_msg_header_t head;
    hello_t hello;
    request_t request;
    via_extra_t via_extra;
    reply_t reply;
    uint8_t space[256];         /* room for the trailer */
} buffer_t;

static uint64_t byte_sum(const uint8_t *p, size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += p[i];
    return s;
}

static uint8_t pattern(size_t i)
{
    return (uint8_t)(i * 7 + 3);
}

static mach_msg_return_t receive(buffer_t *buf, mach_port_t port)
{
    return mach_msg(&buf->head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof *buf, port,
                    TIMEOUT_MS, MACH_PORT_NULL);
}

/* -- the child --------------------------------------------------------------------------- */

#define CHILD_CHECK(cond) do { if (!(cond)) { status = __LINE__; goto reply; } } while (0)

static void server(void *arg)
{
    mach_port_t parent = (mach_port_t)(uintptr_t)arg, cport, extra = MACH_PORT_NULL;
    buffer_t buf;
    uint64_t status = 0, ool_sum = 0, values_sum = 0;
    mach_port_t reply_to = MACH_PORT_NULL;
    vm_address_t out = 0;

    mach_init();
    if (mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &cport) != KERN_SUCCESS)
        exit(2);

    memset(&buf, 0, sizeof buf);
    buf.hello.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0) | MACH_MSGH_BITS_COMPLEX;
    buf.hello.head.msgh_size = sizeof(hello_t);
    buf.hello.head.msgh_remote_port = parent;
    buf.hello.head.msgh_id = HELLO;
    buf.hello.body.msgh_descriptor_count = 1;
    buf.hello.port.name = cport;
    buf.hello.port.disposition = MACH_MSG_TYPE_MAKE_SEND;
    buf.hello.port.type = MACH_MSG_PORT_DESCRIPTOR;
    memcpy(buf.hello.text, "ready", 6);
    if (mach_msg(&buf.head, MACH_SEND_MSG, sizeof(hello_t), 0, MACH_PORT_NULL, 0, 0) != 0)
        exit(3);

    if (receive(&buf, cport) != MACH_MSG_SUCCESS)
        exit(4);
    reply_to = buf.head.msgh_remote_port;
    if (reply_to == MACH_PORT_NULL)
        exit(8);
    CHILD_CHECK(buf.head.msgh_id == REQUEST);
    CHILD_CHECK(MACH_MSGH_BITS_REMOTE(buf.head.msgh_bits) == MACH_MSG_TYPE_PORT_SEND_ONCE);
    CHILD_CHECK(buf.head.msgh_bits & MACH_MSGH_BITS_COMPLEX);
    CHILD_CHECK(buf.head.msgh_size == sizeof(request_t));
    CHILD_CHECK(buf.request.body.msgh_descriptor_count == 2);
    CHILD_CHECK(buf.request.port.type == MACH_MSG_PORT_DESCRIPTOR);
    CHILD_CHECK(buf.request.port.disposition == MACH_MSG_TYPE_PORT_SEND);
    extra = buf.request.port.name;
    CHILD_CHECK(buf.request.ool.type == MACH_MSG_OOL_DESCRIPTOR);
    CHILD_CHECK(buf.request.ool.size == OOL_SIZE);
    const uint8_t *data = (const uint8_t *)(uintptr_t)buf.request.ool.address;
    for (size_t i = 0; i < OOL_SIZE; i++)
        CHILD_CHECK(data[i] == pattern(i));
    ool_sum = byte_sum(data, OOL_SIZE);
    vm_deallocate(mach_task_self(), buf.request.ool.address, OOL_SIZE);
    for (int i = 0; i < 4; i++)
        values_sum += buf.request.values[i];
    CHILD_CHECK(strcmp(buf.request.text, "ping") == 0);

    /* Use the port right we were given. */
    memset(&buf, 0, sizeof buf);
    buf.via_extra.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
    buf.via_extra.head.msgh_size = sizeof(via_extra_t);
    buf.via_extra.head.msgh_remote_port = extra;
    buf.via_extra.head.msgh_id = VIA_EXTRA;
    memcpy(buf.via_extra.text, "via extra", 10);
    CHILD_CHECK(mach_msg(&buf.head, MACH_SEND_MSG, sizeof(via_extra_t), 0, 0, 0, 0) == 0);

reply:
    if (vm_allocate(mach_task_self(), &out, REPLY_OOL_SIZE, TRUE) != KERN_SUCCESS)
        exit(5);
    memset((void *)out, 0xc5, REPLY_OOL_SIZE);
    memset(&buf, 0, sizeof buf);
    buf.reply.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0) |
                               MACH_MSGH_BITS_COMPLEX;
    buf.reply.head.msgh_size = sizeof(reply_t);
    buf.reply.head.msgh_remote_port = reply_to;
    buf.reply.head.msgh_id = REPLY;
    buf.reply.body.msgh_descriptor_count = 1;
    buf.reply.ool.address = out;
    buf.reply.ool.size = REPLY_OOL_SIZE;
    buf.reply.ool.deallocate = TRUE;
    buf.reply.ool.copy = MACH_MSG_VIRTUAL_COPY;
    buf.reply.ool.type = MACH_MSG_OOL_DESCRIPTOR;
    buf.reply.status = status;
    buf.reply.ool_sum = ool_sum;
    buf.reply.values_sum = values_sum;
    if (mach_msg(&buf.head, MACH_SEND_MSG, sizeof(reply_t), 0, 0, 0, 0) != 0)
        exit(6);

    if (receive(&buf, cport) != MACH_MSG_SUCCESS || buf.head.msgh_id != QUIT)
        exit(7);
    exit(0);
}

/* -- the parent -------------------------------------------------------------------------- */

int main(void)
{
    task_t self = mach_task_self(), child;
    mach_port_t pport, extra, cport;
    vm_address_t ool = 0;
    buffer_t buf;

    KR(mach_port_allocate(self, MACH_PORT_RIGHT_RECEIVE, &pport));
    KR(mach_port_allocate(self, MACH_PORT_RIGHT_RECEIVE, &extra));
    KR(vm_allocate(self, &ool, OOL_SIZE, TRUE));
    for (size_t i = 0; i < OOL_SIZE; i++)
        ((uint8_t *)ool)[i] = pattern(i);

    fflush(stdout);
    KR(task_create(self, NULL, 0, TRUE, &child));
    KR(mach_port_insert_right(child, pport, pport, MACH_MSG_TYPE_MAKE_SEND));
    mach_port_type_t type;
    KR(mach_port_type(child, pport, &type));
    CHECK(type == MACH_PORT_TYPE_SEND, "child's right has type %#x", type);
    printf("ok   send right inserted into the child as name %#x\n", pport);
    KR(normach_thread_spawn(child, server, (void *)(uintptr_t)pport, 64 * 1024, NULL));

    /* HELLO: a send right to the child's port. */
    KR(receive(&buf, pport));
    CHECK(buf.head.msgh_id == HELLO, "id %d", buf.head.msgh_id);
    CHECK(buf.head.msgh_size == sizeof(hello_t), "size %u", buf.head.msgh_size);
    CHECK(buf.hello.body.msgh_descriptor_count == 1, "descriptors %u",
          buf.hello.body.msgh_descriptor_count);
    CHECK(buf.hello.port.type == MACH_MSG_PORT_DESCRIPTOR &&
          buf.hello.port.disposition == MACH_MSG_TYPE_PORT_SEND,
          "port descriptor type %u disposition %u", buf.hello.port.type,
          buf.hello.port.disposition);
    CHECK(strcmp(buf.hello.text, "ready") == 0, "text '%s'", buf.hello.text);
    cport = buf.hello.port.name;
    KR(mach_port_type(self, cport, &type));
    CHECK(type & MACH_PORT_TYPE_SEND, "received name %#x has type %#x", cport, type);
    printf("ok   HELLO with a send right to the child's port (%#x)\n", cport);

    /* REQUEST. */
    memset(&buf, 0, sizeof buf);
    buf.request.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND,
                                                MACH_MSG_TYPE_MAKE_SEND_ONCE) |
                                 MACH_MSGH_BITS_COMPLEX;
    buf.request.head.msgh_size = sizeof(request_t);
    buf.request.head.msgh_remote_port = cport;
    buf.request.head.msgh_local_port = pport;
    buf.request.head.msgh_id = REQUEST;
    buf.request.body.msgh_descriptor_count = 2;
    buf.request.port.name = extra;
    buf.request.port.disposition = MACH_MSG_TYPE_MAKE_SEND;
    buf.request.port.type = MACH_MSG_PORT_DESCRIPTOR;
    buf.request.ool.address = ool;
    buf.request.ool.size = OOL_SIZE;
    buf.request.ool.copy = MACH_MSG_VIRTUAL_COPY;
    buf.request.ool.deallocate = FALSE;
    buf.request.ool.type = MACH_MSG_OOL_DESCRIPTOR;
    for (int i = 0; i < 4; i++)
        buf.request.values[i] = (uint64_t)(i + 1) << 40;
    strcpy(buf.request.text, "ping");
    KR(mach_msg(&buf.head, MACH_SEND_MSG, sizeof(request_t), 0, 0, 0, 0));
    memset((void *)ool, 0xee, OOL_SIZE);         /* after the send: the child keeps the copy */
    printf("ok   REQUEST sent (port right, %d bytes out of line, inline data)\n", OOL_SIZE);

    /* REPLY. */
    KR(receive(&buf, pport));
    CHECK(buf.head.msgh_id == REPLY, "id %d", buf.head.msgh_id);
    CHECK(buf.reply.status == 0, "the child failed at msg_pingpong.c:%lu",
          (unsigned long)buf.reply.status);
    uint64_t expect = 0;
    for (size_t i = 0; i < OOL_SIZE; i++)
        expect += pattern(i);
    CHECK(buf.reply.ool_sum == expect, "ool sum %lu, expected %lu",
          (unsigned long)buf.reply.ool_sum, (unsigned long)expect);
    CHECK(buf.reply.values_sum == (uint64_t)10 << 40, "values sum %#lx",
          (unsigned long)buf.reply.values_sum);
    CHECK(buf.reply.ool.type == MACH_MSG_OOL_DESCRIPTOR && buf.reply.ool.size == REPLY_OOL_SIZE,
          "reply OOL type %u size %u", buf.reply.ool.type, buf.reply.ool.size);
    const uint8_t *back = (const uint8_t *)(uintptr_t)buf.reply.ool.address;
    for (size_t i = 0; i < REPLY_OOL_SIZE; i++)
        CHECK(back[i] == 0xc5, "reply OOL byte %lu is %#x", (unsigned long)i, back[i]);
    KR(vm_deallocate(self, buf.reply.ool.address, REPLY_OOL_SIZE));
    printf("ok   REPLY: the child checked everything; %d bytes out of line came back\n",
           REPLY_OOL_SIZE);

    /* The message the child sent through the right it received. */
    KR(receive(&buf, extra));
    CHECK(buf.head.msgh_id == VIA_EXTRA && strcmp(buf.via_extra.text, "via extra") == 0,
          "id %d", buf.head.msgh_id);
    printf("ok   VIA_EXTRA arrived through the transferred send right\n");

    /* QUIT. */
    memset(&buf, 0, sizeof buf);
    buf.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
    buf.head.msgh_size = sizeof(mach_msg_header_t);
    buf.head.msgh_remote_port = cport;
    buf.head.msgh_id = QUIT;
    KR(mach_msg(&buf.head, MACH_SEND_MSG, sizeof(mach_msg_header_t), 0, 0, 0, 0));

    /* The child exits on QUIT; terminate it only if it is still there much later. */
    task_basic_info_data_t info;
    mach_msg_type_number_t count;
    for (long i = 0; i < 1000000; i++) {
        count = TASK_BASIC_INFO_COUNT;
        if (task_info(child, TASK_BASIC_INFO, (task_info_t)&info, &count) != KERN_SUCCESS)
            break;
        swtch_pri(0);
    }
    task_terminate(child);
    printf("msg_pingpong: PASS\n");
    return 0;
}
