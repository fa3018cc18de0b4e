/* <mach.h>: the Mach interface of a normach guest (docs/guest-abi.md). */
#ifndef _MACH_H_
#define _MACH_H_

#include <mach/mach_types.h>
#include <mach/message.h>
#include <mach/exception.h>
#include <mach/mach_interface.h>
#include <mach_ids.h>

#ifndef NULL
#define NULL ((void *)0)
#endif

/* Trap numbers (rax). */
#define MACH_TRAP_mach_reply_port (-26)
#define MACH_TRAP_thread_self (-27)
#define MACH_TRAP_task_self (-28)
#define MACH_TRAP_host_self (-29)
#define MACH_TRAP_mach_msg (-31)
#define MACH_TRAP_swtch_pri (-59)
#define MACH_TRAP_normach_task_exit (-100)
#define MACH_TRAP_normach_host_priv_self (-101)

/* The console server's message ids (its replies: id + 100, a 4-byte status). */
#define NORMACH_CONSOLE_WRITE 0x4E430001
#define NORMACH_MIGRATE 0x4E430002

extern vm_size_t vm_page_size;
extern mach_port_t mach_task_self_;

#define mach_task_self() (mach_task_self_)
#define current_task() mach_task_self()

/* Traps. */
mach_port_t mach_thread_self(void);   /* a new send right each call: deallocate it */
mach_port_t mach_host_self(void);
mach_port_t mach_reply_port(void);
mach_port_t task_self_trap(void);
mach_port_t thread_self_trap(void);
mach_port_t host_self_trap(void);
boolean_t swtch_pri(int pri);
mach_port_t normach_host_priv_self(void);
__attribute__((noreturn)) void normach_task_exit(int status);

/* Re-reads this task's ports (mach_task_self_, the console) and discards the
   stdout buffer: a task made by task_create(inherit TRUE) calls it first. */
void mach_init(void);

/* Threads of the runtime: start `entry(arg)` on a fresh stack of `stack_size`
   bytes allocated in `task` (any task running this program's image); when
   entry returns, the thread terminates itself. */
kern_return_t normach_thread_spawn(task_t task, void (*entry)(void *), void *arg,
                                   vm_size_t stack_size, thread_t *thread);
/* The register state that starts `entry(arg)` with its stack ending at
   stack_top (of `task`), the other registers as `thread` has them. Writes the
   return address (normach_thread_exit) just below stack_top. */
kern_return_t normach_thread_state(task_t task, thread_t thread, void (*entry)(void *),
                                   void *arg, vm_address_t stack_top,
                                   x86_thread_state64_t *state);
__attribute__((noreturn)) void normach_thread_exit(void);

/* Process migration: asks the migration manager (through the bootstrap port) to
   move this task, its threads and its port rights to `node`; returns there, with
   KERN_SUCCESS, or here with the error (KERN_NODE_DOWN, KERN_INVALID_ARGUMENT for
   the node it is on). */
kern_return_t migrate_self(int node);

/* A spin lock that yields (swtch_pri) while it waits. */
typedef struct { volatile int locked; } spin_lock_t;
#define SPIN_LOCK_INITIALIZER { 0 }
void spin_lock(spin_lock_t *l);
void spin_unlock(spin_lock_t *l);

#endif /* _MACH_H_ */
