/*
 * The client of calc.defs (tests/mig): every routine through the generated user
 * stubs.  The server's send right arrives in registered slot 0.
 */
#include <mach.h>
#include <stdio.h>
#include <string.h>
#include "calc.h"
#include "check.h"

static mach_port_t server_port(void)
{
    mach_port_array_t ports = 0;
    mach_msg_type_number_t count = 0;
    for (int i = 0; i < 200000; i++) {           /* the test registers it after spawn */
        KR(mach_ports_lookup(mach_task_self(), &ports, &count));
        if (count > 0 && ports[0] != MACH_PORT_NULL)
            return ports[0];
        swtch_pri(0);
    }
    CHECK(0, "no server port registered");
    return MACH_PORT_NULL;
}

static void ints_and_arrays(mach_port_t s)
{
    int sum = 0;
    KR(add(s, 40, 2, &sum));
    CHECK(sum == 42, "add: %d", sum);

    vm_address_t data;
    vm_size_t size = 3 * vm_page_size + 100;
    KR(vm_allocate(mach_task_self(), &data, size, TRUE));
    int64_t expect = 0;
    for (vm_size_t i = 0; i < size; i++) {
        ((uint8_t *)data)[i] = (uint8_t)(i * 7 + 3);
        expect += (uint8_t)(i * 7 + 3);
    }
    int64_t total = 0;
    char *echo = 0;
    mach_msg_type_number_t echoCnt = 0;
    KR(sum_ool(s, (char *)data, (mach_msg_type_number_t)size, &total, &echo, &echoCnt));
    CHECK(total == expect, "sum_ool: %ld, expected %ld", (long)total, (long)expect);
    CHECK(echoCnt == size && memcmp(echo, (char *)data, size) == 0, "echo differs");
    CHECK((vm_address_t)echo != data, "out-of-line data arrives at a new address");
    KR(vm_deallocate(mach_task_self(), (vm_address_t)echo, echoCnt));

    int xs[5] = {1, 2, 3, 4, 5}, ys[16];
    mach_msg_type_number_t ysCnt = 16;
    KR(lists(s, xs, 5, ys, &ysCnt));
    CHECK(ysCnt == 5 && ys[0] == 10 && ys[4] == 2, "lists: %u %d %d", ysCnt, ys[0], ys[4]);
    ysCnt = 3;                                   /* too small: the server refuses */
    EXPECT_KR(KERN_INVALID_ARGUMENT, lists(s, xs, 5, ys, &ysCnt));
    int many[17] = {0};
    EXPECT_KR(MIG_ARRAY_TOO_LARGE, lists(s, many, 17, ys, &ysCnt));

    char reply[64];
    KR(greet(s, "mig", reply));
    CHECK(strcmp(reply, "hello, mig") == 0, "greet: '%s'", reply);

    int64_t c = 41, pair[2] = {7, 9};
    KR(counter(s, &c, pair));
    CHECK(c == 42 && pair[0] == 9 && pair[1] == 7, "counter: %ld %ld %ld", (long)c,
          (long)pair[0], (long)pair[1]);
}

static void send_rights(mach_port_t s)
{
    mach_port_t mine, back = MACH_PORT_NULL;
    KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &mine));
    KR(mach_port_insert_right(mach_task_self(), mine, mine, MACH_MSG_TYPE_MAKE_SEND));
    KR(give_port(s, mine, &back));
    mach_port_type_t type = 0;
    KR(mach_port_type(mach_task_self(), back, &type));
    CHECK(back != MACH_PORT_NULL && (type & MACH_PORT_TYPE_SEND) && !(type & MACH_PORT_TYPE_RECEIVE),
          "give_port: back %#x type %#x", back, type);

    /* polymorphic: a send-once right made here travels there and back */
    mach_port_t q = MACH_PORT_NULL;
    mach_msg_type_name_t qPoly = 0;
    KR(poly(s, mine, MACH_MSG_TYPE_MAKE_SEND_ONCE, &q, &qPoly));
    CHECK(qPoly == MACH_MSG_TYPE_PORT_SEND_ONCE, "poly: type %u", qPoly);
    KR(mach_port_type(mach_task_self(), q, &type));
    CHECK(type & MACH_PORT_TYPE_SEND_ONCE, "poly: the right is a send-once right (%#x)", type);
    KR(poly(s, mine, MACH_MSG_TYPE_MAKE_SEND, &q, &qPoly));
    CHECK(qPoly == MACH_MSG_TYPE_PORT_SEND, "poly: type %u", qPoly);

    /* an array of rights, out of line, and back */
    mach_port_t list[3] = {mine, back, mine};
    mach_port_t *same = 0;
    mach_msg_type_number_t sameCnt = 0;
    int count = 0;
    KR(ports(s, list, 3, &count, &same, &sameCnt));
    CHECK(count == 3 && sameCnt == 3 && same[0] == mine && same[1] == back && same[2] == mine,
          "ports: %d %u", count, sameCnt);
}

static void dispositions(mach_port_t s)
{
    mach_port_t p, q, r, rback = MACH_PORT_NULL, soback = MACH_PORT_NULL;
    mach_port_type_t type = 0;
    KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &p));
    KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &q));
    KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &r));
    KR(mach_port_insert_right(mach_task_self(), q, q, MACH_MSG_TYPE_MAKE_SEND));
    KR(mach_port_insert_right(mach_task_self(), q, q, MACH_MSG_TYPE_MAKE_SEND)); /* 2 refs */
    KR(rights(s, p, q, r, &rback, &soback));
    EXPECT_KR(KERN_INVALID_NAME, mach_port_type(mach_task_self(), p, &type));  /* moved away */
    KR(mach_port_type(mach_task_self(), rback, &type));
    CHECK(type == MACH_PORT_TYPE_RECEIVE, "rback: type %#x", type);
    mach_port_urefs_t refs = 0;
    KR(mach_port_get_refs(mach_task_self(), q, MACH_PORT_RIGHT_SEND, &refs));
    CHECK(refs == 1, "move_send took one reference of two: %u left", refs);
    KR(mach_port_type(mach_task_self(), soback, &type));
    CHECK(type == MACH_PORT_TYPE_SEND_ONCE, "soback: type %#x", type);
    /* the send-once right is r's: a message through it arrives on r */
    struct { mach_msg_header_t h; mach_msg_trailer_t t; } m = {0};
    m.h.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0);
    m.h.msgh_size = sizeof m.h;
    m.h.msgh_remote_port = soback;
    m.h.msgh_id = 77;
    KR(mach_msg(&m.h, MACH_SEND_MSG, sizeof m.h, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL));
    KR(mach_msg(&m.h, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof m, r, 10000, MACH_PORT_NULL));
    CHECK(m.h.msgh_id == 77, "id %d", m.h.msgh_id);
}

static void codes_and_simpleroutines(mach_port_t s)
{
    EXPECT_KR(KERN_NO_SPACE, fail(s, KERN_NO_SPACE));
    KR(note(s, 5));                              /* simpleroutines: no reply */
    KR(note(s, 7));
    int seen = 0;
    KR(timed(s, 60000, &seen));                  /* ordered after the notes */
    CHECK(seen == 12, "the server saw notes of %d", seen);
    EXPECT_KR(MACH_SEND_INVALID_DEST, add(MACH_PORT_NULL + 0x7777, 1, 2, &seen));
}

int main(int argc, char **argv)
{
    mach_port_t s = server_port();
    ints_and_arrays(s);
    send_rights(s);
    dispositions(s);
    codes_and_simpleroutines(s);
    KR(quit(s));
    printf("PASS\n");
    return 0;
}
