/* Names of OSF MK's headers ("Mach fidelity", item 3): the special ports of
 * task_special_ports.h and thread_special_ports.h with their ease-of-use macros, the
 * exception types, masks and behaviors of exception.h (EXC_MASK_ALL as OSF MK has it is
 * accepted by task_set_exception_ports), the i386 trap vectors, and the return codes
 * of kern_return.h and message.h, with their values. */
#include "check.h"

int main(void)
{
    task_t self = mach_task_self();
    mach_port_t a = MACH_PORT_NULL, b = MACH_PORT_NULL, port = MACH_PORT_NULL;

    CHECK(TASK_KERNEL_PORT == 1 && TASK_BOOTSTRAP_PORT == 4 && TASK_WIRED_LEDGER_PORT == 5
          && TASK_PAGED_LEDGER_PORT == 6 && THREAD_KERNEL_PORT == 1, "special port ids");
    KR(task_get_bootstrap_port(self, &a));
    KR(task_get_special_port(self, TASK_BOOTSTRAP_PORT, &b));
    CHECK(a == b, "task_get_bootstrap_port is task_get_special_port(TASK_BOOTSTRAP_PORT)");
    KR(task_get_kernel_port(self, &a));
    CHECK(a == self, "task_get_kernel_port names the task itself");
    printf("ok   special ports\n");

    CHECK(EXC_SYSCALL == 7 && EXC_MACH_SYSCALL == 8 && EXC_RPC_ALERT == 9
          && FIRST_EXCEPTION == 1 && EXC_TYPES_COUNT == 10, "exception types");
    CHECK(EXC_MASK_ALL == 0x3fe && EXC_MASK_MACHINE == 0, "EXC_MASK_ALL %#x", EXC_MASK_ALL);
    CHECK(EXCEPTION_STATE == 2 && EXCEPTION_STATE_IDENTITY == 3, "behaviors");
    CHECK(EXC_I386_PGFLT == 14 && EXC_I386_DBLFLT == 8 && EXC_I386_ENDPERR == 33, "vectors");
    KR(mach_port_allocate(self, MACH_PORT_RIGHT_RECEIVE, &port));
    KR(mach_port_insert_right(self, port, port, MACH_MSG_TYPE_MAKE_SEND));
    KR(task_set_exception_ports(self, EXC_MASK_ALL, port, EXCEPTION_STATE_IDENTITY,
                                x86_THREAD_STATE64));
    KR(task_set_exception_ports(self, EXC_MASK_ALL, MACH_PORT_NULL, EXCEPTION_DEFAULT,
                                x86_THREAD_STATE64));
    printf("ok   exceptions\n");

    CHECK(KERN_NODE_DOWN == 47 && KERN_NOT_WAITING == 48 && KERN_OPERATION_TIMED_OUT == 49
          && KERN_RETURN_MAX == 0x100, "kern_return.h");
    CHECK(MACH_SEND_INVALID_RT_OOL_SIZE == 0x10000015 && MACH_RCV_IN_PROGRESS_TIMED == 0x10004011
          && MACH_MSG_MASK == 0x3e00, "message.h");
    printf("mach_compat_names: PASS\n");
    return 0;
}
