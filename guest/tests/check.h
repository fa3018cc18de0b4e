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

/* Answers the exception_raise request `req` with `code` (KERN_SUCCESS: the thread
   resumes) on its reply port. */
static inline mach_msg_return_t exc_reply(const exception_raise_request_t *req,
                                          kern_return_t code)
{
    exception_raise_reply_t reply = {
        .Head = { .msgh_bits = MACH_MSGH_BITS(MACH_MSGH_BITS_REMOTE(req->Head.msgh_bits), 0),
                  .msgh_size = sizeof reply, .msgh_remote_port = req->Head.msgh_remote_port,
                  .msgh_id = MACH_EXCEPTION_RAISE_REPLY_ID },
        .RetCode = code };
    return mach_msg(&reply.Head, MACH_SEND_MSG, sizeof reply, 0, MACH_PORT_NULL, 0, 0);
}

#endif /* _GUEST_TESTS_CHECK_H_ */
