/*
 * The server of calc.defs (tests/mig): implements each routine with the
 * generated server stubs and serves with mach_msg_server.  Its service port is
 * registered in slot 0 of its own registered ports, for the test to hand to a client.
 */
#include <mach.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "calc.h"
#include "check.h"

static mach_port_t service, extra;
static int notes;

kern_return_t do_add(mach_port_t server, int a, int b, int *sum)
{
    *sum = a + b;
    return KERN_SUCCESS;
}

kern_return_t do_sum_ool(mach_port_t server, char *data, mach_msg_type_number_t dataCnt,
                         int64_t *total, char **echo, mach_msg_type_number_t *echoCnt)
{
    int64_t t = 0;
    for (mach_msg_type_number_t i = 0; i < dataCnt; i++)
        t += (uint8_t)data[i];
    *total = t;
    *echo = data;                          /* sent back, deallocated after (dealloc) */
    *echoCnt = dataCnt;
    return KERN_SUCCESS;
}

kern_return_t do_lists(mach_port_t server, int *xs, mach_msg_type_number_t xsCnt, int *ys,
                       mach_msg_type_number_t *ysCnt)
{
    if (*ysCnt < xsCnt)
        return KERN_INVALID_ARGUMENT;
    for (mach_msg_type_number_t i = 0; i < xsCnt; i++)
        ys[i] = xs[xsCnt - 1 - i] * 2;
    *ysCnt = xsCnt;
    return KERN_SUCCESS;
}

kern_return_t do_give_port(mach_port_t server, mach_port_t p, mach_port_t *back)
{
    mach_port_type_t type = 0;
    if (mach_port_type(mach_task_self(), p, &type) != KERN_SUCCESS || !(type & MACH_PORT_TYPE_SEND))
        return KERN_INVALID_RIGHT;
    mach_port_deallocate(mach_task_self(), p);
    *back = extra;                         /* make_send: a new send right to our port */
    return KERN_SUCCESS;
}

kern_return_t do_poly(mach_port_t server, mach_port_t p, mach_msg_type_name_t pPoly,
                      mach_port_t *q, mach_msg_type_name_t *qPoly)
{
    /* a send-once right comes back as it came; a send right is moved back */
    *q = p;
    *qPoly = pPoly == MACH_MSG_TYPE_PORT_SEND_ONCE ? MACH_MSG_TYPE_MOVE_SEND_ONCE
                                                   : MACH_MSG_TYPE_MOVE_SEND;
    return KERN_SUCCESS;
}

kern_return_t do_note(mach_port_t server, int v)
{
    notes += v;
    return KERN_SUCCESS;
}

kern_return_t do_greet(mach_port_t server, char *who, char *reply)
{
    size_t n = strlen(who);
    memcpy(reply, "hello, ", 7);
    memcpy(reply + 7, who, n < 56 ? n : 56);
    reply[7 + (n < 56 ? n : 56)] = 0;
    return KERN_SUCCESS;
}

kern_return_t do_counter(mach_port_t server, int64_t *c, int64_t *pair)
{
    *c += 1;
    int64_t t = pair[0];
    pair[0] = pair[1];
    pair[1] = t;
    return KERN_SUCCESS;
}

kern_return_t do_ports(mach_port_t server, mach_port_t *list, mach_msg_type_number_t listCnt,
                       int *count, mach_port_t **same, mach_msg_type_number_t *sameCnt)
{
    *count = (int)listCnt;
    *same = list;                          /* the rights go back (copy_send), the array too */
    *sameCnt = listCnt;
    return KERN_SUCCESS;
}

kern_return_t do_fail(mach_port_t server, int code)
{
    return code;
}

kern_return_t do_timed(mach_port_t server, int *seen)
{
    *seen = notes;                         /* the notes sent before this call */
    return KERN_SUCCESS;
}

kern_return_t do_rights(mach_port_t server, mach_port_t r, mach_port_t s, mach_port_t so,
                        mach_port_t *rback, mach_port_t *soback)
{
    mach_port_type_t tr = 0, ts = 0, tso = 0;
    KR(mach_port_type(mach_task_self(), r, &tr));
    KR(mach_port_type(mach_task_self(), s, &ts));
    KR(mach_port_type(mach_task_self(), so, &tso));
    if (tr != MACH_PORT_TYPE_RECEIVE || ts != MACH_PORT_TYPE_SEND || tso != MACH_PORT_TYPE_SEND_ONCE)
        return KERN_INVALID_RIGHT;
    KR(mach_port_deallocate(mach_task_self(), s));
    *rback = r;                            /* move_receive: the receive right goes back */
    *soback = so;                          /* move_send_once */
    return KERN_SUCCESS;
}

kern_return_t do_quit(mach_port_t server)
{
    printf("server: done\n");
    exit(0);
}

int main(void)
{
    KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &service));
    KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &extra));
    KR(mach_port_insert_right(mach_task_self(), service, service, MACH_MSG_TYPE_MAKE_SEND));
    KR(mach_ports_register(mach_task_self(), &service, 1));
    printf("server: ready\n");
    mach_msg_return_t mr = mach_msg_server(calc_server, calc_MSG_SIZE_MAX, service, 0);
    printf("server: mach_msg_server returned %#x\n", mr);
    return 1;
}
