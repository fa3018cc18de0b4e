/* Ordinary POSIX C: stdio to the console, qsort, <math.h>, the clock, an exit status. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

int main(int argc, char **argv)
{
    int v[] = {5, 3, 9, 1, 7, 2, 8};
    qsort(v, 7, sizeof v[0], cmp);
    for (int i = 0; i < 7; i++)
        printf("%d ", v[i]);
    printf("\nsqrt(2)=%.6f sin(1)=%.6f pow=%g\n", sqrt(2.0), sin(1.0), pow(2.0, 0.5));
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    volatile double x = 0;
    for (int i = 0; i < 20000; i++)
        x += i * 0.5;
    clock_gettime(CLOCK_MONOTONIC, &b);
    double dt = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    printf("monotonic %s\n", dt >= 0 ? "advances" : "goes back");
    printf("argc=%d argv1=%s pid>0=%d\n", argc, argc > 1 ? argv[1] : "-", getpid() > 0);
    char *s = malloc(100000);
    memset(s, 'x', 99999);
    s[99999] = 0;
    printf("strlen=%zu\n", strlen(s));
    free(s);
    fprintf(stderr, "to stderr\n");
    return 3;
}
