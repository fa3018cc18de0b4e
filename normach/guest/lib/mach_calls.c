/*
 * Kernel-call stubs: each packs the u64 argument array of docs/guest-abi.md
 * ("Kernel calls") in the order of kern/routines.py and traps with the
 * routine's MIG id. The generated MACH_NWORDS_* / MACH_OUTTYPE_* check the
 * packing against the routine table at compile time.
 */
#include <string.h>

#include "kcall.h"

/* Routines promised by the kernel side but possibly not yet in the table. */
#ifndef MACH_ID_task_set_exception_ports
#define MACH_ID_task_set_exception_ports 2603
#define MACH_NWORDS_task_set_exception_ports 5
#endif
#ifndef MACH_ID_thread_set_exception_ports
#define MACH_ID_thread_set_exception_ports 2604
#define MACH_NWORDS_thread_set_exception_ports 5
#endif

/* -- tasks ------------------------------------------------------------------------- */

kern_return_t task_create(task_t parent_task, ledger_array_t ledgers,
                          mach_msg_type_number_t ledgersCnt, boolean_t inherit_memory,
                          task_t *child_task)
{
    (void)ledgers;
    (void)ledgersCnt;
    return KCALL(task_create, W(parent_task), W(inherit_memory != 0), P(child_task));
}

kern_return_t task_terminate(task_t target_task)
{
    return KCALL(task_terminate, W(target_task));
}

kern_return_t task_threads(task_t target_task, thread_act_array_t *act_list,
                           mach_msg_type_number_t *act_listCnt)
{
    return KCALL(task_threads, W(target_task), P(act_list), P(act_listCnt));
}

kern_return_t task_suspend(task_t target_task)
{
    return KCALL(task_suspend, W(target_task));
}

kern_return_t task_resume(task_t target_task)
{
    return KCALL(task_resume, W(target_task));
}

kern_return_t task_get_special_port(task_t task, int which_port, mach_port_t *special_port)
{
    return KCALL(task_get_special_port, W(task), S(which_port), P(special_port));
}

kern_return_t task_set_special_port(task_t task, int which_port, mach_port_t special_port)
{
    return KCALL(task_set_special_port, W(task), S(which_port), W(special_port));
}

kern_return_t task_info(task_t target_task, task_flavor_t flavor, task_info_t task_info_out,
                        mach_msg_type_number_t *task_info_outCnt)
{
    return KCALL(task_info, W(target_task), S(flavor), P(task_info_out), P(task_info_outCnt));
}

kern_return_t mach_ports_register(task_t target_task, mach_port_array_t init_port_set,
                                  mach_msg_type_number_t init_port_setCnt)
{
    return KCALL(mach_ports_register, W(target_task), P(init_port_set), W(init_port_setCnt));
}

kern_return_t mach_ports_lookup(task_t target_task, mach_port_array_t *init_port_set,
                                mach_msg_type_number_t *init_port_setCnt)
{
    return KCALL(mach_ports_lookup, W(target_task), P(init_port_set), P(init_port_setCnt));
}

kern_return_t task_set_limits(task_t target_task, vm_size_t vm_max, natural_t threads_max)
{
    return KCALL(task_set_limits, W(target_task), W(vm_max), W(threads_max));
}

kern_return_t task_set_exception_ports(task_t task, exception_mask_t exception_mask,
                                       mach_port_t new_port, exception_behavior_t behavior,
                                       thread_state_flavor_t new_flavor)
{
    return KCALL(task_set_exception_ports, W(task), W(exception_mask), W(new_port),
                 S(behavior), S(new_flavor));
}

/* -- threads ----------------------------------------------------------------------- */

kern_return_t thread_create(task_t parent_task, thread_act_t *child_act)
{
    return KCALL(thread_create, W(parent_task), P(child_act));
}

kern_return_t thread_terminate(thread_act_t target_act)
{
    return KCALL(thread_terminate, W(target_act));
}

kern_return_t thread_suspend(thread_act_t target_act)
{
    return KCALL(thread_suspend, W(target_act));
}

kern_return_t thread_resume(thread_act_t target_act)
{
    return KCALL(thread_resume, W(target_act));
}

kern_return_t thread_abort(thread_act_t target_act)
{
    return KCALL(thread_abort, W(target_act));
}

