/* A write to a pipe with no reader: SIGPIPE's default action ends the writer; its
   parent sees WIFSIGNALED with SIGPIPE. */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    int fd[2];
    pipe(fd);
    close(fd[0]);
    pid_t pid = fork();
    if (pid == 0) {
        write(fd[1], "z", 1);
        _exit(0);                          /* not reached: SIGPIPE ends it */
    }
    int status;
    waitpid(pid, &status, 0);
    printf("child signaled=%d sig=%d\n", WIFSIGNALED(status), WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    fflush(stdout);
    write(fd[1], "z", 1);
    printf("not reached\n");
    return 0;
}
