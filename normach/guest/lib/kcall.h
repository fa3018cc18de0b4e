/* Packing of kernel calls (docs/guest-abi.md, "Kernel calls"). Private to lib/. */
#ifndef _NORMACH_KCALL_H_
#define _NORMACH_KCALL_H_

#include <mach.h>
#include "syscall.h"

#define W(x) ((uint64_t)(x))                       /* an int, bool or name */
#define S(x) ((uint64_t)(int64_t)(x))              /* a signed int, sign-extended */
#define P(x) ((uint64_t)(uintptr_t)(x))            /* a guest pointer */

/* Packs the arguments, checks their number against the routine table, traps. */
#define KCALL(routine, ...)                                                            \
    ({                                                                                 \
        uint64_t args_[] = {__VA_ARGS__};                                              \
        _Static_assert(sizeof args_ / sizeof args_[0] == MACH_NWORDS_##routine,        \
                       #routine ": argument words differ from kern/routines.py");      \
        normach_kernel_call(MACH_ID_##routine, args_, sizeof args_ / sizeof args_[0]); \
    })

/* The C type the kernel writes through for scalar out number `i`. */
#define OUT(routine, i) MACH_OUTTYPE_##routine##_##i

#endif /* _NORMACH_KCALL_H_ */
