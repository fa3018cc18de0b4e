/*
 * The MIG runtime (docs/mig.md): what the stubs `normach mig` writes call, and
 * the server loop.  Messages are packed with a cursor: every inline item is
 * padded to 4 bytes, descriptors are 16 bytes (docs/guest-abi.md, "Messages").
 */
#ifndef _MACH_MIG_H_
#define _MACH_MIG_H_

#include <mach.h>
#include <string.h>

typedef mach_msg_option_t mach_msg_options_t;
typedef void (*mig_stub_routine_t)(mach_msg_header_t *InHeadP, mach_msg_header_t *OutHeadP);
typedef boolean_t (*mig_demux_t)(mach_msg_header_t *InHeadP, mach_msg_header_t *OutHeadP);

/* A reply port for one call: a fresh receive right (mig_put_reply_port destroys
   it; normach has no per-thread storage to keep one in). */
mach_port_t mig_get_reply_port(void);
void mig_dealloc_reply_port(mach_port_t reply_port);
void mig_put_reply_port(mach_port_t reply_port);

/* Receive on rcv_name, hand each request to demux, send its reply (none for
   MIG_NO_REPLY or a request without a reply port); a request whose routine
   failed is destroyed (its rights and memory released).  Returns only on a
   receive error. */
mach_msg_return_t mach_msg_server(mig_demux_t demux, mach_msg_size_t max_size,
                                  mach_port_t rcv_name, mach_msg_options_t options);
/* One request and its reply. */
mach_msg_return_t mach_msg_server_once(mig_demux_t demux, mach_msg_size_t max_size,
                                       mach_port_t rcv_name, mach_msg_options_t options);
/* Release the rights and out-of-line memory a received message carries. */
void mach_msg_destroy(mach_msg_header_t *msg);

/* -- packing (the generated stubs) -------------------------------------------------- */

static inline void mig_put(char **cur, const void *src, size_t n)
{
    memcpy(*cur, src, n);
    memset(*cur + n, 0, (4 - (n & 3)) & 3);
    *cur += (n + 3) & ~(size_t)3;
}

static inline void mig_put_u32(char **cur, uint32_t v)
{
    mig_put(cur, &v, 4);
}

static inline void mig_put_port(char **cur, mach_port_t name, mach_msg_type_name_t disposition)
{
    mach_msg_port_descriptor_t d;
    memset(&d, 0, sizeof d);
    d.name = name;
    d.disposition = (uint8_t)disposition;
    d.type = MACH_MSG_PORT_DESCRIPTOR;
    mig_put(cur, &d, sizeof d);
}

static inline void mig_put_ool(char **cur, const void *address, uint32_t size, boolean_t dealloc)
{
    mach_msg_ool_descriptor_t d;
    memset(&d, 0, sizeof d);
    d.address = (uint64_t)(uintptr_t)address;
    d.deallocate = dealloc != 0;
    d.copy = 1;                                    /* MACH_MSG_VIRTUAL_COPY */
    d.type = MACH_MSG_OOL_DESCRIPTOR;
    d.size = size;
    mig_put(cur, &d, sizeof d);
}

static inline void mig_put_ool_ports(char **cur, const void *address, uint32_t count,
                                     mach_msg_type_name_t disposition, boolean_t dealloc)
{
    mach_msg_ool_ports_descriptor_t d;
    memset(&d, 0, sizeof d);
    d.address = (uint64_t)(uintptr_t)address;
    d.deallocate = dealloc != 0;
    d.copy = 1;
    d.disposition = (uint8_t)disposition;
    d.type = MACH_MSG_OOL_PORTS_DESCRIPTOR;
    d.count = count;
    mig_put(cur, &d, sizeof d);
}

/* Reading: 0, or -1 if the item would run past `end` (the message is short). */
static inline int mig_get(const char **cur, const char *end, void *dst, size_t n)
{
    size_t padded = (n + 3) & ~(size_t)3;
    if ((size_t)(end - *cur) < padded)
        return -1;
    memcpy(dst, *cur, n);
    *cur += padded;
    return 0;
}

static inline int mig_get_u32(const char **cur, const char *end, uint32_t *v)
{
    return mig_get(cur, end, v, 4);
}

/* A descriptor of `type` (MACH_MSG_*_DESCRIPTOR): 0, -1 short, -2 another type. */
static inline int mig_get_desc(const char **cur, const char *end, unsigned type,
                               mach_msg_descriptor_t *d)
{
    if (mig_get(cur, end, d, sizeof *d) != 0)
        return -1;
    return d->type.type == type ? 0 : -2;
}

/* A c_string[max] (fixed: max bytes) or c_string[*:max] (variable: a count, then
   the characters and their NUL). */
static inline void mig_put_string(char **cur, const char *s, uint32_t max, int variable)
{
    uint32_t n = 0, total;
    while (n + 1 < max && s[n])
        n++;
    if (variable)
        mig_put_u32(cur, n + 1);
    total = variable ? n + 1 : max;
    memcpy(*cur, s, n);
    memset(*cur + n, 0, ((total + 3) & ~3u) - n);
    *cur += (total + 3) & ~3u;
}

static inline int mig_get_string(const char **cur, const char *end, char *dst, uint32_t max,
                                 int variable)
{
    uint32_t n = max;
    if (variable && (mig_get_u32(cur, end, &n) != 0 || n == 0 || n > max))
        return -1;
    if (mig_get(cur, end, dst, n) != 0)
        return -1;
    dst[n - 1] = 0;
    return 0;
}

#endif /* _MACH_MIG_H_ */
