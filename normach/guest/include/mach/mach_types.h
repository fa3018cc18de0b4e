/* Mach types of the normach guest ABI (docs/guest-abi.md), x86-64 (LP64). */
#ifndef _MACH_MACH_TYPES_H_
#define _MACH_MACH_TYPES_H_

#include <stdint.h>
#include <stddef.h>
#include <kern_return.h>
#include <mach_constants.h>

typedef uint32_t natural_t;
typedef int32_t integer_t;
typedef int boolean_t;

/* Port names: 32-bit, in the caller's space. */
typedef natural_t mach_port_name_t;
typedef mach_port_name_t mach_port_t;
typedef mach_port_t *mach_port_array_t;
typedef mach_port_name_t *mach_port_name_array_t;
typedef natural_t mach_port_right_t;
typedef natural_t mach_port_type_t;
typedef mach_port_type_t *mach_port_type_array_t;
typedef natural_t mach_port_urefs_t;
typedef integer_t mach_port_delta_t;
typedef natural_t mach_port_seqno_t;
typedef natural_t mach_port_mscount_t;
typedef natural_t mach_port_msgcount_t;
typedef natural_t mach_port_rights_t;
typedef int mach_port_flavor_t;

typedef mach_port_t task_t;
typedef mach_port_t thread_t;
typedef mach_port_t thread_act_t;
typedef mach_port_t host_t;
typedef mach_port_t host_priv_t;
typedef mach_port_t ipc_space_t;
typedef mach_port_t vm_map_t;
typedef mach_port_t vm_task_t;
typedef mach_port_t memory_object_t;
typedef mach_port_t ledger_t;
typedef mach_port_t exception_port_t;
typedef task_t *task_array_t;
typedef thread_t *thread_array_t;
typedef thread_act_t *thread_act_array_t;
typedef ledger_t *ledger_array_t;

/* Memory: 64-bit addresses and sizes. */
typedef uint64_t vm_offset_t;
typedef uint64_t vm_address_t;
typedef uint64_t vm_size_t;
typedef vm_offset_t pointer_t;
typedef int vm_prot_t;
typedef unsigned int vm_inherit_t;
typedef int vm_region_flavor_t;
typedef int *vm_region_info_t;

/* Messages. */
/* A time: seconds and microseconds (task and thread info, host_get_time). */
typedef struct time_value {
    integer_t seconds;
    integer_t microseconds;
} time_value_t;

typedef int host_flavor_t;
typedef integer_t *host_info_t;
typedef char kernel_version_t[512];

/* The clock service (kern/clock.py). */
typedef mach_port_t clock_serv_t;
typedef int clock_id_t;
typedef int clock_res_t;
typedef int sleep_type_t;
typedef struct mach_timespec {
    unsigned int tv_sec;
    clock_res_t tv_nsec;
} mach_timespec_t;

typedef natural_t mach_msg_type_number_t;
typedef unsigned int mach_msg_type_name_t;
typedef unsigned int mach_msg_bits_t;
typedef natural_t mach_msg_size_t;
typedef integer_t mach_msg_id_t;
typedef integer_t mach_msg_option_t;
typedef natural_t mach_msg_timeout_t;
typedef unsigned int mach_msg_descriptor_type_t;
typedef unsigned int mach_msg_copy_options_t;

/* Threads and tasks. */
typedef int thread_state_flavor_t;
typedef natural_t *thread_state_t;       /* the state as u32 words */
typedef int task_flavor_t;
typedef integer_t *task_info_t;
typedef int thread_flavor_t;
typedef integer_t *thread_info_t;
typedef integer_t *mach_port_info_t;
typedef int exception_type_t;
typedef int64_t exception_data_type_t;
typedef exception_data_type_t *exception_data_t;
typedef unsigned int exception_mask_t;
typedef int exception_behavior_t;

/*
 * Records: the kernel writes one u64 per field, in the field order of the
 * Python object it returns (docs/guest-abi.md); counts are in u32 units.
 */

/* x86_THREAD_STATE64 (kern/thread.py X86ThreadState64). */
typedef struct {
    uint64_t rax, rbx, rcx, rdx, rdi, rsi, rbp, rsp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rip, rflags, cs, fs, gs, fs_base, gs_base;
} x86_thread_state64_t;

/*
 * x86_FLOAT_STATE64 (kern/thread.py X86FloatState64): the FXSAVE area in its 64-bit
 * format, with the field names of Mach's x86_float_state64_t. Differs from Mach's
 * struct: no 8-byte reserved prefix or 4-byte reserved tail, and the last x87
 * instruction and operand pointers are 64-bit (fpu_ip, fpu_dp; Mach splits them into
 * 32-bit offsets and 16-bit selectors). fpu_ftw is the abridged tag (bit i: physical
 * register i holds a value); fpu_stmm<i> is st(i), stack-relative, as FXSAVE stores it.
 */
