/* What a Mach program asks of its host (issue 14, item 8, in part): host_info's basic,
 * scheduling and priority flavors, host_kernel_version, task_set_name. */
#include "check.h"
#include <string.h>

int main(void)
{
    host_t host = mach_host_self();
    host_basic_info_data_t basic;
    mach_msg_type_number_t n = HOST_BASIC_INFO_COUNT;
    KR(host_info(host, HOST_BASIC_INFO, (host_info_t)&basic, &n));
    CHECK(basic.max_cpus == 1 && basic.avail_cpus == 1 && basic.memory_size > 0,
          "cpus %lu memory %lu", (unsigned long)basic.max_cpus, (unsigned long)basic.memory_size);
    CHECK(basic.cpu_type == CPU_TYPE_X86_64, "cpu type %#lx", (unsigned long)basic.cpu_type);
    host_sched_info_data_t sched;
    n = HOST_SCHED_INFO_COUNT;
    KR(host_info(host, HOST_SCHED_INFO, (host_info_t)&sched, &n));
    CHECK(sched.min_quantum > 0, "quantum %lu", (unsigned long)sched.min_quantum);
    host_priority_info_data_t prio;
    n = HOST_PRIORITY_INFO_COUNT;
    KR(host_info(host, HOST_PRIORITY_INFO, (host_info_t)&prio, &n));
    n = HOST_BASIC_INFO_COUNT;
    EXPECT_KR(KERN_INVALID_ARGUMENT, host_info(host, 99, (host_info_t)&basic, &n));

    kernel_version_t version;
    KR(host_kernel_version(host, version));
    CHECK(strncmp(version, "normach ", 8) == 0, "version %s", version);
    printf("ok   host_kernel_version: %s\n", version);

    KR(task_set_name(mach_task_self(), "renamed"));
    char longname[TASK_NAME_MAX + 2];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    EXPECT_KR(KERN_INVALID_ARGUMENT, task_set_name(mach_task_self(), longname));
    printf("host_info: PASS\n");
    return 0;
}
