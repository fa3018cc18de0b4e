/* Signal handlers run by raise() and kill(getpid()): a flag, siginfo, the registers and
   floating state of the interrupted code kept, SA_RESETHAND, SIG_IGN, a default death. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_int(int sig) { got = sig; printf("handler: signal %d\n", sig); }

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
    printf("siginfo: signo=%d code=%s pid_ok=%d uc=%d\n", si->si_signo,
           si->si_code == SI_USER ? "SI_USER" : si->si_code == SI_TKILL ? "SI_TKILL" : "other",
           si->si_pid == getpid(), uc != NULL);
    got = sig;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_int;
    sigaction(SIGINT, &sa, NULL);
    volatile double x = 1.25;
    raise(SIGINT);
    printf("after raise: got=%d x*3=%.4f\n", got, x * 3);
    got = 0;
    kill(getpid(), SIGINT);
    printf("after kill: got=%d\n", got);

    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
    sigaction(SIGUSR1, &sa, NULL);
    kill(getpid(), SIGUSR1);
    struct sigaction old;
    sigaction(SIGUSR1, NULL, &old);
    printf("reset to default: %d\n", old.sa_handler == SIG_DFL);

    signal(SIGUSR2, SIG_IGN);
    raise(SIGUSR2);
    printf("ignored SIGUSR2\n");
    if (argc > 1) {
        printf("now SIGTERM\n");
        raise(SIGTERM);
        printf("not reached\n");
    }
    return 3;
}