struct mmst_reg {
    char mmst_reg[10];          /* an 80-bit x87 value (or an MMX register) */
    char mmst_rsrv[6];
};
struct xmm_reg {
    char xmm_reg[16];
};
typedef struct {
    uint16_t fpu_fcw;
    uint16_t fpu_fsw;           /* TOP in bits 11-13 */
    uint8_t fpu_ftw;
    uint8_t fpu_rsrv1;
    uint16_t fpu_fop;
    uint64_t fpu_ip;
    uint64_t fpu_dp;
    uint32_t fpu_mxcsr;
    uint32_t fpu_mxcsrmask;     /* written by the kernel, ignored when set */
    struct mmst_reg fpu_stmm0, fpu_stmm1, fpu_stmm2, fpu_stmm3;
    struct mmst_reg fpu_stmm4, fpu_stmm5, fpu_stmm6, fpu_stmm7;
    struct xmm_reg fpu_xmm0, fpu_xmm1, fpu_xmm2, fpu_xmm3, fpu_xmm4, fpu_xmm5, fpu_xmm6, fpu_xmm7;
    struct xmm_reg fpu_xmm8, fpu_xmm9, fpu_xmm10, fpu_xmm11, fpu_xmm12, fpu_xmm13, fpu_xmm14,
        fpu_xmm15;
    char fpu_rsrv4[96];
} x86_float_state64_t;
_Static_assert(sizeof(x86_float_state64_t) == 4 * x86_FLOAT_STATE64_COUNT,
               "x86_float_state64_t differs from kern/thread.py");

/* x86_DEBUG_STATE64 (kern/thread.py X86DebugState64), as Mach's x86_debug_state64_t.
 * unicorn does not enforce the breakpoints (docs/mach-compat.md). */
typedef struct {
    uint64_t dr0, dr1, dr2, dr3, dr4, dr5, dr6, dr7;
} x86_debug_state64_t;
_Static_assert(sizeof(x86_debug_state64_t) == 4 * x86_DEBUG_STATE64_COUNT,
               "x86_debug_state64_t differs from kern/thread.py");

/* task_basic_info_data_t, thread_basic_info_data_t and the other records: mach_records.h */

/* vm_region's record as the kernel writes it (vm/user.py Region). */
typedef struct normach_region_record {
    uint64_t address;
    uint64_t size;
    uint64_t protection;
    uint64_t max_protection;
    uint64_t inheritance;
    uint64_t shared;
    uint64_t offset;
    uint64_t reserved;
} normach_region_record_t;

/* VM_REGION_BASIC_INFO as vm_region returns it (Mach's field order, u64 each). */
typedef struct vm_region_basic_info {
    uint64_t protection;
    uint64_t max_protection;
    uint64_t inheritance;
    uint64_t shared;
    uint64_t reserved;
    uint64_t offset;
} vm_region_basic_info_data_t;
typedef vm_region_basic_info_data_t *vm_region_basic_info_t;
#define VM_REGION_BASIC_INFO_COUNT ((mach_msg_type_number_t)(sizeof(vm_region_basic_info_data_t) / 4))

#include <mach_records.h>   /* task, thread and vm records, generated (guest/gen.py) */

/* mach_port_get/set_attributes (ipc/mach_port.py PortLimits, PortStatus). */
typedef struct mach_port_limits {
    uint64_t mpl_qlimit;
} mach_port_limits_t;

typedef struct mach_port_status {
    uint64_t mps_pset;
    uint64_t mps_seqno;
    uint64_t mps_mscount;
    uint64_t mps_qlimit;
    uint64_t mps_msgcount;
    uint64_t mps_sorights;
    uint64_t mps_srights;       /* 0 none, 1 some, 2 no no-senders information */
    uint64_t mps_pdrequest;
    uint64_t mps_nsrequest;
    uint64_t mps_flags;
} mach_port_status_t;

#define MACH_PORT_LIMITS_INFO_COUNT ((mach_msg_type_number_t)(sizeof(mach_port_limits_t) / 4))
#define MACH_PORT_RECEIVE_STATUS_COUNT ((mach_msg_type_number_t)(sizeof(mach_port_status_t) / 4))
#define MACH_PORT_DNREQUESTS_SIZE_COUNT 2     /* one u64 */

#endif /* _MACH_MACH_TYPES_H_ */
