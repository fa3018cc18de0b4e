/* Exception types and their i386 codes as Mach names them (issue 14, item 9): a divide
 * by zero is EXC_ARITHMETIC/EXC_I386_DIV, int3 EXC_BREAKPOINT/EXC_I386_BPT, ud2
 * EXC_BAD_INSTRUCTION/EXC_I386_INVOP.  Each faults in a thread of its own, which the
 * handler terminates before it replies (the task goes on). */
#include <mach.h>
#include <stdio.h>
#include <string.h>
#include "check.h"

static volatile int zero = 0;
static void divide(void *arg) { (void)arg; volatile int x = 7 / zero; (void)x; exit(3); }
static void breakpoint(void *arg) { (void)arg; __asm__ volatile("int3"); exit(3); }
static void invalid(void *arg) { (void)arg; __asm__ volatile("ud2"); exit(3); }

static void expect(mach_port_t port, void (*fn)(void *), int exc, int64_t code, const char *what)
{
    thread_t t;
    KR(normach_thread_spawn(mach_task_self(), fn, 0, 64 * 1024, &t));
    union { exception_raise_request_t req; uint8_t space[512]; } buf;
    memset(&buf, 0, sizeof buf);
    KR(mach_msg(&buf.req.Head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof buf, port, 60000,
                MACH_PORT_NULL));
    CHECK(buf.req.exception == exc && buf.req.code[0] == code, "%s: exception %d code %ld",
          what, buf.req.exception, (long)buf.req.code[0]);
    KR(thread_terminate(buf.req.thread.name));
    KR(exc_reply(&buf.req, KERN_SUCCESS));
    mach_port_deallocate(mach_task_self(), buf.req.thread.name);
    mach_port_deallocate(mach_task_self(), buf.req.task.name);
    mach_port_deallocate(mach_task_self(), t);
    printf("ok   %s\n", what);
}

int main(void)
{
    mach_port_t port;
    KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &port));
    KR(mach_port_insert_right(mach_task_self(), port, port, MACH_MSG_TYPE_MAKE_SEND));
    KR(task_set_exception_ports(mach_task_self(), EXC_MASK_ALL & ~EXC_MASK_BAD_ACCESS, port,
                                EXCEPTION_DEFAULT, 0));
    expect(port, divide, EXC_ARITHMETIC, EXC_I386_DIV, "divide by zero: EXC_I386_DIV");
    expect(port, breakpoint, EXC_BREAKPOINT, EXC_I386_BPT, "int3: EXC_I386_BPT");
    expect(port, invalid, EXC_BAD_INSTRUCTION, EXC_I386_INVOP, "ud2: EXC_I386_INVOP");
    printf("exc_codes: PASS\n");
    return 0;
}
