/* The clock service (issue 14, item 7): host_get_time, host_get_clock_service,
 * clock_get_time on SYSTEM_CLOCK (monotonic) and CALENDAR_CLOCK, clock_sleep; a guest
 * times a loop with the system clock and prints the figure, which the test compares
 * with the host's clock over the same run. */
#include "check.h"

static uint64_t ns(mach_timespec_t t) { return (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec; }

int main(void)
{
    clock_serv_t sys, cal;
    host_t host = mach_host_self();
    KR(host_get_clock_service(host, SYSTEM_CLOCK, &sys));
    KR(host_get_clock_service(host, CALENDAR_CLOCK, &cal));
    EXPECT_KR(KERN_INVALID_VALUE, host_get_clock_service(host, 77, &sys));
    time_value_t tv;
    KR(host_get_time(host, &tv));
    mach_timespec_t c0, t0, t1, woke;
    KR(clock_get_time(cal, &c0));
    CHECK(c0.tv_sec >= (unsigned)tv.seconds && c0.tv_sec - tv.seconds <= 1, "calendar %u vs %d",
          c0.tv_sec, tv.seconds);

    KR(clock_get_time(sys, &t0));
    volatile uint64_t sum = 0;
    for (uint64_t i = 0; i < 60000000; i++)
        sum += i & 3;
    KR(clock_get_time(sys, &t1));
    CHECK(ns(t1) > ns(t0), "the system clock did not advance");
    printf("loop_ns %lu\n", (unsigned long)(ns(t1) - ns(t0)));

    mach_timespec_t rel = { 0, 20000000 };                     /* 20 ms */
    KR(clock_sleep(sys, TIME_RELATIVE, rel, &woke));
    CHECK(ns(woke) >= ns(t1) + 20000000, "woke before its time");
    mach_timespec_t bad = { 0, 2000000000 };
    EXPECT_KR(KERN_INVALID_VALUE, clock_sleep(sys, TIME_RELATIVE, bad, &woke));
    printf("clock_service: PASS (sum %lu)\n", (unsigned long)sum);
    return 0;
}
