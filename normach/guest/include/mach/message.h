/* Message layout in guest memory (docs/guest-abi.md, "Messages"). */
#ifndef _MACH_MESSAGE_H_
#define _MACH_MESSAGE_H_

#include <mach/mach_types.h>

typedef struct {
    mach_msg_bits_t msgh_bits;
    mach_msg_size_t msgh_size;
    mach_port_t msgh_remote_port;
    mach_port_t msgh_local_port;
    mach_port_name_t msgh_voucher_port;     /* always 0 */
    mach_msg_id_t msgh_id;
} mach_msg_header_t;

/* After the header when msgh_bits & MACH_MSGH_BITS_COMPLEX. */
typedef struct {
    mach_msg_size_t msgh_descriptor_count;
} mach_msg_body_t;

#define MACH_MSG_PORT_DESCRIPTOR 0
#define MACH_MSG_OOL_DESCRIPTOR 1
#define MACH_MSG_OOL_PORTS_DESCRIPTOR 2

/* All descriptors are 16 bytes with the type in byte 11; packed because a
   descriptor follows the 4-byte descriptor count (offset 28). */
typedef struct __attribute__((packed)) {
    mach_port_t name;
    uint32_t pad1;
    uint16_t pad2;
    uint8_t disposition;
    uint8_t type;
    uint32_t pad3;
} mach_msg_port_descriptor_t;

typedef struct __attribute__((packed)) {
    uint64_t address;
    uint8_t deallocate;
    uint8_t copy;
    uint8_t pad1;
    uint8_t type;
    uint32_t size;
} mach_msg_ool_descriptor_t;

typedef struct __attribute__((packed)) {
    uint64_t address;          /* u32 names */
    uint8_t deallocate;
    uint8_t copy;
    uint8_t disposition;
    uint8_t type;
    uint32_t count;
} mach_msg_ool_ports_descriptor_t;

typedef struct __attribute__((packed)) {
    uint8_t pad[11];
    uint8_t type;
    uint32_t pad2;
} mach_msg_type_descriptor_t;

typedef union {
    mach_msg_port_descriptor_t port;
    mach_msg_ool_descriptor_t out_of_line;
    mach_msg_ool_ports_descriptor_t ool_ports;
    mach_msg_type_descriptor_t type;
} mach_msg_descriptor_t;

_Static_assert(sizeof(mach_msg_header_t) == 24, "header is 24 bytes");
_Static_assert(sizeof(mach_msg_descriptor_t) == 16, "descriptors are 16 bytes");

/* Written after msgh_size bytes when rcv_size leaves room. */
typedef struct {
    uint32_t msgh_trailer_type;
    uint32_t msgh_trailer_size;
    uint32_t msgh_seqno;
    uint32_t msgh_pad;
} mach_msg_trailer_t;

#define MACH_MSG_TRAILER_SIZE ((mach_msg_size_t)sizeof(mach_msg_trailer_t))

/* A buffer large enough for a reply carrying a return code. */
typedef struct {
    mach_msg_header_t Head;
    kern_return_t RetCode;
    mach_msg_trailer_t trailer;
} mig_reply_error_t;

/* A MIG reply with no out-parameters: the header and the return code. */
typedef struct {
    mach_msg_header_t Head;
    kern_return_t RetCode;
} mig_reply_header_t;

mach_msg_return_t mach_msg(mach_msg_header_t *msg, mach_msg_option_t option,
                           mach_msg_size_t send_size, mach_msg_size_t rcv_size,
                           mach_port_name_t rcv_name, mach_msg_timeout_t timeout,
                           mach_port_name_t notify);
mach_msg_return_t mach_msg_trap(mach_msg_header_t *msg, mach_msg_option_t option,
                                mach_msg_size_t send_size, mach_msg_size_t rcv_size,
                                mach_port_name_t rcv_name, mach_msg_timeout_t timeout);

#endif /* _MACH_MESSAGE_H_ */
