/* Starting threads of this program: in this task, or in a task made from it by
   task_create(inherit TRUE) (same image, so the same code addresses). */
#include <mach.h>
#include <string.h>

void normach_thread_exit(void)
{
    thread_terminate(mach_thread_self());
    for (;;)
        swtch_pri(0);
}

kern_return_t normach_thread_state(task_t task, thread_t thread, void (*entry)(void *),
                                   void *arg, vm_address_t stack_top,
                                   x86_thread_state64_t *state)
{
    mach_msg_type_number_t count = x86_THREAD_STATE64_COUNT;
    uint64_t ret = (uint64_t)(uintptr_t)normach_thread_exit;
    vm_address_t sp = (stack_top & ~(vm_address_t)15) - 8;   /* as after a call */
    kern_return_t kr;

    kr = thread_get_state(thread, x86_THREAD_STATE64, (thread_state_t)state, &count);
    if (kr != KERN_SUCCESS)
        return kr;
    if (task == mach_task_self())
        memcpy((void *)sp, &ret, sizeof ret);
    else if ((kr = vm_write(task, sp, (pointer_t)(uintptr_t)&ret, sizeof ret)) != KERN_SUCCESS)
        return kr;
    state->rip = (uint64_t)(uintptr_t)entry;
    state->rsp = sp;
    state->rdi = (uint64_t)(uintptr_t)arg;
    state->rbp = 0;
    state->rflags = 0x202;
    return KERN_SUCCESS;
}

kern_return_t normach_thread_spawn(task_t task, void (*entry)(void *), void *arg,
                                   vm_size_t stack_size, thread_t *thread)
{
    vm_address_t stack = 0;
    x86_thread_state64_t state;
    thread_t th = MACH_PORT_NULL;
    kern_return_t kr;

    stack_size = (stack_size + vm_page_size - 1) & ~(vm_page_size - 1);
    if ((kr = vm_allocate(task, &stack, stack_size, TRUE)) != KERN_SUCCESS)
        return kr;
    if ((kr = thread_create(task, &th)) != KERN_SUCCESS)
        goto fail;
    if ((kr = normach_thread_state(task, th, entry, arg, stack + stack_size, &state)) != KERN_SUCCESS)
        goto fail;
    kr = thread_set_state(th, x86_THREAD_STATE64, (thread_state_t)&state,
                          x86_THREAD_STATE64_COUNT);
    if (kr != KERN_SUCCESS || (kr = thread_resume(th)) != KERN_SUCCESS)
        goto fail;
    if (thread)
        *thread = th;
    else
        mach_port_deallocate(mach_task_self(), th);
    return KERN_SUCCESS;

fail:
    if (th != MACH_PORT_NULL) {
        thread_terminate(th);
        mach_port_deallocate(mach_task_self(), th);
    }
    vm_deallocate(task, stack, stack_size);
    return kr;
}
