/* POSIX threads: a mutex-guarded counter, a condition variable handshake, __thread
 * variables, pthread_join and its results. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define NTHREADS 4
#define LOOPS 1000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long counter;
static int go, arrived;
static __thread int mine = -1;
static __thread char tag[16] = "init";

static void *worker(void *arg)
{
    int id = (int)(long)arg;
    mine = id * 10;
    tag[0] = 'A' + id;
    tag[1] = 0;
    pthread_mutex_lock(&lock);
    arrived++;
    pthread_cond_broadcast(&cond);
    while (!go)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < LOOPS; i++) {
        pthread_mutex_lock(&lock);
        counter++;
        pthread_mutex_unlock(&lock);
    }
    char *r = malloc(32);
    snprintf(r, 32, "thread %d mine=%d tag=%s", id, mine, tag);
    return r;
}

int main(void)
{
    pthread_t t[NTHREADS];
    mine = 7;
    for (long i = 0; i < NTHREADS; i++)
        if (pthread_create(&t[i], 0, worker, (void *)i) != 0) {
            printf("pthread_create failed\n");
            return 1;
        }
    pthread_mutex_lock(&lock);
    while (arrived < NTHREADS)
        pthread_cond_wait(&cond, &lock);
    printf("all %d threads arrived\n", arrived);
    go = 1;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < NTHREADS; i++) {
        void *r;
        if (pthread_join(t[i], &r) != 0) {
            printf("join failed\n");
            return 1;
        }
        printf("%s\n", (char *)r);
        free(r);
    }
    printf("counter=%ld (expected %d)\n", counter, NTHREADS * LOOPS);
    printf("main mine=%d tag=%s\n", mine, tag);
    return counter == NTHREADS * LOOPS ? 5 : 1;
}
