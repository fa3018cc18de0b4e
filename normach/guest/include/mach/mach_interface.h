/* The kernel routines of kern/routines.py with their Mach C signatures. */
#ifndef _MACH_MACH_INTERFACE_H_
#define _MACH_MACH_INTERFACE_H_

#include <mach/mach_types.h>

/* -- mach (2000) ------------------------------------------------------------- */

/* ledgers are ignored (spec N1.8): pass NULL, 0. */
kern_return_t task_create(task_t parent_task, ledger_array_t ledgers,
                          mach_msg_type_number_t ledgersCnt, boolean_t inherit_memory,
                          task_t *child_task);
kern_return_t task_terminate(task_t target_task);
kern_return_t task_threads(task_t target_task, thread_act_array_t *act_list,
                           mach_msg_type_number_t *act_listCnt);
kern_return_t task_suspend(task_t target_task);
kern_return_t task_resume(task_t target_task);
kern_return_t task_get_special_port(task_t task, int which_port, mach_port_t *special_port);
kern_return_t task_set_special_port(task_t task, int which_port, mach_port_t special_port);
/* task_special_ports.h (OSF MK): the special ports by name. */
#define task_get_kernel_port(task, port) (task_get_special_port((task), TASK_KERNEL_PORT, (port)))
#define task_set_kernel_port(task, port) (task_set_special_port((task), TASK_KERNEL_PORT, (port)))
#define task_get_bootstrap_port(task, port) \
    (task_get_special_port((task), TASK_BOOTSTRAP_PORT, (port)))
#define task_set_bootstrap_port(task, port) \
    (task_set_special_port((task), TASK_BOOTSTRAP_PORT, (port)))
#define task_get_wired_ledger_port(task, port) \
    (task_get_special_port((task), TASK_WIRED_LEDGER_PORT, (port)))
#define task_set_wired_ledger_port(task, port) \
    (task_set_special_port((task), TASK_WIRED_LEDGER_PORT, (port)))
#define task_get_paged_ledger_port(task, port) \
    (task_get_special_port((task), TASK_PAGED_LEDGER_PORT, (port)))
#define task_set_paged_ledger_port(task, port) \
    (task_set_special_port((task), TASK_PAGED_LEDGER_PORT, (port)))
kern_return_t task_info(task_t target_task, task_flavor_t flavor, task_info_t task_info_out,
                        mach_msg_type_number_t *task_info_outCnt);
kern_return_t mach_ports_register(task_t target_task, mach_port_array_t init_port_set,
                                  mach_msg_type_number_t init_port_setCnt);
kern_return_t mach_ports_lookup(task_t target_task, mach_port_array_t *init_port_set,
                                mach_msg_type_number_t *init_port_setCnt);
/* normach extension: ledger limits (bytes of virtual memory, threads). */
kern_return_t task_set_limits(task_t target_task, vm_size_t vm_max, natural_t threads_max);

kern_return_t thread_create(task_t parent_task, thread_act_t *child_act);
kern_return_t thread_terminate(thread_act_t target_act);
kern_return_t thread_suspend(thread_act_t target_act);
kern_return_t thread_resume(thread_act_t target_act);
/* A thread waiting in the kernel (mach_msg) gives up: MACH_RCV_INTERRUPTED or
 * MACH_SEND_INTERRUPTED; other kernel calls finish first. */
kern_return_t thread_abort(thread_act_t target_act);

/* The host (kern/host.py): HOST_BASIC_INFO, HOST_SCHED_INFO, HOST_PRIORITY_INFO. */
kern_return_t host_info(host_t host, host_flavor_t flavor, host_info_t host_info_out,
                        mach_msg_type_number_t *host_info_outCnt);
kern_return_t host_kernel_version(host_t host, kernel_version_t kernel_version);
/* A task's name (what ps shows), at most TASK_NAME_MAX bytes. */
kern_return_t task_set_name(task_t task, const char *name);

/* Clocks (kern/clock.py): SYSTEM_CLOCK (since the node started, monotonic) and
 * CALENDAR_CLOCK (the time of day); clock_sleep takes TIME_ABSOLUTE or TIME_RELATIVE. */
