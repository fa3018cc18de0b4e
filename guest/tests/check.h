/* Helpers of the guest test programs: exit non-zero with a message on failure. */
#ifndef _GUEST_TESTS_CHECK_H_
#define _GUEST_TESTS_CHECK_H_

#include <mach.h>
#include <stdio.h>
#include <stdlib.h>

/* A call that must return KERN_SUCCESS. */
#define KR(call)                                                                       \
    do {                                                                               \
        kern_return_t kr_ = (call);                                                    \
        if (kr_ != KERN_SUCCESS) {                                                     \
            printf("FAIL %s:%d: %s returned %d (%#x)\n", __FILE__, __LINE__, #call,    \
                   kr_, (unsigned)kr_);                                                \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

/* A call that must return `code`. */
#define EXPECT_KR(code, call)                                                          \
    do {                                                                               \
        kern_return_t kr_ = (call);                                                    \
        if (kr_ != (code)) {                                                           \
            printf("FAIL %s:%d: %s returned %d (%#x), expected %s\n", __FILE__,        \
                   __LINE__, #call, kr_, (unsigned)kr_, #code);                        \
            exit(1);                                                                   \
        }                                                                              \
        printf("ok   %s -> %s\n", #call, #code);                                       \
    } while (0)

#define CHECK(cond, ...)                                                               \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                     \
            printf(__VA_ARGS__);                                                       \
            printf("\n");                                                              \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

/* Yields until *flag == value (bounded: a lost wake-up fails instead of hanging). */
static inline int wait_for(volatile uint64_t *flag, uint64_t value, long max_yields)
{
    for (long i = 0; i < max_yields; i++) {
        if (__atomic_load_n(flag, __ATOMIC_ACQUIRE) == value)
            return 1;
        swtch_pri(0);
    }
    return __atomic_load_n(flag, __ATOMIC_ACQUIRE) == value;
}

#endif /* _GUEST_TESTS_CHECK_H_ */
