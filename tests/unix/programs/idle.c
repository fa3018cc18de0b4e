/* A Linux program that waits to be told to end (its stdin is the console: read
   returns 0 at once, so it sleeps in steps until the file "stop" appears). */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
    printf("ready\n");
    fflush(stdout);
    for (int i = 0; i < 3000 && access("stop", F_OK) != 0; i++) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}
