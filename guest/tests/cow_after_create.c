/*
 * Copy-on-write after task_create(inherit TRUE): writes to a COPY-inherited
 * region after the fork stay in the task that makes them, in both directions,
 * for a page touched before the fork and for one never touched (zero fill).
 */
#include <mach.h>
#include <stdio.h>
#include <string.h>
#include "check.h"

struct report {
    uint64_t done;
    uint64_t seen[3];           /* the child's view of the three pages before writing */
};

static volatile struct report *shared;
static volatile uint64_t *region;          /* 3 pages, COPY */

static uint64_t child_read(task_t child, vm_address_t addr)
{
    pointer_t data;
    mach_msg_type_number_t count;
    uint64_t v;
    KR(vm_read(child, addr, sizeof v, &data, &count));
    CHECK(count == sizeof v, "vm_read count %u", count);
    memcpy(&v, (void *)data, sizeof v);
    KR(vm_deallocate(mach_task_self(), data & ~(vm_page_size - 1), vm_page_size));
    return v;
}

static void child_main(void *arg)
{
    (void)arg;
    size_t words = vm_page_size / 8;
    mach_init();
    for (int i = 0; i < 3; i++)
        shared->seen[i] = region[i * words];
    for (int i = 0; i < 3; i++)
        region[i * words] = 4000 + i;
    __atomic_store_n(&shared->done, 1, __ATOMIC_RELEASE);
    for (;;)
        swtch_pri(0);           /* the parent reads our memory, then terminates us */
}

int main(void)
{
    task_t self = mach_task_self(), child;
    vm_address_t share = 0, r = 0;
    size_t words = vm_page_size / 8;

    KR(vm_allocate(self, &share, vm_page_size, TRUE));
    KR(vm_inherit(self, share, vm_page_size, VM_INHERIT_SHARE));
    KR(vm_allocate(self, &r, 3 * vm_page_size, TRUE));
    shared = (volatile struct report *)share;
    region = (volatile uint64_t *)r;
    region[0] = 1;              /* page 0: written before the fork */
    region[words] = 2;          /* page 1: written before the fork */
                                /* page 2: never touched before the fork */

    KR(task_create(self, NULL, 0, TRUE, &child));
    region[0] = 10;             /* parent writes after the fork */
    region[2 * words] = 12;
    CHECK(child_read(child, r) == 1, "child sees the parent's post-fork write (page 0)");
    CHECK(child_read(child, r + 2 * vm_page_size) == 0, "child's untouched page not zero");
    printf("ok   parent's writes after task_create stay in the parent\n");

    uint64_t three = 3;
    KR(vm_write(child, r + vm_page_size, (pointer_t)(uintptr_t)&three, sizeof three));
    CHECK(region[words] == 2, "vm_write into the child changed the parent: %lu",
          (unsigned long)region[words]);
    printf("ok   vm_write into the child stays in the child\n");

    KR(normach_thread_spawn(child, child_main, NULL, 64 * 1024, NULL));
    CHECK(wait_for(&shared->done, 1, 10000000), "the child never reported");
    CHECK(shared->seen[0] == 1 && shared->seen[1] == 3 && shared->seen[2] == 0,
          "child saw %lu %lu %lu, expected 1 3 0", (unsigned long)shared->seen[0],
          (unsigned long)shared->seen[1], (unsigned long)shared->seen[2]);
    CHECK(region[0] == 10 && region[words] == 2 && region[2 * words] == 12,
          "parent's pages became %lu %lu %lu", (unsigned long)region[0],
          (unsigned long)region[words], (unsigned long)region[2 * words]);
    for (int i = 0; i < 3; i++)
        CHECK(child_read(child, r + i * vm_page_size) == (uint64_t)(4000 + i),
              "child's page %d lost its write", i);
    printf("ok   the child's own writes stay in the child\n");
    KR(task_terminate(child));
    printf("cow_after_create: PASS\n");
    return 0;
}
