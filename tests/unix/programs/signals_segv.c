/* SIGSEGV: a handler (SA_SIGINFO) that reports the fault and _exit()s, or none (the
   process dies of the signal). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    char buf[128];
    int n = snprintf(buf, sizeof buf, "handler: signal %d addr=%p code=%s\n", sig, si->si_addr,
                     si->si_code == SEGV_MAPERR ? "MAPERR" : "other");
    write(1, buf, n);
    _exit(7);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "handled") == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_segv;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGSEGV, &sa, NULL);
    }
    printf("writing to NULL\n");
    *(volatile int *)0 = 1;
    printf("not reached\n");
    return 0;
}
