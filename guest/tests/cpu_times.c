/* CPU time and events (issue 14, item 6): after work, task and thread info report
 * non-zero user time; TASK_THREAD_TIMES_INFO and TASK_EVENTS_INFO answer (they were
 * refused), with faults and traps counted. */
#include "check.h"

int main(void)
{
    volatile uint64_t sum = 0;
    for (uint64_t i = 0; i < 20000000; i++)
        sum += i & 7;
    vm_address_t a;
    KR(vm_allocate(mach_task_self(), &a, 8 * vm_page_size, TRUE));
    for (int i = 0; i < 8; i++)
        ((volatile char *)a)[i * vm_page_size] = 1;

    task_basic_info_data_t basic;
    mach_msg_type_number_t n = TASK_BASIC_INFO_COUNT;
    KR(task_info(mach_task_self(), TASK_BASIC_INFO, (task_info_t)&basic, &n));
    CHECK(basic.user_time > 0, "task user time %lu", (unsigned long)basic.user_time);

    task_thread_times_info_data_t times;
    n = TASK_THREAD_TIMES_INFO_COUNT;
    KR(task_info(mach_task_self(), TASK_THREAD_TIMES_INFO, (task_info_t)&times, &n));
    CHECK(times.user_time > 0 && times.user_time <= basic.user_time + 1000000,
          "live threads' user time %lu", (unsigned long)times.user_time);

    task_events_info_data_t ev;
    n = TASK_EVENTS_INFO_COUNT;
    KR(task_info(mach_task_self(), TASK_EVENTS_INFO, (task_info_t)&ev, &n));
    CHECK(ev.faults >= 8 && ev.syscalls_mach >= 3, "faults %lu traps %lu csw %lu",
          (unsigned long)ev.faults, (unsigned long)ev.syscalls_mach, (unsigned long)ev.csw);

    thread_basic_info_data_t th;
    n = THREAD_BASIC_INFO_COUNT;
    thread_t me = mach_thread_self();
    KR(thread_info(me, THREAD_BASIC_INFO, (thread_info_t)&th, &n));
    CHECK(th.user_time > 0, "thread user time %lu", (unsigned long)th.user_time);
    mach_port_deallocate(mach_task_self(), me);
    printf("cpu_times: user %lu us, system %lu us, %lu faults, %lu traps (sum %lu): PASS\n",
           (unsigned long)basic.user_time, (unsigned long)basic.system_time,
           (unsigned long)ev.faults, (unsigned long)ev.syscalls_mach, (unsigned long)sum);
    return 0;
}
