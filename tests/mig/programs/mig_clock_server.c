/*
 * A guest server of a kernel interface: clock.defs, generated from
 * kern/routines.py, compiled with -DUSERPREFIX=mig_ -DSERVERPREFIX=srv_.  A
 * thread serves a clock of its own (a fixed time that clock_sleep advances);
 * the same user stubs then ask the kernel's clock and this one.
 */
#include <mach.h>
#include <stdio.h>
#include "clock.h"
#include "check.h"

static int64_t fake_seconds = 1000;

kern_return_t srv_clock_get_time(clock_serv_t clock, int64_t *seconds, int64_t *nanoseconds)
{
    *seconds = fake_seconds;
    *nanoseconds = 42;
    return KERN_SUCCESS;
}

kern_return_t srv_clock_sleep(clock_serv_t clock, int64_t sleep_type, int64_t seconds,
                              int64_t nanoseconds, int64_t *wake_seconds, int64_t *wake_nanoseconds)
{
    if (sleep_type != TIME_RELATIVE)
        return KERN_INVALID_VALUE;
    fake_seconds += seconds;                   /* time passes at once on this clock */
    *wake_seconds = fake_seconds;
    *wake_nanoseconds = nanoseconds;
    return KERN_SUCCESS;
}

static mach_port_t service;

static void serve(void *arg)
{
    mach_msg_server(clock_server, clock_MSG_SIZE_MAX, service, 0);
}

int main(void)
{
    KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &service));
    KR(mach_port_insert_right(mach_task_self(), service, service, MACH_MSG_TYPE_MAKE_SEND));
    KR(normach_thread_spawn(mach_task_self(), serve, 0, 64 * 1024, 0));

    int64_t s = 0, ns = 0, ws = 0, wns = 0;
    KR(mig_clock_get_time(service, &s, &ns));
    CHECK(s == 1000 && ns == 42, "the guest clock says %ld.%09ld", (long)s, (long)ns);
    KR(mig_clock_sleep(service, TIME_RELATIVE, 5, 7, &ws, &wns));
    CHECK(ws == 1005 && wns == 7, "woke at %ld.%09ld", (long)ws, (long)wns);
    EXPECT_KR(KERN_INVALID_VALUE, mig_clock_sleep(service, TIME_ABSOLUTE, 5, 7, &ws, &wns));

    clock_serv_t kernel_clock = MACH_PORT_NULL;
    KR(host_get_clock_service(mach_host_self(), SYSTEM_CLOCK, &kernel_clock));
    KR(mig_clock_get_time(kernel_clock, &s, &ns));
    CHECK(s != 1005 && ns >= 0 && ns < 1000000000, "the kernel's clock: %ld.%09ld", (long)s, (long)ns);
    printf("PASS\n");
    return 0;
}
