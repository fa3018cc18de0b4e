/* Mach traps, mach_msg, runtime start-up and spin locks.
 *
 * Built twice (guest/build.py): for `normach cc` with the small libc, started by crt0's
 * call of __libc_init; and with -DNORMACH_MUSL for Linux programs built against musl,
 * whose own crt1 starts them: there a constructor caches mach_task_self_, and a
 * fork handler caches the child's. */
#include <mach.h>
#include "syscall.h"
#ifdef NORMACH_MUSL
#include <pthread.h>
#else
#include "libc_private.h"
#endif

vm_size_t vm_page_size = NORMACH_PAGE_SIZE;
mach_port_t mach_task_self_ = MACH_PORT_NULL;
#ifndef NORMACH_MUSL
char **environ;
#endif

mach_port_t mach_reply_port(void)
{
    return (mach_port_t)normach_trap0(MACH_TRAP_mach_reply_port);
}

mach_port_t thread_self_trap(void)
{
    return (mach_port_t)normach_trap0(MACH_TRAP_thread_self);
}

mach_port_t task_self_trap(void)
{
    return (mach_port_t)normach_trap0(MACH_TRAP_task_self);
}

mach_port_t host_self_trap(void)
{
    return (mach_port_t)normach_trap0(MACH_TRAP_host_self);
}

mach_port_t mach_thread_self(void)
{
    return thread_self_trap();
}

mach_port_t mach_host_self(void)
{
    return host_self_trap();
}

mach_port_t normach_host_priv_self(void)
{
    return (mach_port_t)normach_trap0(MACH_TRAP_normach_host_priv_self);
}

boolean_t swtch_pri(int pri)
{
    return (boolean_t)normach_trap1(MACH_TRAP_swtch_pri, pri);
}

void normach_task_exit(int status)
{
    for (;;)
        normach_trap1(MACH_TRAP_normach_task_exit, status);
}

mach_msg_return_t mach_msg_trap(mach_msg_header_t *msg, mach_msg_option_t option,
                                mach_msg_size_t send_size, mach_msg_size_t rcv_size,
                                mach_port_name_t rcv_name, mach_msg_timeout_t timeout)
{
    return (mach_msg_return_t)normach_trap6(MACH_TRAP_mach_msg, (long)msg,
                                            (long)(unsigned)option, send_size, rcv_size,
                                            rcv_name, timeout);
}

mach_msg_return_t mach_msg(mach_msg_header_t *msg, mach_msg_option_t option,
                           mach_msg_size_t send_size, mach_msg_size_t rcv_size,
                           mach_port_name_t rcv_name, mach_msg_timeout_t timeout,
                           mach_port_name_t notify)
{
    mach_msg_return_t mr;

    (void)notify;
    /* As Mach's libmach: a call interrupted by thread_abort (the thread was being
     * stopped, perhaps to migrate) is resumed where it stopped, unless the caller
     * asked to see the interruption: a send that did not happen is sent again, a
     * receive is waited for again (the message, if sent, was sent). */
    mr = mach_msg_trap(msg, option, send_size, rcv_size, rcv_name, timeout);
    while (mr == MACH_SEND_INTERRUPTED && !(option & MACH_SEND_INTERRUPT))
        mr = mach_msg_trap(msg, option, send_size, rcv_size, rcv_name, timeout);
    while (mr == MACH_RCV_INTERRUPTED && !(option & MACH_RCV_INTERRUPT))
        mr = mach_msg_trap(msg, option & ~MACH_SEND_MSG, 0, rcv_size, rcv_name, timeout);
    return mr;
}

#ifdef NORMACH_MUSL
void mach_init(void)
{
    mach_task_self_ = task_self_trap();
}

/* Before main and before the program's own constructors (priority 101, the first a
   program may use): musl's crt1 runs .init_array, there is no __libc_init.  A forked
   child (the Unix server's fork is task_create) is a task of its own: it re-reads. */
__attribute__((constructor(101))) static void mach_init_musl(void)
{
    mach_init();
    pthread_atfork(NULL, NULL, mach_init);
}
#else
void mach_init(void)
{
    mach_task_self_ = task_self_trap();
    __stdio_init();
}

void __libc_init(int argc, char **argv, char **envp)
{
    (void)argc;
    (void)argv;
    environ = envp;
    mach_init();
}
#endif

void spin_lock(spin_lock_t *l)
{
    while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
            swtch_pri(0);
}

void spin_unlock(spin_lock_t *l)
{
    __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}
