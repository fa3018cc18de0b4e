/* The program procs_exec starts: it prints its arguments and environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    printf("hello argc=%d", argc);
    for (int i = 1; i < argc; i++)
        printf(" [%s]", argv[i]);
    printf(" GREETING=%s\n", getenv("GREETING") ? getenv("GREETING") : "-");
    return argc + 20;
}
