/* Resource bombs: a program that asks its node for ever more of something.  Each must
 * end in a Mach error (or, for memory touched, an exception), never in the node
 * holding what it asked for.  argv[1] = memory MIB | threads | ports | tasks |
 * messages | copies | portarrays.  Exits 0 when the node refused in the expected way. */
#include <mach.h>
#include <stdlib.h>
#include <string.h>
#include "../../../guest/tests/check.h"

static void idle(void *arg)
{
    mach_port_t p = mach_reply_port();
    struct { mach_msg_header_t h; char room[64]; } m;
    (void)arg;
    for (;;)
        mach_msg(&m.h, MACH_RCV_MSG, 0, sizeof m, p, 0, MACH_PORT_NULL);
}

static int memory(unsigned long mib)
{
    vm_address_t a;
    KR(vm_allocate(mach_task_self(), &a, mib << 20, TRUE));
    for (unsigned long off = 0; off < (mib << 20); off += 4096)
        *(volatile char *)(a + off) = 1;                  /* dies here when the node is full */
    printf("touched %lu MiB\n", mib);
    return 0;
}

static int threads(void)
{
    thread_t th;
    kern_return_t kr;
    int n = 0;
    while ((kr = normach_thread_spawn(mach_task_self(), idle, 0, 16384, &th)) == KERN_SUCCESS)
        n++;
    printf("threads: %d, then %d\n", n, kr);
    CHECK(kr == KERN_RESOURCE_SHORTAGE || kr == KERN_NO_SPACE, "thread_create returned %d", kr);
    return 0;
}

static int ports(void)
{
    mach_port_t p;
    kern_return_t kr;
    int n = 0;
    while ((kr = mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &p)) == KERN_SUCCESS)
        n++;
    printf("ports: %d, then %d\n", n, kr);
    CHECK(kr == KERN_RESOURCE_SHORTAGE || kr == KERN_NO_SPACE, "mach_port_allocate: %d", kr);
    return 0;
}

static int tasks(void)
{
    task_t t;
    kern_return_t kr;
    int n = 0;
    while ((kr = task_create(mach_task_self(), 0, 0, FALSE, &t)) == KERN_SUCCESS)
        n++;
    printf("tasks: %d, then %d\n", n, kr);
    CHECK(kr == KERN_RESOURCE_SHORTAGE || kr == KERN_NO_SPACE, "task_create returned %d", kr);
    return 0;
}

static int messages(void)
{
    enum { SIZE = 1 << 20 };
    struct big { mach_msg_header_t h; char data[SIZE]; } *m;
    vm_address_t a;
    mach_msg_return_t mr = MACH_MSG_SUCCESS;
    int n = 0;
    KR(vm_allocate(mach_task_self(), &a, sizeof *m, TRUE));
    m = (struct big *)a;
    memset(m->data, 'x', SIZE);
    while (mr == MACH_MSG_SUCCESS) {
        mach_port_t p;
        mach_port_limits_t lim = { 16 };
        KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &p));
        KR(mach_port_set_attributes(mach_task_self(), p, MACH_PORT_LIMITS_INFO,
                                    (mach_port_info_t)&lim, MACH_PORT_LIMITS_INFO_COUNT));
        for (int i = 0; i < 16 && mr == MACH_MSG_SUCCESS; i++) {
            m->h.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MAKE_SEND, 0);
            m->h.msgh_size = sizeof *m;
            m->h.msgh_remote_port = p;
            m->h.msgh_local_port = MACH_PORT_NULL;
            mr = mach_msg(&m->h, MACH_SEND_MSG | MACH_SEND_TIMEOUT, sizeof *m, 0,
                          MACH_PORT_NULL, 0, MACH_PORT_NULL);
            n += mr == MACH_MSG_SUCCESS;
        }
    }
    printf("messages: %d MiB queued, then %#x\n", n, mr);
    CHECK(mr == MACH_SEND_NO_BUFFER, "send returned %#x", mr);
    return 0;
}

static int copies(void)
{
    vm_address_t a;
    mach_msg_header_t h;
    kern_return_t kr;
    KR(vm_allocate(mach_task_self(), &a, 1UL << 30, TRUE));
    kr = vm_write(mach_task_self(), a, (pointer_t)a, 1U << 30);   /* 1 GiB through the kernel */
    CHECK(kr == KERN_RESOURCE_SHORTAGE, "vm_write of 1 GiB returned %d", kr);
    memset(&h, 0, sizeof h);
    h.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MAKE_SEND, 0);
    h.msgh_remote_port = mach_reply_port();
    kr = mach_msg((mach_msg_header_t *)a, MACH_SEND_MSG, 1U << 30, 0, MACH_PORT_NULL, 0,
                  MACH_PORT_NULL);
    CHECK(kr == MACH_SEND_TOO_LARGE, "a 1 GiB message returned %#x", kr);
    printf("copies refused\n");
    return 0;
}

/* Port arrays that name far more ports than a message may carry: 256 descriptors,
 * each of 1M names, all pointing at one 4 MiB region (the kernel would build 256M
 * names before checking one right). */
static int portarrays(void)
{
    enum { N = 256, COUNT = 1 << 20 };
    struct { mach_msg_header_t h; mach_msg_body_t b; mach_msg_ool_ports_descriptor_t d[N]; } *m;
    vm_address_t names, a;
    mach_msg_return_t mr;
    KR(vm_allocate(mach_task_self(), &names, COUNT * 4, TRUE));
    KR(vm_allocate(mach_task_self(), &a, sizeof *m, TRUE));
    m = (void *)a;
    m->h.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MAKE_SEND, 0) | MACH_MSGH_BITS_COMPLEX;
    m->h.msgh_size = sizeof *m;
    m->h.msgh_remote_port = mach_reply_port();
    m->b.msgh_descriptor_count = N;
    for (int i = 0; i < N; i++) {
        m->d[i].address = names;
        m->d[i].count = COUNT;
        m->d[i].disposition = MACH_MSG_TYPE_COPY_SEND;
        m->d[i].type = MACH_MSG_OOL_PORTS_DESCRIPTOR;
    }
    mr = mach_msg(&m->h, MACH_SEND_MSG, sizeof *m, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL);
    CHECK(mr == MACH_SEND_TOO_LARGE, "256M names in port arrays returned %#x", mr);
    printf("port arrays refused\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    if (!strcmp(argv[1], "memory"))
        return memory(argc > 2 ? strtoul(argv[2], 0, 0) : 512);
    if (!strcmp(argv[1], "threads"))
        return threads();
    if (!strcmp(argv[1], "ports"))
        return ports();
    if (!strcmp(argv[1], "tasks"))
        return tasks();
    if (!strcmp(argv[1], "messages"))
        return messages();
    if (!strcmp(argv[1], "copies"))
        return copies();
    if (!strcmp(argv[1], "portarrays"))
        return portarrays();
    return 2;
}
