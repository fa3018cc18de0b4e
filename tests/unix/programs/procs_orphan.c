/* A parent that ends without waiting: one child already ended (a zombie), one
   still running; both must be forgotten by the server. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    if (fork() == 0)
        _exit(1);
    if (fork() == 0) {
        usleep(300000);
        _exit(2);
    }
    usleep(100000);
    printf("parent done\n");
    return 0;
}
