/* Many short threads: created, run, ended and joined in rounds (thread creation and
 * exit, CLONE_CHILD_CLEARTID's wake of pthread_join). */
#include <pthread.h>
#include <stdio.h>

static void *twice(void *a) { return (void *)(2 * (long)a); }

int main(void)
{
    long sum = 0;
    for (long i = 0; i < 30; i++) {
        pthread_t t[3];
        for (long j = 0; j < 3; j++)
            if (pthread_create(&t[j], 0, twice, (void *)(i + j)) != 0)
                return 1;
        for (long j = 0; j < 3; j++) {
            void *r;
            pthread_join(t[j], &r);
            sum += (long)r;
        }
    }
    printf("sum=%ld\n", sum);
    return 0;
}
