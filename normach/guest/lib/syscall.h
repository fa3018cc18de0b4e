/* The `syscall` instruction (docs/guest-abi.md, "Traps"): rax = trap number,
   args in rdi, rsi, rdx, r10, r8, r9; rcx and r11 clobbered. Private to lib/. */
#ifndef _NORMACH_SYSCALL_H_
#define _NORMACH_SYSCALL_H_

#include <stdint.h>

static inline long normach_trap0(long n)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n) : "rcx", "r11", "memory");
    return ret;
}

static inline long normach_trap1(long n, long a1)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a1) : "rcx", "r11", "memory");
    return ret;
}

static inline long normach_trap2(long n, long a1, long a2)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a1), "S"(a2) : "rcx", "r11", "memory");
    return ret;
}

static inline long normach_trap6(long n, long a1, long a2, long a3, long a4, long a5, long a6)
{
    long ret;
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

/* A kernel call: trap number = the routine's MIG id, rdi = u64 array, rsi = words. */
static inline int normach_kernel_call(long id, const uint64_t *args, long nwords)
{
    return (int)normach_trap2(id, (long)args, nwords);
}

#endif /* _NORMACH_SYSCALL_H_ */
