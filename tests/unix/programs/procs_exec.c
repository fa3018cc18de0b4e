/* execve of another program in the same directory, from a forked child; the
   parent waits for it; then the process itself is replaced by it. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *sleeper(void *arg)
{
    sleep(30);                           /* ended by the execve below */
    return arg;
}

int main(int argc, char **argv)
{
    char *child_argv[] = {"procs_hello", "from-child", "two", NULL};
    char *envp[] = {"GREETING=hello", NULL};
    int bad = execve("./no-such-program", child_argv, envp);
    printf("missing: %d\n", bad);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execve("./procs_hello", child_argv, envp);
        _exit(99);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("child status %d\n", WEXITSTATUS(status));
    fflush(stdout);
    pthread_t t;
    pthread_create(&t, NULL, sleeper, NULL);
    char *self_argv[] = {"procs_hello", "replaced", NULL};
    execve("./procs_hello", self_argv, envp);
    printf("not reached\n");
    return 1;
}
