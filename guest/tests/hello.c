/* The smallest guest: prints its arguments and exits 0. */
#include <mach.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    printf("hello from a normach guest: task port %u, %d argument(s)\n",
           mach_task_self(), argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d] = %s\n", i, argv[i]);
    return 0;
}
