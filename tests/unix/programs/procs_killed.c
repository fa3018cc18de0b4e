/* A child that never exits by itself; the test kills its task from outside (as
   `normach kill` does) while the parent waits for it. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    pid_t c = fork();
    if (c == 0) {
        for (;;)
            sleep(60);
    }
    printf("child started\n");
    fflush(stdout);
    int status;
    pid_t w = waitpid(c, &status, 0);
    printf("killed: same=%d signaled=%d sig=%d\n", w == c, WIFSIGNALED(status),
           WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return 0;
}
