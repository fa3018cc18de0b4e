/* Exceptions (docs/guest-abi.md, "Exceptions"). */
#ifndef _MACH_EXCEPTION_H_
#define _MACH_EXCEPTION_H_

#include <mach/message.h>

#define EXC_BAD_ACCESS 1            /* code[0]: KERN_INVALID_ADDRESS / KERN_PROTECTION_FAILURE, code[1]: address */
#define EXC_BAD_INSTRUCTION 2
#define EXC_ARITHMETIC 3

#define EXC_MASK_BAD_ACCESS (1U << EXC_BAD_ACCESS)
#define EXC_MASK_BAD_INSTRUCTION (1U << EXC_BAD_INSTRUCTION)
#define EXC_MASK_ARITHMETIC (1U << EXC_ARITHMETIC)
#define EXC_MASK_ALL (EXC_MASK_BAD_ACCESS | EXC_MASK_BAD_INSTRUCTION | EXC_MASK_ARITHMETIC)

#define EXCEPTION_DEFAULT 1         /* exception_raise: thread, task, exception, codes */

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