kern_return_t host_info(host_t host, host_flavor_t flavor, host_info_t host_info_out,
                        mach_msg_type_number_t *host_info_outCnt)
{
    return KCALL(host_info, W(host), S(flavor), P(host_info_out), P(host_info_outCnt));
}

kern_return_t host_kernel_version(host_t host, kernel_version_t kernel_version)
{
    pointer_t text = 0;
    mach_msg_type_number_t count = 0;
    kern_return_t kr = KCALL(host_kernel_version, W(host), P(&text), P(&count));
    if (kr != KERN_SUCCESS)
        return kr;
    size_t n = count < sizeof(kernel_version_t) - 1 ? count : sizeof(kernel_version_t) - 1;
    memcpy(kernel_version, (const void *)text, n);
    kernel_version[n] = '\0';
    vm_deallocate(mach_task_self(), text, count);
    return KERN_SUCCESS;
}

kern_return_t task_set_name(task_t task, const char *name)
{
    return KCALL(task_set_name, W(task), P(name), W(strlen(name)));
}

kern_return_t host_get_time(host_t host, time_value_t *current_time)
{
    OUT(host_get_time, 0) s = 0;
    OUT(host_get_time, 1) us = 0;
    kern_return_t kr = KCALL(host_get_time, W(host), P(&s), P(&us));
    if (kr == KERN_SUCCESS) {
        current_time->seconds = (integer_t)s;
        current_time->microseconds = (integer_t)us;
    }
    return kr;
}

kern_return_t host_get_clock_service(host_t host, clock_id_t clock_id, clock_serv_t *clock_serv)
{
    return KCALL(host_get_clock_service, W(host), S(clock_id), P(clock_serv));
}

kern_return_t clock_get_time(clock_serv_t clock_serv, mach_timespec_t *cur_time)
{
    OUT(clock_get_time, 0) s = 0;
    OUT(clock_get_time, 1) ns = 0;
    kern_return_t kr = KCALL(clock_get_time, W(clock_serv), P(&s), P(&ns));
    if (kr == KERN_SUCCESS) {
        cur_time->tv_sec = (unsigned int)s;
        cur_time->tv_nsec = (clock_res_t)ns;
    }
    return kr;
}

kern_return_t clock_sleep(mach_port_t clock, sleep_type_t sleep_type, mach_timespec_t sleep_time,
                          mach_timespec_t *wakeup_time)
{
    OUT(clock_sleep, 0) s = 0;
    OUT(clock_sleep, 1) ns = 0;
    kern_return_t kr = KCALL(clock_sleep, W(clock), S(sleep_type), W(sleep_time.tv_sec),
                             S(sleep_time.tv_nsec), P(&s), P(&ns));
    if (kr == KERN_SUCCESS && wakeup_time != NULL) {
        wakeup_time->tv_sec = (unsigned int)s;
        wakeup_time->tv_nsec = (clock_res_t)ns;
    }
    return kr;
}

kern_return_t thread_get_state(thread_act_t target_act, thread_state_flavor_t flavor,
                               thread_state_t old_state, mach_msg_type_number_t *old_stateCnt)
{
    return KCALL(thread_get_state, W(target_act), S(flavor), P(old_state), P(old_stateCnt));
}

kern_return_t thread_set_state(thread_act_t target_act, thread_state_flavor_t flavor,
                               thread_state_t new_state, mach_msg_type_number_t new_stateCnt)
{
    return KCALL(thread_set_state, W(target_act), S(flavor), P(new_state), W(new_stateCnt));
}

kern_return_t thread_info(thread_act_t target_act, thread_flavor_t flavor,
                          thread_info_t thread_info_out,
                          mach_msg_type_number_t *thread_info_outCnt)
{
    return KCALL(thread_info, W(target_act), S(flavor), P(thread_info_out),
                 P(thread_info_outCnt));
}

kern_return_t thread_set_exception_ports(thread_act_t thread, exception_mask_t exception_mask,
                                         mach_port_t new_port, exception_behavior_t behavior,
                                         thread_state_flavor_t new_flavor)
{
    return KCALL(thread_set_exception_ports, W(thread), W(exception_mask), W(new_port),
                 S(behavior), S(new_flavor));
}

kern_return_t thread_wire(host_priv_t host_priv, thread_act_t thread, boolean_t wired)
{
    return KCALL(thread_wire, W(host_priv), W(thread), W(wired != 0));
}

/* -- virtual memory ---------------------------------------------------------------- */

