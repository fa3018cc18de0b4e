/*
 * A parallel matrix multiply over shared memory: C = A x B (N x N doubles).  The
 * task clones itself onto node argv[1] (its own node: both halves share one
 * node's CPU), starts a thread in the clone for the lower half of C and computes
 * the upper half itself.  A and B are read on both nodes (read copies), each
 * half of C is written by one node only (rows of a half fill whole pages).
 * Exits 0 if C is right (one entry per row is checked).
 */
#include <mach.h>
#include <stdio.h>
#include <stdlib.h>

#define N 256

struct work {
    double a[N][N], b[N][N], c[N][N];
    volatile uint64_t done;
};

static struct work *w;

static void rows(int from, int to)
{
    for (int i = from; i < to; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < N; k++)
                s += w->a[i][k] * w->b[k][j];
            w->c[i][j] = s;
        }
}

static void clone_entry(void *arg)
{
    (void)arg;
    rows(N / 2, N);
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
    for (;;)
        swtch_pri(0);
}

int main(int argc, char **argv)
{
    task_t clone;
    vm_address_t addr = 0;
    int there = argc > 1 ? atoi(argv[1]) : 0;

    if (vm_allocate(mach_task_self(), &addr, sizeof(struct work), TRUE) != KERN_SUCCESS)
        return 2;
    w = (struct work *)addr;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            w->a[i][j] = (double)((i + j) % 7);
            w->b[i][j] = (double)((i * j) % 5);
        }
    if (norma_task_clone(mach_task_self(), TRUE, there, &clone) != KERN_SUCCESS)
        return 3;
    if (normach_thread_spawn(clone, clone_entry, 0, 64 * 1024, NULL) != KERN_SUCCESS)
        return 4;
    rows(0, N / 2);
    while (!__atomic_load_n(&w->done, __ATOMIC_ACQUIRE))
        swtch_pri(0);
    task_terminate(clone);
    for (int i = 0; i < N; i++) {               /* check one entry per row (both halves) */
        int j = (i * 37) % N;
        double s = 0;
        for (int k = 0; k < N; k++)
            s += (double)((i + k) % 7) * (double)((k * j) % 5);
        if (w->c[i][j] != s) {
            printf("matmul: c[%d][%d] = %f, expected %f\n", i, j, w->c[i][j], s);
            return 1;
        }
    }
    return 0;
}
