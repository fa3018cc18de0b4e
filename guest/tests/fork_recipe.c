/*
 * The Mach fork recipe (spec §7.4): task_create(self, inherit TRUE),
 * thread_create(child), thread_get_state of a thread prepared to run the
 * child's entry, thread_set_state into the child's thread, thread_resume.
 * The calling thread cannot get its own state (T7.4), so, like fork.c, the
 * state comes from a helper thread of the parent that is never run.
 *
 * The child writes what it saw into a SHARE-inherited page; a COPY-inherited
 * page proves copy-on-write in both directions.
 */
#include <mach.h>
#include <stdio.h>
#include <string.h>
#include "check.h"

#define STACK_SIZE (64 * 1024)
#define BEFORE_FORK 111
#define PARENT_AFTER 222
#define CHILD_WRITE 333

struct report {
    uint64_t done;              /* 1 when the child has written the rest */
    uint64_t copy_seen;         /* the COPY page as the child first saw it */
    uint64_t copy_after;        /* the COPY page after the child's write */
    uint64_t arg_seen;
    uint64_t xmm_ok;            /* the float state arrived */
};

static volatile struct report *shared;     /* SHARE-inherited page */
static volatile uint64_t *copied;          /* COPY-inherited page */

static void child_entry(void *arg)
{
    uint64_t xmm_low;
    __asm__ volatile("movq %%xmm7, %0" : "=r"(xmm_low));   /* before any call clobbers it */
    mach_init();                            /* this task's own ports */
    shared->xmm_ok = xmm_low == 0x0123456789abcdefULL;
    shared->arg_seen = (uint64_t)(uintptr_t)arg;
    shared->copy_seen = copied[0];
    copied[0] = CHILD_WRITE;
    shared->copy_after = copied[0];
    printf("child: task %u sees copy page %lu, wrote %lu\n", mach_task_self(),
           (unsigned long)shared->copy_seen, (unsigned long)shared->copy_after);
    __atomic_store_n(&shared->done, 1, __ATOMIC_RELEASE);
    exit(0);
}

int main(void)
{
    task_t self = mach_task_self(), child;
    thread_t helper, child_thread;
    vm_address_t share_page = 0, copy_page = 0, stack = 0;
    x86_thread_state64_t state;
    x86_float_state64_t fstate;
    mach_msg_type_number_t count;

    KR(vm_allocate(self, &share_page, vm_page_size, TRUE));
    KR(vm_inherit(self, share_page, vm_page_size, VM_INHERIT_SHARE));
    KR(vm_allocate(self, &copy_page, vm_page_size, TRUE));
    shared = (volatile struct report *)share_page;
    copied = (volatile uint64_t *)copy_page;
    copied[0] = BEFORE_FORK;
    KR(vm_allocate(self, &stack, STACK_SIZE, TRUE));

    /* A helper thread of the parent, prepared to run child_entry; never resumed. */
    KR(thread_create(self, &helper));
    KR(normach_thread_state(self, helper, child_entry, (void *)0xfeed, stack + STACK_SIZE,
                            &state));
    KR(thread_set_state(helper, x86_THREAD_STATE64, (thread_state_t)&state,
                        x86_THREAD_STATE64_COUNT));
    count = x86_FLOAT_STATE64_COUNT;
    KR(thread_get_state(helper, x86_FLOAT_STATE64, (thread_state_t)&fstate, &count));
    uint64_t xmm7_low = 0x0123456789abcdefULL;
    memcpy(fstate.fpu_xmm7.xmm_reg, &xmm7_low, sizeof xmm7_low);
    KR(thread_set_state(helper, x86_FLOAT_STATE64, (thread_state_t)&fstate, count));
    KR(thread_suspend(helper));

    /* Its state, read back. */
    memset(&state, 0, sizeof state);
    count = x86_THREAD_STATE64_COUNT;
    KR(thread_get_state(helper, x86_THREAD_STATE64, (thread_state_t)&state, &count));
    CHECK(count == x86_THREAD_STATE64_COUNT, "thread state count %u", count);
    CHECK(state.rip == (uint64_t)(uintptr_t)child_entry, "rip %#lx", (unsigned long)state.rip);
    CHECK(state.rdi == 0xfeed, "rdi %#lx", (unsigned long)state.rdi);
    memset(&fstate, 0, sizeof fstate);
    count = x86_FLOAT_STATE64_COUNT;
    KR(thread_get_state(helper, x86_FLOAT_STATE64, (thread_state_t)&fstate, &count));
    CHECK(count == x86_FLOAT_STATE64_COUNT
          && memcmp(fstate.fpu_xmm7.xmm_reg, &xmm7_low, sizeof xmm7_low) == 0,
          "float state count %u", count);
    printf("ok   helper thread state: rip %#lx rsp %#lx\n", (unsigned long)state.rip,
           (unsigned long)state.rsp);

    /* The calling thread cannot take its own state (T7.4). */
    thread_t me = mach_thread_self();
    count = x86_THREAD_STATE64_COUNT;
    x86_thread_state64_t mine;
    EXPECT_KR(KERN_INVALID_ARGUMENT,
              thread_get_state(me, x86_THREAD_STATE64, (thread_state_t)&mine, &count));
    KR(mach_port_deallocate(self, me));
    count = 3;
    EXPECT_KR(KERN_INVALID_ARGUMENT,
              thread_get_state(helper, x86_THREAD_STATE64, (thread_state_t)&mine, &count));
    count = x86_THREAD_STATE64_COUNT;
    EXPECT_KR(KERN_INVALID_ARGUMENT, thread_get_state(helper, 99, (thread_state_t)&mine, &count));

    /* Fork. */
    fflush(stdout);
    KR(task_create(self, NULL, 0, TRUE, &child));
    copied[0] = PARENT_AFTER;                    /* after the fork: the child must not see it */
    KR(thread_create(child, &child_thread));
    KR(thread_set_state(child_thread, x86_THREAD_STATE64, (thread_state_t)&state,
                        x86_THREAD_STATE64_COUNT));
    KR(thread_set_state(child_thread, x86_FLOAT_STATE64, (thread_state_t)&fstate,
                        x86_FLOAT_STATE64_COUNT));
    KR(thread_terminate(helper));
    KR(thread_resume(child_thread));

    CHECK(wait_for(&shared->done, 1, 10000000), "the child never reported");
    CHECK(shared->arg_seen == 0xfeed, "child argument %#lx", (unsigned long)shared->arg_seen);
    CHECK(shared->xmm_ok == 1, "child's xmm7 lost");
    CHECK(shared->copy_seen == BEFORE_FORK, "child saw %lu in the COPY page",
          (unsigned long)shared->copy_seen);
    CHECK(shared->copy_after == CHILD_WRITE, "child's write %lu", (unsigned long)shared->copy_after);
    CHECK(copied[0] == PARENT_AFTER, "parent's COPY page became %lu", (unsigned long)copied[0]);
    printf("ok   child saw %d in the COPY page, parent keeps %d, SHARE page carried the report\n",
           BEFORE_FORK, PARENT_AFTER);
    task_terminate(child);                       /* it may already have exited */
    printf("fork_recipe: PASS\n");
    return 0;
}
