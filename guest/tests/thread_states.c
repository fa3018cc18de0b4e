/* Thread state flavors ("Mach fidelity", item 2): x86_FLOAT_STATE64 is the whole FXSAVE
 * area — another thread's x87 stack is read and changed through it, and the thread
 * computes with the value set — and x86_DEBUG_STATE64 holds dr0-dr7 as Mach checks
 * them, kept while the thread runs. */
#include "check.h"
#include <string.h>

static const unsigned char PI[10] = {0x35, 0xc2, 0x68, 0x21, 0xa2, 0xda, 0x0f, 0xc9, 0x00, 0x40};
static const unsigned char ONE[10] = {0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f};
static const unsigned char TWO[10] = {0, 0, 0, 0, 0, 0, 0, 0x80, 0x00, 0x40};

static volatile uint64_t phase;
static long double top_out, next_out;               /* st0, st1 as the worker stores them */

static void worker(void *arg)
{
    (void)arg;
    __asm__ volatile("fninit; fld1; fldpi" ::: "memory");     /* st0 = pi, st1 = 1 */
    __atomic_store_n(&phase, 1, __ATOMIC_RELEASE);
    wait_for(&phase, 2, 100000000);
    __asm__ volatile("fstpt %0; fstpt %1" : "=m"(top_out), "=m"(next_out) :: "memory");
    __atomic_store_n(&phase, 3, __ATOMIC_RELEASE);
    wait_for(&phase, 4, 100000000);
}

static void stop(thread_t t)
{
    KR(thread_suspend(t));
    KR(thread_abort(t));              /* out of swtch_pri: its state is the user state */
}

static void float_state(thread_t t)
{
    x86_float_state64_t fs, again;
    mach_msg_type_number_t n = x86_FLOAT_STATE64_COUNT;
    KR(thread_get_state(t, x86_FLOAT_STATE64, (thread_state_t)&fs, &n));
    CHECK(n == x86_FLOAT_STATE64_COUNT, "count %u", n);
    CHECK((fs.fpu_fsw >> 11 & 7) == 6 && fs.fpu_ftw == 0xc0, "top %d, tags %#x",
          fs.fpu_fsw >> 11 & 7, fs.fpu_ftw);
    CHECK(fs.fpu_fcw == 0x37f && fs.fpu_mxcsr == 0x1f80 && fs.fpu_ip != 0, "fcw %#x mxcsr %#x",
          fs.fpu_fcw, fs.fpu_mxcsr);
    CHECK(memcmp(fs.fpu_stmm0.mmst_reg, PI, 10) == 0, "st0 is pi");
    CHECK(memcmp(fs.fpu_stmm1.mmst_reg, ONE, 10) == 0, "st1 is 1");
    memcpy(fs.fpu_stmm0.mmst_reg, TWO, 10);
    KR(thread_set_state(t, x86_FLOAT_STATE64, (thread_state_t)&fs, x86_FLOAT_STATE64_COUNT));
    n = x86_FLOAT_STATE64_COUNT;
    KR(thread_get_state(t, x86_FLOAT_STATE64, (thread_state_t)&again, &n));
    CHECK(memcmp(&fs, &again, sizeof fs) == 0, "the FXSAVE area set is the one got");
    EXPECT_KR(KERN_INVALID_ARGUMENT, thread_set_state(t, x86_FLOAT_STATE64, (thread_state_t)&fs,
                                                      x86_FLOAT_STATE64_COUNT - 2));
}

static void debug_state(thread_t t)
{
    x86_debug_state64_t ds = {0}, got;
    mach_msg_type_number_t n = x86_DEBUG_STATE64_COUNT;
    KR(thread_get_state(t, x86_DEBUG_STATE64, (thread_state_t)&got, &n));
    CHECK(n == x86_DEBUG_STATE64_COUNT && got.dr7 == 0, "a thread starts with no breakpoints");

    ds.dr7 = 2;                                             /* G0: global, refused */
    EXPECT_KR(KERN_INVALID_ARGUMENT, thread_set_state(t, x86_DEBUG_STATE64,
                                                      (thread_state_t)&ds, n));
    ds.dr0 = 0xffff800000000000UL;                          /* a kernel address */
    ds.dr7 = 1;
    EXPECT_KR(KERN_INVALID_ARGUMENT, thread_set_state(t, x86_DEBUG_STATE64,
                                                      (thread_state_t)&ds, n));
    ds.dr0 = (uint64_t)(uintptr_t)&phase;
    ds.dr7 = 1 | 2u << 16;                                  /* R/W 10b: I/O, refused */
    EXPECT_KR(KERN_INVALID_ARGUMENT, thread_set_state(t, x86_DEBUG_STATE64,
                                                      (thread_state_t)&ds, n));

    ds = (x86_debug_state64_t){.dr0 = 0x1000, .dr1 = 0x2000, .dr2 = 0x3000, .dr3 = 0x4000,
                               .dr4 = 5, .dr5 = 6, .dr6 = 0, .dr7 = 0};   /* none enabled */
    KR(thread_set_state(t, x86_DEBUG_STATE64, (thread_state_t)&ds, n));
    KR(thread_get_state(t, x86_DEBUG_STATE64, (thread_state_t)&got, &n));
    CHECK(got.dr0 == 0x1000 && got.dr3 == 0x4000, "dr0 %#lx", (unsigned long)got.dr0);
    CHECK(got.dr4 == 0 && got.dr5 == 0 && got.dr7 == 0x400, "dr4 %lu dr5 %lu dr7 %#lx",
          (unsigned long)got.dr4, (unsigned long)got.dr5, (unsigned long)got.dr7);
}

int main(void)
{
    thread_t t;
    CHECK(x86_FLOAT_STATE64 == 5 && x86_DEBUG_STATE64 == 11, "Mach's flavor numbers");
    CHECK(x86_DEBUG_STATE64_COUNT == 16, "x86_DEBUG_STATE64_COUNT %d", x86_DEBUG_STATE64_COUNT);
    KR(normach_thread_spawn(mach_task_self(), worker, 0, 64 * 1024, &t));
    CHECK(wait_for(&phase, 1, 100000000), "the worker loaded the x87 stack");
    stop(t);
    float_state(t);
    debug_state(t);
    __atomic_store_n(&phase, 2, __ATOMIC_RELEASE);
    KR(thread_resume(t));
    CHECK(wait_for(&phase, 3, 100000000), "the worker stored its x87 stack");
    CHECK(memcmp(&top_out, TWO, 10) == 0, "the worker computed with the st0 set");
    CHECK(memcmp(&next_out, ONE, 10) == 0, "st1 unchanged");
    printf("ok   x86_FLOAT_STATE64: st0 set by thread_set_state reached the thread\n");

    stop(t);                                                /* the debug state ran with it */
    x86_debug_state64_t got;
    mach_msg_type_number_t n = x86_DEBUG_STATE64_COUNT;
    KR(thread_get_state(t, x86_DEBUG_STATE64, (thread_state_t)&got, &n));
    CHECK(got.dr1 == 0x2000 && got.dr2 == 0x3000 && got.dr7 == 0x400, "dr1 %#lx",
          (unsigned long)got.dr1);
    __atomic_store_n(&phase, 4, __ATOMIC_RELEASE);
    KR(thread_resume(t));
    mach_port_deallocate(mach_task_self(), t);
    printf("thread_states: PASS\n");
    return 0;
}
