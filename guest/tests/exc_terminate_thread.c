/* An exception handler that terminates the faulting thread and replies KERN_SUCCESS
 * (issue 14, item 4): the thread is gone and its task goes on; before, the whole
 * task was killed. */
#include <mach.h>
#include <stdio.h>
#include <string.h>
#include "check.h"

static vm_address_t page;

static void faulter(void *arg)
{
    (void)arg;
    *(volatile int *)page = 1;               /* read-only: EXC_BAD_ACCESS */
    printf("FAIL: the faulting thread ran on\n");
    exit(3);
}

int main(void)
{
    mach_port_t port;
    thread_t t;
    KR(vm_allocate(mach_task_self(), &page, vm_page_size, TRUE));
    KR(vm_protect(mach_task_self(), page, vm_page_size, FALSE, VM_PROT_READ));
    KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &port));
    KR(mach_port_insert_right(mach_task_self(), port, port, MACH_MSG_TYPE_MAKE_SEND));
    KR(task_set_exception_ports(mach_task_self(), EXC_MASK_BAD_ACCESS, port, EXCEPTION_DEFAULT,
                                0));
    KR(normach_thread_spawn(mach_task_self(), faulter, 0, 64 * 1024, &t));

    union { exception_raise_request_t req; uint8_t space[512]; } buf;
    memset(&buf, 0, sizeof buf);
    KR(mach_msg(&buf.req.Head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof buf, port, 60000,
                MACH_PORT_NULL));
    CHECK(buf.req.exception == EXC_BAD_ACCESS, "exception %d", buf.req.exception);
    KR(thread_terminate(buf.req.thread.name));
    KR(exc_reply(&buf.req, KERN_SUCCESS));
    mach_port_deallocate(mach_task_self(), buf.req.task.name);
    mach_port_deallocate(mach_task_self(), buf.req.thread.name);

    thread_act_array_t list;
    mach_msg_type_number_t count = 0;
    for (long i = 0; i < 100000; i++) {              /* until the faulter is gone */
        KR(task_threads(mach_task_self(), &list, &count));
        for (mach_msg_type_number_t j = 0; j < count; j++)
            mach_port_deallocate(mach_task_self(), list[j]);
        vm_deallocate(mach_task_self(), (vm_address_t)list, count * sizeof *list);
        if (count == 1)
            break;
        swtch_pri(0);
    }
    CHECK(count == 1, "%u threads left", count);
    printf("exc_terminate_thread: the handler ended the thread, the task goes on: PASS\n");
    return 0;
}
