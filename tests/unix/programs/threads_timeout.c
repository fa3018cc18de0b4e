/* Futex timeouts: a condition wait and a semaphore wait that must expire, and a
 * semaphore posted by another thread that must not. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static sem_t sem, posted;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct timespec in(long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    return ts;
}

static void *poster(void *arg)
{
    (void)arg;
    sem_post(&posted);
    return 0;
}

int main(void)
{
    sem_init(&sem, 0, 0);
    sem_init(&posted, 0, 0);
    double t0 = now();
    struct timespec ts = in(200);
    pthread_mutex_lock(&lock);
    int rc = pthread_cond_timedwait(&cond, &lock, &ts);
    pthread_mutex_unlock(&lock);
    printf("cond_timedwait: %s\n", rc == ETIMEDOUT ? "ETIMEDOUT" : strerror(rc));
    ts = in(150);
    rc = sem_timedwait(&sem, &ts);
    printf("sem_timedwait: %d %s\n", rc, rc ? (errno == ETIMEDOUT ? "ETIMEDOUT" : strerror(errno)) : "ok");
    double dt = now() - t0;
    printf("waited %s\n", dt >= 0.3 ? "long enough" : "too little");
    pthread_t t;
    pthread_create(&t, 0, poster, 0);
    ts = in(30000);
    rc = sem_timedwait(&posted, &ts);
    printf("posted sem_timedwait: %d\n", rc);
    pthread_join(t, 0);
    return 0;
}
