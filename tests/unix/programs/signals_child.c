/* Signals between processes: a child dies of SIGSEGV (the parent sees WIFSIGNALED); a
   child waits in pause() or sigsuspend() until its parent's kill() runs its handler. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static volatile sig_atomic_t chld;

static void on_usr1(int sig) { got = sig; }

static void on_chld(int sig) { chld++; }

static void report(const char *what, int st)
{
    if (WIFSIGNALED(st))
        printf("%s: killed by signal %d\n", what, WTERMSIG(st));
    else
        printf("%s: exit %d\n", what, WEXITSTATUS(st));
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    int st;
    pid_t pid = fork();
    if (pid == 0) {
        *(volatile int *)0 = 1;
        _exit(1);
    }
    waitpid(pid, &st, 0);
    report("segv child", st);

    signal(SIGUSR1, on_usr1);
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, &old);        /* no signal lost before the child waits */
    pid = fork();
    if (pid == 0) {
        sigsuspend(&old);
        _exit(got == SIGUSR1 ? 20 : 21);
    }
    kill(pid, SIGUSR1);
    waitpid(pid, &st, 0);
    report("sigsuspend child", st);
    sigprocmask(SIG_SETMASK, &old, NULL);

    pid = fork();
    if (pid == 0) {
        pause();
        _exit(got == SIGUSR1 ? 30 : 31);
    }
    usleep(200000);
    kill(pid, SIGUSR1);
    waitpid(pid, &st, 0);
    report("pause child", st);

    pid = fork();
    if (pid == 0) {
        for (;;)
            pause();
    }
    usleep(100000);
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    report("killed child", st);

    signal(SIGCHLD, on_chld);
    pid = fork();
    if (pid == 0) {
        usleep(100000);
        _exit(5);
    }
    waitpid(pid, &st, 0);
    report("SIGCHLD child", st);
    printf("SIGCHLD handled %d time(s)\n", (int)chld);
    return 0;
}
