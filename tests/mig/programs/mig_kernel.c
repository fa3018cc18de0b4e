/*
 * A guest calls the kernel through MIG stubs generated from kern/routines.py
 * (`normach mig --kernel-defs`, compiled with -DUSERPREFIX=mig_): requests in
 * MIG layout to its task, thread, host and clock ports, and to a task on node
 * argv[1] (the kernel there answers through DIPC).  Each result is checked
 * against the kernel-call stubs of <mach.h>.
 */
#include <mach.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mach_mig.h"
#include "mach_port.h"
#include "mach_host.h"
#include "clock.h"
#include "norma.h"
#include "check.h"

static void ports(void)
{
    mach_port_t self = mach_task_self();
    natural_t name = 0, type = 0, refs = 0;
    KR(mig_mach_port_allocate(self, MACH_PORT_RIGHT_RECEIVE, &name));
    KR(mig_mach_port_type(self, name, &type));
    CHECK(type == MACH_PORT_TYPE_RECEIVE, "type %#x", type);
    KR(mig_mach_port_insert_right(self, name, name, MACH_MSG_TYPE_MAKE_SEND));   /* poly in */
    KR(mig_mach_port_get_refs(self, name, MACH_PORT_RIGHT_SEND, &refs));
    CHECK(refs == 1, "send refs %u", refs);

    mach_port_t right = MACH_PORT_NULL;
    mach_msg_type_name_t poly = 0;
    KR(mig_mach_port_extract_right(self, name, MACH_MSG_TYPE_MAKE_SEND, &right, &poly)); /* poly out */
    CHECK(right == name && poly == MACH_MSG_TYPE_PORT_SEND, "extract: %#x %u", right, poly);
    KR(mig_mach_port_get_refs(self, name, MACH_PORT_RIGHT_SEND, &refs));
    CHECK(refs == 2, "send refs after extract %u", refs);

    mach_port_name_t *names = 0;
    mach_port_type_t *types = 0;
    mach_msg_type_number_t namesCnt = 0, typesCnt = 0;
    KR(mig_mach_port_names(self, &names, &namesCnt, &types, &typesCnt));     /* two OOL arrays */
    int found = 0;
    for (unsigned i = 0; i < namesCnt; i++)
        found |= names[i] == name && types[i] == (MACH_PORT_TYPE_RECEIVE | MACH_PORT_TYPE_SEND);
    CHECK(found && namesCnt == typesCnt, "mach_port_names: %u names", namesCnt);
    KR(vm_deallocate(self, (vm_address_t)names, namesCnt * 4));
    KR(vm_deallocate(self, (vm_address_t)types, typesCnt * 4));

    EXPECT_KR(KERN_INVALID_NAME, mig_mach_port_type(self, 0x12345, &type));
    KR(mig_mach_port_destroy(self, name));
}

static void memory(task_t task, const char *where)
{
    int64_t addr = 0;
    KR(mig_vm_allocate(task, 0, 2 * vm_page_size, TRUE, &addr));
    char text[200];
    for (int i = 0; i < 200; i++)
        text[i] = (char)(i * 3 + 1);
    KR(mig_vm_write(task, addr + 100, (vm_offset_t)text, sizeof text));          /* OOL in */
    vm_offset_t data = 0;
    mach_msg_type_number_t dataCnt = 0;
    KR(mig_vm_read(task, addr + 100, sizeof text, &data, &dataCnt));             /* OOL out */
    CHECK(dataCnt == sizeof text && memcmp((void *)data, text, sizeof text) == 0,
          "%s: vm_read gave %u bytes", where, dataCnt);
    KR(vm_deallocate(mach_task_self(), data, dataCnt));

    natural_t info[64];
    mach_msg_type_number_t count = 64;
    KR(mig_task_info(task, TASK_BASIC_INFO, info, &count));                      /* record out */
    task_basic_info_data_t basic;
    mach_msg_type_number_t bcount = TASK_BASIC_INFO_COUNT;
    KR(task_info(task, TASK_BASIC_INFO, (task_info_t)&basic, &bcount));
    CHECK(count == bcount && ((task_basic_info_data_t *)info)->virtual_size == basic.virtual_size,
          "%s: task_info by MIG: %u words", where, count);
    count = 2;                                   /* too small for the record */
    EXPECT_KR(KERN_INVALID_ARGUMENT, mig_task_info(task, TASK_BASIC_INFO, info, &count));
    KR(mig_vm_deallocate(task, addr, 2 * vm_page_size));
    EXPECT_KR(KERN_INVALID_ADDRESS, mig_vm_read(task, addr, 8, &data, &dataCnt));
}

static void threads(void)
{
    thread_act_t th = MACH_PORT_NULL;
    KR(mig_thread_create(mach_task_self(), &th));                                 /* port out */
    natural_t state[x86_THREAD_STATE64_COUNT];
    mach_msg_type_number_t count = x86_THREAD_STATE64_COUNT;
    KR(mig_thread_get_state(th, x86_THREAD_STATE64, state, &count));              /* state out */
    CHECK(count == x86_THREAD_STATE64_COUNT, "state count %u", count);
    ((x86_thread_state64_t *)state)->rbx = 0x1234567890ULL;
    KR(mig_thread_set_state(th, x86_THREAD_STATE64, state, count));               /* state in */
    x86_thread_state64_t back;
    count = x86_THREAD_STATE64_COUNT;
    KR(thread_get_state(th, x86_THREAD_STATE64, (thread_state_t)&back, &count));
    CHECK(back.rbx == 0x1234567890ULL, "rbx %#lx", (unsigned long)back.rbx);

    thread_act_t *list = 0;
    mach_msg_type_number_t listCnt = 0;
    KR(mig_task_threads(mach_task_self(), &list, &listCnt));                      /* OOL ports */
    CHECK(listCnt == 2, "%u threads", listCnt);
    KR(mig_thread_terminate(th));
}

static void host_and_clock(void)
{
    natural_t info[64];
    mach_msg_type_number_t count = 64;
    KR(mig_host_info(mach_host_self(), HOST_BASIC_INFO, info, &count));
    CHECK(((host_basic_info_data_t *)info)->max_cpus >= 1, "max_cpus");
    mach_port_t clock = MACH_PORT_NULL;
    KR(mig_host_get_clock_service(mach_host_self(), SYSTEM_CLOCK, &clock));
    int64_t s1 = 0, ns1 = 0, s2 = 0, ns2 = 0;
    KR(mig_clock_get_time(clock, &s1, &ns1));
    KR(mig_clock_get_time(clock, &s2, &ns2));
    CHECK(s2 * 1000000000 + ns2 >= s1 * 1000000000 + ns1, "the clock went back");
}

int main(int argc, char **argv)
{
    int node = argc > 1 ? atoi(argv[1]) : 1;
    ports();
    memory(mach_task_self(), "here");
    threads();
    host_and_clock();

    task_t child = MACH_PORT_NULL;
    KR(mig_norma_task_create(mach_task_self(), FALSE, node, &child));
    natural_t where = 0;
    KR(mig_norma_port_location_hint(mach_task_self(), child, &where));
    CHECK(where == (natural_t)node, "the child is on node %u", where);
    memory(child, "there");
    KR(mig_task_terminate(child));
    printf("PASS\n");
    return 0;
}
