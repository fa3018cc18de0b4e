/* sigprocmask: a blocked signal stays pending and is delivered when it is unblocked. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static volatile sig_atomic_t count;

static void on_usr1(int sig) { count++; printf("handler %d (count %d)\n", sig, (int)count); }

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGUSR1, on_usr1);
    sigset_t set, old, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, &old);
    raise(SIGUSR1);
    raise(SIGUSR1);                     /* one pending signal, not two */
    sigpending(&pend);
    printf("blocked: count=%d pending=%d\n", (int)count, sigismember(&pend, SIGUSR1));
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("unblocked: count=%d\n", (int)count);
    sigprocmask(SIG_BLOCK, NULL, &old);
    printf("SIGUSR1 still blocked: %d\n", sigismember(&old, SIGUSR1));
    sigfillset(&set);
    sigprocmask(SIG_SETMASK, &set, NULL);
    sigprocmask(SIG_SETMASK, NULL, &old);
    printf("KILL blockable: %d STOP blockable: %d\n", sigismember(&old, SIGKILL),
           sigismember(&old, SIGSTOP));
    return 0;
}
