/* Mach calls on both sides of fork: the child is a task of its own (the Unix server's
 * fork is task_create), so mach_task_self() must name the child's task port there. */
#include <mach.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static int touch_memory(const char *who)
{
    vm_address_t addr = 0;
    task_basic_info_data_t info;
    mach_msg_type_number_t count = TASK_BASIC_INFO_COUNT;
    kern_return_t kr = vm_allocate(mach_task_self(), &addr, vm_page_size, TRUE);

    if (kr != KERN_SUCCESS) {
        printf("%s: vm_allocate %d\n", who, kr);
        return 1;
    }
    *(volatile int *)addr = 99;
    kr = vm_deallocate(mach_task_self(), addr, vm_page_size);
    if (kr == KERN_SUCCESS)
        kr = task_info(mach_task_self(), TASK_BASIC_INFO, (task_info_t)&info, &count);
    printf("%s: vm ok=%d threads=%llu\n", who, kr == KERN_SUCCESS,
           (unsigned long long)info.thread_count);
    return kr != KERN_SUCCESS;
}

int main(void)
{
    mach_port_t parent_task = mach_task_self();
    int status = -1;
    pid_t pid;

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        int same = mach_task_self() == task_self_trap();
        printf("child: task_self current=%d\n", same);
        return touch_memory("child") + (same ? 0 : 2);
    }
    waitpid(pid, &status, 0);
    printf("parent: child exit=%d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    printf("parent: task_self unchanged=%d\n", mach_task_self() == parent_task);
    return touch_memory("parent");
}
