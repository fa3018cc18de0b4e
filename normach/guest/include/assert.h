/* <assert.h> of the normach guest libc. */
#ifndef _ASSERT_H_
#define _ASSERT_H_

__attribute__((noreturn)) void __assert_fail(const char *expr, const char *file, int line,
                                             const char *func);

#ifdef NDEBUG
#define assert(e) ((void)0)
#else
#define assert(e) ((e) ? (void)0 : __assert_fail(#e, __FILE__, __LINE__, __func__))
#endif

#endif /* _ASSERT_H_ */