kern_return_t host_get_time(host_t host, time_value_t *current_time);
kern_return_t host_get_clock_service(host_t host, clock_id_t clock_id, clock_serv_t *clock_serv);
kern_return_t clock_get_time(clock_serv_t clock_serv, mach_timespec_t *cur_time);
kern_return_t clock_sleep(mach_port_t clock, sleep_type_t sleep_type, mach_timespec_t sleep_time,
                          mach_timespec_t *wakeup_time);
kern_return_t thread_get_state(thread_act_t target_act, thread_state_flavor_t flavor,
                               thread_state_t old_state, mach_msg_type_number_t *old_stateCnt);
kern_return_t thread_set_state(thread_act_t target_act, thread_state_flavor_t flavor,
                               thread_state_t new_state, mach_msg_type_number_t new_stateCnt);
kern_return_t thread_info(thread_act_t target_act, thread_flavor_t flavor,
                          thread_info_t thread_info_out,
                          mach_msg_type_number_t *thread_info_outCnt);

kern_return_t vm_allocate(vm_task_t target_task, vm_address_t *address, vm_size_t size,
                          boolean_t anywhere);
kern_return_t vm_deallocate(vm_task_t target_task, vm_address_t address, vm_size_t size);
kern_return_t vm_protect(vm_task_t target_task, vm_address_t address, vm_size_t size,
                         boolean_t set_maximum, vm_prot_t new_protection);
kern_return_t vm_inherit(vm_task_t target_task, vm_address_t address, vm_size_t size,
                         vm_inherit_t new_inheritance);
kern_return_t vm_read(vm_task_t target_task, vm_address_t address, vm_size_t size,
                      pointer_t *data, mach_msg_type_number_t *dataCnt);
kern_return_t vm_write(vm_task_t target_task, vm_address_t address, pointer_t data,
                       mach_msg_type_number_t dataCnt);
kern_return_t vm_copy(vm_task_t target_task, vm_address_t source_address, vm_size_t size,
                      vm_address_t dest_address);
/* flavor VM_REGION_BASIC_INFO; *object_name is always MACH_PORT_NULL. */
kern_return_t vm_region(vm_task_t target_task, vm_address_t *address, vm_size_t *size,
                        vm_region_flavor_t flavor, vm_region_info_t info,
                        mach_msg_type_number_t *infoCnt, mach_port_t *object_name);
kern_return_t vm_statistics(vm_task_t target_task, vm_statistics_data_t *vm_stats);
kern_return_t vm_map(vm_task_t target_task, vm_address_t *address, vm_size_t size,
                     vm_address_t mask, boolean_t anywhere, memory_object_t memory_object,
                     vm_offset_t offset, boolean_t copy, vm_prot_t cur_protection,
                     vm_prot_t max_protection, vm_inherit_t inheritance);

/* -- wiring (mach_host, 2600; host_priv only) --------------------------------- */

/* Holds [address, address+size) of `task` (a task of host_priv's node) resident for
 * `desired_access`; VM_PROT_NONE takes one wiring off. A node lets vm_wire hold a part of
 * its memory only (KERN_RESOURCE_SHORTAGE beyond). vm_deallocate unwires. */
kern_return_t vm_wire(host_priv_t host_priv, vm_task_t task, vm_address_t address,
                      vm_size_t size, vm_prot_t desired_access);
/* Marks `thread` as one that must always be able to run and allocate memory: normach
 * never swaps a thread out, so this is only recorded. */
kern_return_t thread_wire(host_priv_t host_priv, thread_act_t thread, boolean_t wired);

/* -- exception ports (mach_host, 2600) ---------------------------------------- */

kern_return_t task_set_exception_ports(task_t task, exception_mask_t exception_mask,
                                       mach_port_t new_port, exception_behavior_t behavior,
                                       thread_state_flavor_t new_flavor);
kern_return_t thread_set_exception_ports(thread_act_t thread, exception_mask_t exception_mask,
                                         mach_port_t new_port, exception_behavior_t behavior,
                                         thread_state_flavor_t new_flavor);

