/* The MIG runtime: reply ports, the server loop, message destruction (<mach/mig.h>). */
#include <mach/mig.h>

mach_port_t mig_get_reply_port(void)
{
    return mach_reply_port();
}

void mig_dealloc_reply_port(mach_port_t reply_port)
{
    if (reply_port != MACH_PORT_NULL)
        mach_port_destroy(mach_task_self(), reply_port);
}

void mig_put_reply_port(mach_port_t reply_port)
{
    mig_dealloc_reply_port(reply_port);
}

static void destroy_right(mach_port_t name, mach_msg_type_name_t type)
{
    if (name == MACH_PORT_NULL || name == MACH_PORT_DEAD)
        return;
    if (type == MACH_MSG_TYPE_PORT_RECEIVE)
        mach_port_mod_refs(mach_task_self(), name, MACH_PORT_RIGHT_RECEIVE, -1);
    else if (type == MACH_MSG_TYPE_PORT_SEND || type == MACH_MSG_TYPE_PORT_SEND_ONCE)
        mach_port_deallocate(mach_task_self(), name);
}

static void destroy_descriptor(const mach_msg_descriptor_t *d)
{
    if (d->type.type == MACH_MSG_PORT_DESCRIPTOR) {
        destroy_right(d->port.name, d->port.disposition);
    } else if (d->type.type == MACH_MSG_OOL_DESCRIPTOR) {
        if (d->out_of_line.size)
            vm_deallocate(mach_task_self(), d->out_of_line.address, d->out_of_line.size);
    } else if (d->type.type == MACH_MSG_OOL_PORTS_DESCRIPTOR) {
        const mach_port_t *names = (const mach_port_t *)(uintptr_t)d->ool_ports.address;
        for (uint32_t i = 0; i < d->ool_ports.count; i++)
            destroy_right(names[i], d->ool_ports.disposition);
        if (d->ool_ports.count)
            vm_deallocate(mach_task_self(), d->ool_ports.address,
                          d->ool_ports.count * sizeof(mach_port_t));
    }
}

void mach_msg_destroy(mach_msg_header_t *msg)
{
    destroy_right(msg->msgh_remote_port, MACH_MSGH_BITS_REMOTE(msg->msgh_bits));
    if (!(msg->msgh_bits & MACH_MSGH_BITS_COMPLEX))
        return;
    const char *cur = (const char *)(msg + 1), *end = (const char *)msg + msg->msgh_size;
    uint32_t count;
    if (mig_get_u32(&cur, end, &count) != 0)
        return;
    for (uint32_t i = 0; i < count; i++) {
        mach_msg_descriptor_t d;
        if (mig_get(&cur, end, &d, sizeof d) != 0)
            return;
        destroy_descriptor(&d);
    }
}

/* Send the reply the demux left in `reply`, or destroy the request it failed. */
static void answer(mach_msg_header_t *request, mach_msg_header_t *reply, mach_msg_options_t options)
{
    kern_return_t kr = ((mig_reply_error_t *)reply)->RetCode;
    boolean_t simple_reply = !(reply->msgh_bits & MACH_MSGH_BITS_COMPLEX);
    if (simple_reply && kr != KERN_SUCCESS && kr != MIG_NO_REPLY) {
        request->msgh_remote_port = MACH_PORT_NULL;        /* the reply right is used below */
        mach_msg_destroy(request);
    }
    if ((simple_reply && kr == MIG_NO_REPLY) || reply->msgh_remote_port == MACH_PORT_NULL)
        return;
    mach_msg_return_t mr = mach_msg(reply, MACH_SEND_MSG | (options & MACH_SEND_TIMEOUT),
                                    reply->msgh_size, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL);
    if (mr != MACH_MSG_SUCCESS)
        mach_msg_destroy(reply);
}

static mach_msg_return_t serve(mig_demux_t demux, mach_msg_size_t max_size,
                               mach_port_t rcv_name, mach_msg_options_t options, int once)
{
    mach_msg_size_t size = max_size + MACH_MSG_TRAILER_SIZE;
    vm_address_t bufs = 0;
    kern_return_t kr = vm_allocate(mach_task_self(), &bufs, 2 * (vm_size_t)size, TRUE);
    if (kr != KERN_SUCCESS)
        return kr;
    mach_msg_header_t *request = (mach_msg_header_t *)(uintptr_t)bufs;
    mach_msg_header_t *reply = (mach_msg_header_t *)(uintptr_t)(bufs + size);
    mach_msg_return_t mr;
    do {
        mr = mach_msg(request, MACH_RCV_MSG | (options & MACH_RCV_TIMEOUT), 0, size, rcv_name,
                      0, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS)
            break;
        (void)demux(request, reply);
        answer(request, reply, options);
    } while (!once);
    vm_deallocate(mach_task_self(), bufs, 2 * (vm_size_t)size);
    return mr;
}

mach_msg_return_t mach_msg_server(mig_demux_t demux, mach_msg_size_t max_size,
                                  mach_port_t rcv_name, mach_msg_options_t options)
{
    return serve(demux, max_size, rcv_name, options, 0);
}

mach_msg_return_t mach_msg_server_once(mig_demux_t demux, mach_msg_size_t max_size,
                                       mach_port_t rcv_name, mach_msg_options_t options)
{
    return serve(demux, max_size, rcv_name, options, 1);
}
