/* A signal from outside: "sleep" waits in nanosleep (interrupted: EINTR), "spin" runs
   until its handler sets a flag, "die" spins with no handler. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_usr1(int sig) { got = sig; }

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *mode = argc > 1 ? argv[1] : "sleep";
    if (strcmp(mode, "die") != 0)
        signal(SIGUSR1, on_usr1);
    printf("ready\n");
    if (strcmp(mode, "sleep") == 0) {
        struct timespec t = {20, 0};
        int r = nanosleep(&t, NULL);
        printf("nanosleep=%d %s got=%d\n", r, r ? strerror(errno) : "-", (int)got);
    } else {
        volatile double x = 0;
        long i = 0;
        while (!got)
            x += 0.5, i++;
        printf("spun: got=%d x>=0=%d\n", (int)got, x >= 0);
    }
    return 0;
}