/* -- mach_port (3200) ----------------------------------------------------------- */

kern_return_t mach_port_names(ipc_space_t task, mach_port_name_array_t *names,
                              mach_msg_type_number_t *namesCnt, mach_port_type_array_t *types,
                              mach_msg_type_number_t *typesCnt);
kern_return_t mach_port_type(ipc_space_t task, mach_port_name_t name, mach_port_type_t *ptype);
kern_return_t mach_port_rename(ipc_space_t task, mach_port_name_t old_name,
                               mach_port_name_t new_name);
kern_return_t mach_port_allocate_name(ipc_space_t task, mach_port_right_t right,
                                      mach_port_name_t name);
kern_return_t mach_port_allocate(ipc_space_t task, mach_port_right_t right,
                                 mach_port_name_t *name);
kern_return_t mach_port_destroy(ipc_space_t task, mach_port_name_t name);
kern_return_t mach_port_deallocate(ipc_space_t task, mach_port_name_t name);
kern_return_t mach_port_get_refs(ipc_space_t task, mach_port_name_t name,
                                 mach_port_right_t right, mach_port_urefs_t *refs);
kern_return_t mach_port_mod_refs(ipc_space_t task, mach_port_name_t name,
                                 mach_port_right_t right, mach_port_delta_t delta);
kern_return_t mach_port_set_mscount(ipc_space_t task, mach_port_name_t name,
                                    mach_port_mscount_t mscount);
kern_return_t mach_port_get_set_status(ipc_space_t task, mach_port_name_t name,
                                       mach_port_name_array_t *members,
                                       mach_msg_type_number_t *membersCnt);
kern_return_t mach_port_move_member(ipc_space_t task, mach_port_name_t member,
                                    mach_port_name_t after);
kern_return_t mach_port_request_notification(ipc_space_t task, mach_port_name_t name,
                                             mach_msg_id_t msgid, mach_port_mscount_t sync,
                                             mach_port_t notify,
                                             mach_msg_type_name_t notifyPoly,
                                             mach_port_t *previous);
kern_return_t mach_port_insert_right(ipc_space_t task, mach_port_name_t name, mach_port_t poly,
                                     mach_msg_type_name_t polyPoly);
kern_return_t mach_port_extract_right(ipc_space_t task, mach_port_name_t name,
                                      mach_msg_type_name_t msgt_name, mach_port_t *poly,
                                      mach_msg_type_name_t *polyPoly);
kern_return_t mach_port_set_seqno(ipc_space_t task, mach_port_name_t name,
                                  mach_port_seqno_t seqno);
kern_return_t mach_port_get_attributes(ipc_space_t task, mach_port_name_t name,
                                       mach_port_flavor_t flavor, mach_port_info_t port_info_out,
                                       mach_msg_type_number_t *port_info_outCnt);
kern_return_t mach_port_set_attributes(ipc_space_t task, mach_port_name_t name,
                                       mach_port_flavor_t flavor, mach_port_info_t port_info,
                                       mach_msg_type_number_t port_infoCnt);

/* mach_norma (spec §1.1) */
kern_return_t task_set_child_node(task_t target_task, int child_node);
kern_return_t norma_node_self(host_t host, int *node);
kern_return_t norma_get_special_port(host_priv_t host_priv, int node, int which,
                                     mach_port_t *port);
kern_return_t norma_set_special_port(host_priv_t host_priv, int which, mach_port_t port);
kern_return_t norma_port_location_hint(task_t task, mach_port_t port, int *node);
kern_return_t norma_task_create(task_t parent_task, boolean_t inherit_memory, int child_node,
                                task_t *child_task);
kern_return_t norma_task_clone(task_t parent_task, boolean_t inherit_memory, int child_node,
                               task_t *child_task);
kern_return_t norma_task_teleport(task_t parent_task, boolean_t inherit_memory, int child_node,
                                  task_t *child_task);
#define NORMA_DEVICE_PORT 1
#define NORMA_HOST_PORT 2
#define NORMA_HOST_PRIV_PORT 3
#define NORMA_NAMESERVER_PORT 11

#endif /* _MACH_MACH_INTERFACE_H_ */
