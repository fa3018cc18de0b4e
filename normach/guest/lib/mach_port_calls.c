/* Kernel-call stubs of the mach_port subsystem (3200); see mach_calls.c. */
#include "kcall.h"

kern_return_t mach_port_names(ipc_space_t task, mach_port_name_array_t *names,
                              mach_msg_type_number_t *namesCnt, mach_port_type_array_t *types,
                              mach_msg_type_number_t *typesCnt)
{
    return KCALL(mach_port_names, W(task), P(names), P(namesCnt), P(types), P(typesCnt));
}

kern_return_t mach_port_type(ipc_space_t task, mach_port_name_t name, mach_port_type_t *ptype)
{
    OUT(mach_port_type, 0) out = 0;
    kern_return_t kr = KCALL(mach_port_type, W(task), W(name), P(&out));
    if (kr == KERN_SUCCESS)
        *ptype = (mach_port_type_t)out;
    return kr;
}

kern_return_t mach_port_rename(ipc_space_t task, mach_port_name_t old_name,
                               mach_port_name_t new_name)
{
    return KCALL(mach_port_rename, W(task), W(old_name), W(new_name));
}

kern_return_t mach_port_allocate_name(ipc_space_t task, mach_port_right_t right,
                                      mach_port_name_t name)
{
    return KCALL(mach_port_allocate_name, W(task), W(right), W(name));
}

kern_return_t mach_port_allocate(ipc_space_t task, mach_port_right_t right,
                                 mach_port_name_t *name)
{
    OUT(mach_port_allocate, 0) out = 0;
    kern_return_t kr = KCALL(mach_port_allocate, W(task), W(right), P(&out));
    if (kr == KERN_SUCCESS)
        *name = (mach_port_name_t)out;
    return kr;
}

kern_return_t mach_port_destroy(ipc_space_t task, mach_port_name_t name)
{
    return KCALL(mach_port_destroy, W(task), W(name));
}

kern_return_t mach_port_deallocate(ipc_space_t task, mach_port_name_t name)
{
    return KCALL(mach_port_deallocate, W(task), W(name));
}

kern_return_t mach_port_get_refs(ipc_space_t task, mach_port_name_t name,
                                 mach_port_right_t right, mach_port_urefs_t *refs)
{
    OUT(mach_port_get_refs, 0) out = 0;
    kern_return_t kr = KCALL(mach_port_get_refs, W(task), W(name), W(right), P(&out));
    if (kr == KERN_SUCCESS)
        *refs = (mach_port_urefs_t)out;
    return kr;
}

kern_return_t mach_port_mod_refs(ipc_space_t task, mach_port_name_t name,
                                 mach_port_right_t right, mach_port_delta_t delta)
{
    return KCALL(mach_port_mod_refs, W(task), W(name), W(right), S(delta));
}

kern_return_t mach_port_set_mscount(ipc_space_t task, mach_port_name_t name,
                                    mach_port_mscount_t mscount)
{
    return KCALL(mach_port_set_mscount, W(task), W(name), W(mscount));
}

kern_return_t mach_port_get_set_status(ipc_space_t task, mach_port_name_t name,
                                       mach_port_name_array_t *members,
                                       mach_msg_type_number_t *membersCnt)
{
    return KCALL(mach_port_get_set_status, W(task), W(name), P(members), P(membersCnt));
}

kern_return_t mach_port_move_member(ipc_space_t task, mach_port_name_t member,
                                    mach_port_name_t after)
{
    return KCALL(mach_port_move_member, W(task), W(member), W(after));
}

kern_return_t mach_port_request_notification(ipc_space_t task, mach_port_name_t name,
                                             mach_msg_id_t msgid, mach_port_mscount_t sync,
                                             mach_port_t notify,
                                             mach_msg_type_name_t notifyPoly,
                                             mach_port_t *previous)
{
    return KCALL(mach_port_request_notification, W(task), W(name), S(msgid), W(sync),
                 W(notify), W(notifyPoly), P(previous));
}

kern_return_t mach_port_insert_right(ipc_space_t task, mach_port_name_t name, mach_port_t poly,
                                     mach_msg_type_name_t polyPoly)
{
    return KCALL(mach_port_insert_right, W(task), W(name), W(poly), W(polyPoly));
}

kern_return_t mach_port_extract_right(ipc_space_t task, mach_port_name_t name,
                                      mach_msg_type_name_t msgt_name, mach_port_t *poly,
                                      mach_msg_type_name_t *polyPoly)
{
    return KCALL(mach_port_extract_right, W(task), W(name), W(msgt_name), P(poly),
                 P(polyPoly));
}

kern_return_t mach_port_set_seqno(ipc_space_t task, mach_port_name_t name,
                                  mach_port_seqno_t seqno)
{
    return KCALL(mach_port_set_seqno, W(task), W(name), W(seqno));
}

kern_return_t mach_port_get_attributes(ipc_space_t task, mach_port_name_t name,
                                       mach_port_flavor_t flavor, mach_port_info_t port_info_out,
                                       mach_msg_type_number_t *port_info_outCnt)
{
    return KCALL(mach_port_get_attributes, W(task), W(name), S(flavor), P(port_info_out),
                 P(port_info_outCnt));
}

kern_return_t mach_port_set_attributes(ipc_space_t task, mach_port_name_t name,
                                       mach_port_flavor_t flavor, mach_port_info_t port_info,
                                       mach_msg_type_number_t port_infoCnt)
{
    return KCALL(mach_port_set_attributes, W(task), W(name), S(flavor), P(port_info),
                 W(port_infoCnt));
}
