/* `normach demo --linux`: an ordinary POSIX C program (built against musl, nothing of
   normach in it) that keeps a log file and a child busy while it is moved between
   nodes.  Each round it appends a line to demo.log, sends the round's number to its
   child down one pipe and reads the child's running sum back up another; it checks
   every answer and, at the end, its child's exit status and the file it wrote. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int full(int fd, void *buf, size_t n, int writing)
{
    char *p = buf;
    while (n) {
        ssize_t k = writing ? write(fd, p, n) : read(fd, p, n);
        if (k <= 0)
            return -1;
        p += k, n -= (size_t)k;
    }
    return 0;
}

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? atol(argv[1]) : 30;
    int down[2], up[2];
    if (pipe(down) != 0 || pipe(up) != 0)
        return 10;
    pid_t child = fork();
    if (child < 0)
        return 11;
    if (child == 0) {                       /* the child: answers each number with the sum so far */
        close(down[1]), close(up[0]);
        long total = 0, v, got = 0;
        while (read(down[0], &v, sizeof v) == sizeof v) {
            total += v, got++;
            if (full(up[1], &total, sizeof total, 1))
                _exit(2);
        }
        _exit(got == rounds ? 0 : 1);
    }
    close(down[0]), close(up[1]);
    printf("parent pid %d, child pid %d\n", (int)getpid(), (int)child);
    fflush(stdout);
    FILE *f = fopen("demo.log", "w");
    if (!f)
        return 12;
    long expect = 0, wrong = 0;
    for (long i = 1; i <= rounds; i++) {
        fprintf(f, "round %ld: sum of 1..%ld is %ld\n", i, i, expect + i);
        fflush(f);
        long sum;
        if (full(down[1], &i, sizeof i, 1) || full(up[0], &sum, sizeof sum, 0))
            return 13;
        expect += i;
        wrong += sum != expect;
        printf("round %ld: sent %ld, child answered %ld%s\n", i, i, sum, sum == expect ? "" : " WRONG");
        fflush(stdout);
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    close(down[1]);
    int status = -1;
    if (waitpid(child, &status, 0) != child)
        return 14;
    fclose(f);
    f = fopen("demo.log", "r");
    if (!f)
        return 15;
    char line[128];
    long n = 0;
    while (fgets(line, sizeof line, f))
        n++;
    fclose(f);
    printf("child exited with status %d; demo.log has %ld lines; %ld wrong answers\n",
           WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), n, wrong);
    return wrong || n != rounds || !WIFEXITED(status) || WEXITSTATUS(status) ? 1 : 0;
}
