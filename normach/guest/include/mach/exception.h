/* Exceptions (docs/guest-abi.md, "Exceptions"). */
#ifndef _MACH_EXCEPTION_H_
#define _MACH_EXCEPTION_H_

#include <mach/message.h>

#define EXC_BAD_ACCESS 1            /* code[0]: KERN_INVALID_ADDRESS / KERN_PROTECTION_FAILURE, code[1]: address */
#define EXC_BAD_INSTRUCTION 2       /* code[0]: EXC_I386_INVOP / EXC_I386_GPFLT / the vector, code[1]: rip */
#define EXC_ARITHMETIC 3            /* code[0]: EXC_I386_DIV, code[1]: rip */
#define EXC_EMULATION 4             /* (never raised: no emulation vector) */
#define EXC_SOFTWARE 5              /* (never raised) */
#define EXC_BREAKPOINT 6            /* code[0]: EXC_I386_BPT (int3), code[1]: rip */
#define EXC_SYSCALL 7               /* (never raised: no system call emulation) */
#define EXC_MACH_SYSCALL 8          /* (never raised) */
#define EXC_RPC_ALERT 9             /* (never raised) */
#define FIRST_EXCEPTION 1           /* 0 is not an exception */
#define EXC_TYPES_COUNT 10          /* (mach/i386/exception.h: including the illegal 0) */

#define EXC_MASK_BAD_ACCESS (1U << EXC_BAD_ACCESS)
#define EXC_MASK_BAD_INSTRUCTION (1U << EXC_BAD_INSTRUCTION)
#define EXC_MASK_ARITHMETIC (1U << EXC_ARITHMETIC)
#define EXC_MASK_EMULATION (1U << EXC_EMULATION)
#define EXC_MASK_SOFTWARE (1U << EXC_SOFTWARE)
#define EXC_MASK_BREAKPOINT (1U << EXC_BREAKPOINT)
#define EXC_MASK_SYSCALL (1U << EXC_SYSCALL)
#define EXC_MASK_MACH_SYSCALL (1U << EXC_MACH_SYSCALL)
#define EXC_MASK_RPC_ALERT (1U << EXC_RPC_ALERT)
#define EXC_MASK_MACHINE 0          /* i386: no machine-dependent exception types */
#define EXC_MASK_ALL (EXC_MASK_BAD_ACCESS | EXC_MASK_BAD_INSTRUCTION | EXC_MASK_ARITHMETIC \
                      | EXC_MASK_EMULATION | EXC_MASK_SOFTWARE | EXC_MASK_BREAKPOINT       \
                      | EXC_MASK_SYSCALL | EXC_MASK_MACH_SYSCALL | EXC_MASK_RPC_ALERT      \
                      | EXC_MASK_MACHINE)

typedef exception_mask_t *exception_mask_array_t;
typedef exception_behavior_t *exception_behavior_array_t;
typedef thread_state_flavor_t *exception_flavor_array_t;
typedef mach_port_t *exception_port_array_t;

/* The codes of the i386 exceptions, as Mach numbers them (mach/i386/exception.h). */
#define EXC_I386_INVOP 1            /* EXC_BAD_INSTRUCTION: an invalid opcode */
#define EXC_I386_INVTSSFLT 10
#define EXC_I386_SEGNPFLT 11
#define EXC_I386_STKFLT 12
#define EXC_I386_GPFLT 13           /* EXC_BAD_INSTRUCTION: a general protection fault */
#define EXC_I386_ALIGNFLT 17
#define EXC_I386_DIV 1              /* EXC_ARITHMETIC: divide error */
#define EXC_I386_INTO 2
#define EXC_I386_NOEXT 3
#define EXC_I386_EXTOVR 4
#define EXC_I386_EXTERR 5
#define EXC_I386_EMERR 6
#define EXC_I386_BOUND 7
#define EXC_I386_SSEEXTERR 8
#define EXC_I386_SGL 1              /* EXC_BREAKPOINT: single step */
#define EXC_I386_BPT 2              /* EXC_BREAKPOINT: int3 */

/* The i386 trap vectors (code[0] of an EXC_BAD_INSTRUCTION for other vectors). */
#define EXC_I386_DIVERR 0
#define EXC_I386_SGLSTP 1
#define EXC_I386_NMIFLT 2
#define EXC_I386_BPTFLT 3
#define EXC_I386_INTOFLT 4
#define EXC_I386_BOUNDFLT 5
#define EXC_I386_INVOPFLT 6
#define EXC_I386_NOEXTFLT 7
#define EXC_I386_DBLFLT 8
#define EXC_I386_EXTOVRFLT 9
#define EXC_I386_PGFLT 14
#define EXC_I386_EXTERRFLT 16
#define EXC_I386_ENOEXTFLT 32
#define EXC_I386_ENDPERR 33

#define EXCEPTION_DEFAULT 1         /* exception_raise: thread, task, exception, codes */
#define EXCEPTION_STATE 2           /* (accepted; the message sent is EXCEPTION_DEFAULT's) */
#define EXCEPTION_STATE_IDENTITY 3  /* (accepted; the message sent is EXCEPTION_DEFAULT's) */

#define MACH_EXCEPTION_RAISE_ID 2401
#define MACH_EXCEPTION_RAISE_REPLY_ID 2501
#define EXCEPTION_CODE_MAX 2

/* exception_raise as received: thread and task port descriptors, then inline data. */
typedef struct __attribute__((packed, aligned(4))) {
    mach_msg_header_t Head;
    mach_msg_body_t msgh_body;
    mach_msg_port_descriptor_t thread;
    mach_msg_port_descriptor_t task;
    exception_type_t exception;
    mach_msg_type_number_t codeCnt;
    exception_data_type_t code[EXCEPTION_CODE_MAX];
} exception_raise_request_t;

/* What a handler sends back to msgh_remote_port (a send-once right). */
typedef struct {
    mach_msg_header_t Head;
    kern_return_t RetCode;
} exception_raise_reply_t;

#endif /* _MACH_EXCEPTION_H_ */
