/* Four threads of one task add 1 to a shared counter 10000 times each. */
#include <mach.h>
#include <stdio.h>
#include "check.h"

#define NTHREADS 4
#define ITERATIONS 10000

static uint64_t counter;
static volatile uint64_t finished;
static uint64_t per_thread[NTHREADS];

static void worker(void *arg)
{
    uint64_t index = (uint64_t)(uintptr_t)arg;
    for (int i = 0; i < ITERATIONS; i++) {
        __atomic_fetch_add(&counter, 1, __ATOMIC_SEQ_CST);
        per_thread[index]++;
        if (i % 1000 == 0)
            swtch_pri(0);                   /* let the others interleave */
    }
    __atomic_fetch_add(&finished, 1, __ATOMIC_RELEASE);
}

int main(void)
{
    thread_t threads[NTHREADS];
    thread_act_array_t list;
    mach_msg_type_number_t count;

    for (uint64_t i = 0; i < NTHREADS; i++)
        KR(normach_thread_spawn(mach_task_self(), worker, (void *)(uintptr_t)i, 64 * 1024,
                                &threads[i]));
    KR(task_threads(mach_task_self(), &list, &count));
    printf("task_threads: %u threads while the workers run\n", count);
    CHECK(count >= 1 && count <= NTHREADS + 1, "thread count %u", count);
    for (mach_msg_type_number_t i = 0; i < count; i++)
        mach_port_deallocate(mach_task_self(), list[i]);
    KR(vm_deallocate(mach_task_self(), (vm_address_t)list, count * sizeof *list));

    CHECK(wait_for(&finished, NTHREADS, 100000000), "only %lu threads finished",
          (unsigned long)finished);
    for (int i = 0; i < NTHREADS; i++)
        CHECK(per_thread[i] == ITERATIONS, "thread %d ran %lu times", i,
              (unsigned long)per_thread[i]);
    printf("counter = %lu (expected %d)\n", (unsigned long)counter, NTHREADS * ITERATIONS);
    CHECK(counter == NTHREADS * ITERATIONS, "lost updates");
    for (int i = 0; i < NTHREADS; i++)
        mach_port_deallocate(mach_task_self(), threads[i]);
    printf("threads_counter: PASS\n");
    return 0;
}