kern_return_t vm_wire(host_priv_t host_priv, vm_task_t task, vm_address_t address,
                      vm_size_t size, vm_prot_t desired_access)
{
    return KCALL(vm_wire, W(host_priv), W(task), W(address), W(size), S(desired_access));
}

kern_return_t vm_allocate(vm_task_t target_task, vm_address_t *address, vm_size_t size,
                          boolean_t anywhere)
{
    OUT(vm_allocate, 0) out = 0;
    kern_return_t kr = KCALL(vm_allocate, W(target_task), W(*address), W(size),
                             W(anywhere != 0), P(&out));
    if (kr == KERN_SUCCESS)
        *address = (vm_address_t)out;
    return kr;
}

kern_return_t vm_deallocate(vm_task_t target_task, vm_address_t address, vm_size_t size)
{
    return KCALL(vm_deallocate, W(target_task), W(address), W(size));
}

kern_return_t vm_protect(vm_task_t target_task, vm_address_t address, vm_size_t size,
                         boolean_t set_maximum, vm_prot_t new_protection)
{
    return KCALL(vm_protect, W(target_task), W(address), W(size), W(set_maximum != 0),
                 S(new_protection));
}

kern_return_t vm_inherit(vm_task_t target_task, vm_address_t address, vm_size_t size,
                         vm_inherit_t new_inheritance)
{
    return KCALL(vm_inherit, W(target_task), W(address), W(size), W(new_inheritance));
}

kern_return_t vm_read(vm_task_t target_task, vm_address_t address, vm_size_t size,
                      pointer_t *data, mach_msg_type_number_t *dataCnt)
{
    return KCALL(vm_read, W(target_task), W(address), W(size), P(data), P(dataCnt));
}

kern_return_t vm_write(vm_task_t target_task, vm_address_t address, pointer_t data,
                       mach_msg_type_number_t dataCnt)
{
    return KCALL(vm_write, W(target_task), W(address), W(data), W(dataCnt));
}

kern_return_t vm_copy(vm_task_t target_task, vm_address_t source_address, vm_size_t size,
                      vm_address_t dest_address)
{
    return KCALL(vm_copy, W(target_task), W(source_address), W(size), W(dest_address));
}

kern_return_t vm_region(vm_task_t target_task, vm_address_t *address, vm_size_t *size,
                        vm_region_flavor_t flavor, vm_region_info_t info,
                        mach_msg_type_number_t *infoCnt, mach_port_t *object_name)
{
    normach_region_record_t r = {0};
    mach_msg_type_number_t count = sizeof r / 4;
    vm_region_basic_info_t basic = (vm_region_basic_info_t)info;
    kern_return_t kr;

    if (flavor != VM_REGION_BASIC_INFO || *infoCnt < VM_REGION_BASIC_INFO_COUNT)
        return KERN_INVALID_ARGUMENT;
    kr = KCALL(vm_region, W(target_task), W(*address), P(&r), P(&count));
    if (kr != KERN_SUCCESS)
        return kr;
    *address = r.address;
    *size = r.size;
    basic->protection = r.protection;
    basic->max_protection = r.max_protection;
    basic->inheritance = r.inheritance;
    basic->shared = r.shared;
    basic->reserved = r.reserved;
    basic->offset = r.offset;
    *infoCnt = VM_REGION_BASIC_INFO_COUNT;
    if (object_name)
        *object_name = MACH_PORT_NULL;
    return KERN_SUCCESS;
}

kern_return_t vm_statistics(vm_task_t target_task, vm_statistics_data_t *vm_stats)
{
    mach_msg_type_number_t count = VM_STATISTICS_COUNT;
    return KCALL(vm_statistics, W(target_task), P(vm_stats), P(&count));
}

kern_return_t vm_map(vm_task_t target_task, vm_address_t *address, vm_size_t size,
                     vm_address_t mask, boolean_t anywhere, memory_object_t memory_object,
                     vm_offset_t offset, boolean_t copy, vm_prot_t cur_protection,
                     vm_prot_t max_protection, vm_inherit_t inheritance)
{
    OUT(vm_map, 0) out = 0;
    kern_return_t kr = KCALL(vm_map, W(target_task), W(*address), W(size), W(mask),
                             W(anywhere != 0), W(memory_object), W(offset), W(copy != 0),
                             S(cur_protection), S(max_protection), W(inheritance), P(&out));
    if (kr == KERN_SUCCESS)
        *address = (vm_address_t)out;
    return kr;
}
