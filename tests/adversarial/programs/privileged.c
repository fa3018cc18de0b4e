/* Privileged instructions in a user program.
 *   privileged one N   runs instruction N of the table; a real CPU in user mode raises
 *                      #GP (or #UD), so the program must die before it prints "survived".
 *   privileged handled runs every instruction of the table under an exception handler
 *                      (a second thread on the task's exception port) that skips it:
 *                      each must arrive as EXC_BAD_INSTRUCTION, one after the other
 *                      (the CPU must not take the fifth for a triple fault). */
#include <mach.h>
#include <stdlib.h>
#include <string.h>
#include "../../../guest/tests/check.h"

static volatile uint64_t resume;            /* where the handler sends the thread */

#define TRY(insn)                                                                       \
    __asm__ volatile("leaq 1f(%%rip), %%rax\n\tmovq %%rax, resume(%%rip)\n\t" insn "\n1:\n" \
                     ::: "rax", "rcx", "rdx", "memory")

static void run(int n)
{
    switch (n) {
    case 0: TRY("mov %%cr0, %%rax"); break;
    case 1: TRY("mov %%rax, %%cr3"); break;
    case 2: TRY("wrmsr"); break;
    case 3: TRY("rdmsr"); break;
    case 4: TRY("cli"); break;
    case 5: TRY("hlt"); break;
    case 6: TRY("invlpg (%%rsp)"); break;
    case 7: TRY("swapgs"); break;
    case 8: TRY("inb $0x80, %%al"); break;
    case 9: TRY("outb %%al, $0x80"); break;
    case 10: TRY("sysenter"); break;
    case 11: TRY("mov %%rax, %%dr7"); break;
    case 12: TRY("xor %%ecx, %%ecx; div %%ecx"); break;   /* EXC_ARITHMETIC, not privileged */
    }
}
#define COUNT 13

static struct { int exception; int64_t code0; } seen[COUNT];
static volatile int current;

static void handler(void *arg)
{
    mach_port_t port = (mach_port_t)(uintptr_t)arg;
    for (;;) {
        union { exception_raise_request_t req; uint8_t space[512]; } buf;
        x86_thread_state64_t st;
        mach_msg_type_number_t cnt = sizeof st / 4;
        if (mach_msg(&buf.req.Head, MACH_RCV_MSG, 0, sizeof buf, port, 0, 0) != MACH_MSG_SUCCESS)
            return;
        seen[current].exception = buf.req.exception;
        seen[current].code0 = buf.req.codeCnt ? buf.req.code[0] : -1;
        thread_get_state(buf.req.thread.name, x86_THREAD_STATE64, (thread_state_t)&st, &cnt);
        st.rip = resume;
        thread_set_state(buf.req.thread.name, x86_THREAD_STATE64, (thread_state_t)&st, cnt);
        mach_port_deallocate(mach_task_self(), buf.req.thread.name);
        mach_port_deallocate(mach_task_self(), buf.req.task.name);
        exc_reply(&buf.req, KERN_SUCCESS);
    }
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "one") == 0) {
        run(atoi(argv[2]));
        printf("survived instruction %s\n", argv[2]);
        return 0;
    }
    mach_port_t port;
    thread_t th;
    KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &port));
    KR(mach_port_insert_right(mach_task_self(), port, port, MACH_MSG_TYPE_MAKE_SEND));
    KR(thread_set_exception_ports(mach_thread_self(), EXC_MASK_ALL, port, EXCEPTION_DEFAULT,
                                  x86_THREAD_STATE64));
    KR(normach_thread_spawn(mach_task_self(), handler, (void *)(uintptr_t)port, 64 * 1024, &th));
    for (int i = 0; i < COUNT; i++) {
        current = i;
        run(i);
    }
    for (int i = 0; i < COUNT; i++) {
        int want = i == 12 ? EXC_ARITHMETIC : EXC_BAD_INSTRUCTION;
        CHECK(seen[i].exception == want, "instruction %d: exception %d (code %ld), expected %d",
              i, seen[i].exception, (long)seen[i].code0, want);
    }
    printf("PASS: %d exceptions in a row, each reported as itself\n", COUNT);
    return 0;
}
