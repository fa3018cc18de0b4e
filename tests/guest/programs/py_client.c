/* Client of a Python server (tests/guest/test_python_server.py).  The server's
   send right arrives in registered slot 0.  We send inline text, a send right to
   our own port and 3 pages out of line; the server replies with out-of-line data
   and a send right to another Python port, through which we send a last message. */
#include <mach.h>
#include <stdio.h>
#include <string.h>
#include "../../../guest/tests/check.h"

typedef struct __attribute__((packed)) {
    mach_msg_header_t head;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t port;
    mach_msg_ool_descriptor_t ool;
    char text[8];
} request_t;

typedef union { mach_msg_header_t head; uint8_t space[512]; } buffer_t;

int main(void)
{
    mach_port_array_t ports = 0;
    mach_msg_type_number_t count = 0;
    for (int i = 0; i < 100000; i++) {           /* the server registers itself after spawn */
        KR(mach_ports_lookup(mach_task_self(), &ports, &count));
        if (count > 0 && ports[0] != MACH_PORT_NULL)
            break;
        swtch_pri(0);
    }
    CHECK(count > 0 && ports[0] != MACH_PORT_NULL, "no server port registered");
    mach_port_t server = ports[0];

    mach_port_t mine, reply = mach_reply_port();
    KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &mine));
    vm_address_t data;
    KR(vm_allocate(mach_task_self(), &data, 3 * vm_page_size, TRUE));
    for (unsigned i = 0; i < 3 * vm_page_size; i++)
        ((uint8_t *)data)[i] = (uint8_t)(i * 13 + 1);

    buffer_t buf;                               /* request out, reply in: one buffer */
    memset(&buf, 0, sizeof buf);
    request_t *rq = (request_t *)&buf;
#define req (*rq)
    req.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE) |
                         MACH_MSGH_BITS_COMPLEX;
    req.head.msgh_size = sizeof req;
    req.head.msgh_remote_port = server;
    req.head.msgh_local_port = reply;
    req.head.msgh_id = 500;
    req.body.msgh_descriptor_count = 2;
    req.port.name = mine;
    req.port.disposition = MACH_MSG_TYPE_MAKE_SEND;
    req.port.type = MACH_MSG_PORT_DESCRIPTOR;
    req.ool.address = (void *)data;
    req.ool.size = 3 * vm_page_size;
    req.ool.copy = MACH_MSG_VIRTUAL_COPY;
    req.ool.type = MACH_MSG_OOL_DESCRIPTOR;
    memcpy(req.text, "ping", 5);

    mach_msg_return_t mr = mach_msg(&req.head, MACH_SEND_MSG | MACH_RCV_MSG | MACH_RCV_TIMEOUT,
                                    sizeof req, sizeof buf, reply, 60000, 0);
    CHECK(mr == MACH_MSG_SUCCESS, "rpc: %#x", mr);
    /* the reply: a complex message with a port descriptor and an OOL region */
    request_t *rep = (request_t *)&buf;
    CHECK(rep->head.msgh_id == 600, "reply id %d", rep->head.msgh_id);
    CHECK(rep->body.msgh_descriptor_count == 2, "%u descriptors", rep->body.msgh_descriptor_count);
    CHECK(rep->port.disposition == MACH_MSG_TYPE_PORT_SEND, "port type %u", rep->port.disposition);
    const char *text = rep->ool.address;
    CHECK(rep->ool.size == 11 && memcmp(text, "from python", 11) == 0, "ool %u bytes", rep->ool.size);

    mach_msg_header_t last = { .msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND, 0),
                               .msgh_size = sizeof last, .msgh_remote_port = rep->port.name,
                               .msgh_id = 700 };
    KR(mach_msg(&last, MACH_SEND_MSG, sizeof last, 0, 0, 0, 0));
    printf("py_client: PASS\n");
    return 0;
}
