/*
 * benchmarks/bench_mig.py: N calls of one kind, then exit.  argv: MODE N.
 *   trap  task_info by the kernel-call trap (the guest ABI's stub)
 *   mig   task_info by a MIG message to the task port (stubs from mach.defs)
 *   rpc   add() through MIG stubs to a server thread of this task (mach_msg_server)
 */
#include <mach.h>
#include <stdlib.h>
#include <string.h>
#include "mach_mig.h"
#include "bench.h"

kern_return_t do_add(mach_port_t server, int a, int b, int *sum)
{
    *sum = a + b;
    return KERN_SUCCESS;
}

static mach_port_t service;

static void serve(void *arg)
{
    mach_msg_server(bench_server, bench_MSG_SIZE_MAX, service, 0);
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    long n = atol(argv[2]);
    natural_t info[64];
    mach_msg_type_number_t count;
    if (strcmp(argv[1], "rpc") == 0) {
        if (mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &service) != KERN_SUCCESS
            || mach_port_insert_right(mach_task_self(), service, service,
                                      MACH_MSG_TYPE_MAKE_SEND) != KERN_SUCCESS
            || normach_thread_spawn(mach_task_self(), serve, 0, 64 * 1024, 0) != KERN_SUCCESS)
            return 3;
    }
    for (long i = 0; i < n; i++) {
        kern_return_t kr;
        int sum = 0;
        count = 64;
        if (argv[1][0] == 't')
            kr = task_info(mach_task_self(), TASK_BASIC_INFO, (task_info_t)info, &count);
        else if (argv[1][0] == 'm')
            kr = mig_task_info(mach_task_self(), TASK_BASIC_INFO, info, &count);
        else
            kr = add(service, (int)i, 1, &sum);
        if (kr != KERN_SUCCESS)
            return 4;
    }
    return 0;
}
