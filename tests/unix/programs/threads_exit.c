/* Threads that end in different ways: pthread_exit with a value, a detached thread,
 * and one still blocked on a condition variable when the process exits. */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static sem_t done, blocked;
static long tids[2];

static void *exiter(void *arg)
{
    tids[0] = syscall(SYS_gettid);
    pthread_exit((char *)arg + 1);
}

static void *detached(void *arg)
{
    (void)arg;
    tids[1] = syscall(SYS_gettid);
    sem_post(&done);
    return 0;
}

static void *sleeper(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    sem_post(&blocked);
    for (;;)
        pthread_cond_wait(&never, &lock);
}

int main(void)
{
    static char text[] = "xpthread_exit value";
    pthread_t a, b, c;
    sem_init(&done, 0, 0);
    sem_init(&blocked, 0, 0);
    pthread_create(&a, 0, exiter, text);
    void *r;
    pthread_join(a, &r);
    printf("joined: %s\n", (char *)r);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_create(&b, &attr, detached, 0);
    sem_wait(&done);
    printf("detached thread ran\n");
    long me = syscall(SYS_gettid);
    printf("tids distinct: %d\n", tids[0] != me && tids[1] != me && tids[0] != tids[1]
                                  && me == getpid());
    pthread_create(&c, 0, sleeper, 0);
    sem_wait(&blocked);
    printf("exiting with a thread blocked\n");
    fflush(stdout);
    exit(3);
}
