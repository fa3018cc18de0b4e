/* waitid (P_PID, P_ALL, WNOHANG, si_code), a child that dies of a fault without
   calling exit, clone(SIGCHLD) with the tid words, vfork, ECHILD. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    pid_t a = fork();
    if (a == 0)
        _exit(33);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r = waitid(P_PID, a, &si, WEXITED);
    printf("waitid: %d signo=%d code=%d pid-ok=%d status=%d\n", r, si.si_signo,
           si.si_code == CLD_EXITED, si.si_pid == a, si.si_status);

    pid_t b = fork();
    if (b == 0) {
        usleep(200000);
        _exit(4);
    }
    memset(&si, 0, sizeof si);
    r = waitid(P_ALL, 0, &si, WEXITED | WNOHANG);
    printf("waitid nohang: %d pid=%d\n", r, si.si_pid);
    r = waitid(P_ALL, 0, &si, WEXITED | WNOWAIT);
    printf("waitid nowait: %d status=%d\n", r, si.si_status);
    int status;
    printf("still there: %d\n", waitpid(b, &status, 0) == b && WEXITSTATUS(status) == 4);

    pid_t c = fork();
    if (c == 0) {
        *(volatile int *)0 = 1;          /* a fault: the child dies without exit */
        _exit(0);
    }
    waitpid(c, &status, 0);
    printf("faulted child: exited=%d signaled=%d\n", WIFEXITED(status), WIFSIGNALED(status));

    pid_t ptid = 0, ctid = 0;
    long d = syscall(SYS_clone, CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | SIGCHLD, 0,
                     &ptid, &ctid, 0);
    if (d == 0)
        _exit(ctid == syscall(SYS_getpid) ? 12 : 13);
    waitpid(d, &status, 0);
    printf("clone: ptid-ok=%d status=%d parent ctid=%d\n", ptid == d, WEXITSTATUS(status), ctid);

    pid_t v = vfork();
    if (v == 0)
        _exit(21);
    waitpid(v, &status, 0);
    printf("vfork: %d\n", WEXITSTATUS(status));

    errno = 0;
    printf("echild: %d %d\n", waitpid(-1, &status, 0), errno == ECHILD);
    errno = 0;
    printf("waitid echild: %d %d\n", waitid(P_ALL, 0, &si, WEXITED), errno == ECHILD);
    return 0;
}
