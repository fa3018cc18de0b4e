/* fork, a pipe from child to parent, waitpid with the exit status, copy-on-write. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int shared_value = 42;

int main(void)
{
    int fd[2];
    if (pipe(fd) != 0) {
        perror("pipe");
        return 1;
    }
    char *heap = malloc(64);
    strcpy(heap, "parent heap");
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        close(fd[0]);
        shared_value = 7;                 /* the parent must not see it */
        strcpy(heap, "child heap");
        char msg[128];
        int n = snprintf(msg, sizeof msg, "child: value=%d heap=%s ppid-ok=%d", shared_value,
                         heap, getppid() > 0);
        write(fd[1], msg, n);
        close(fd[1]);
        _exit(5);
    }
    close(fd[1]);
    char buf[256];
    int total = 0, n;
    while ((n = read(fd[0], buf + total, sizeof buf - 1 - total)) > 0)
        total += n;
    buf[total] = 0;
    printf("parent read: %s\n", buf);
    int status = 0;
    pid_t w = waitpid(pid, &status, 0);
    printf("waitpid same pid: %d\n", w == pid);
    printf("exited=%d status=%d\n", WIFEXITED(status), WEXITSTATUS(status));
    printf("parent: value=%d heap=%s\n", shared_value, heap);
    printf("wait again: %d\n", waitpid(-1, &status, WNOHANG));

    /* several children, reaped in any order with wait() */
    for (int i = 0; i < 3; i++) {
        pid_t c = fork();
        if (c == 0)
            _exit(10 + i);
    }
    int sum = 0;
    for (int i = 0; i < 3; i++) {
        if (wait(&status) > 0 && WIFEXITED(status))
            sum += WEXITSTATUS(status);
    }
    printf("sum of statuses: %d\n", sum);
    printf("no more children: %d\n", wait(&status));
    fflush(stdout);
    return 3;
}
