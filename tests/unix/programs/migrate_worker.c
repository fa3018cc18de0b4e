/* A Linux program that works while it is moved between nodes: it writes a file,
   feeds a child through a pipe, and sums with two threads; every result is checked
   against what it must be, so a lost page or descriptor shows in the output. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 40

static long sums[2];

static void *adder(void *arg)
{
    long k = (long)arg, s = 0;
    for (long round = 0; round < ROUNDS; round++) {
        for (long i = 0; i < 5000; i++)
            s += (i * (k + 1)) % 7;
        struct timespec ts = {0, 15 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    sums[k] = s;
    return NULL;
}

int main(void)
{
    int p[2];
    if (pipe(p) != 0)
        return 10;
    pid_t child = fork();
    if (child == 0) {                       /* the child: sums what comes down the pipe */
        close(p[1]);
        long total = 0, v;
        while (read(p[0], &v, sizeof v) == sizeof v)
            total += v;
        _exit(total == (long)ROUNDS * (ROUNDS - 1) / 2 ? 0 : 1);
    }
    close(p[0]);
    pthread_t t[2];
    for (long k = 0; k < 2; k++)
        pthread_create(&t[k], NULL, adder, (void *)k);
    FILE *f = fopen("migrate.out", "w");
    if (!f)
        return 11;
    for (long i = 0; i < ROUNDS; i++) {
        fprintf(f, "line %ld\n", i);
        fflush(f);
        if (write(p[1], &i, sizeof i) != sizeof i)
            return 12;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (i == 3)
            printf("started\n"), fflush(stdout);
    }
    close(p[1]);
    for (int k = 0; k < 2; k++)
        pthread_join(t[k], NULL);
    int status = -1;
    if (waitpid(child, &status, 0) != child)
        return 13;
    fclose(f);
    f = fopen("migrate.out", "r");
    char line[64];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n++;
    fclose(f);
    printf("lines %d child %d sums %ld %ld\n", n, WEXITSTATUS(status), sums[0], sums[1]);
    return 0;
}
