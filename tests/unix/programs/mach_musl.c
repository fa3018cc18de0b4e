/* A Linux (musl) program that is also a Mach program: musl's printf("%f"), libm, files
 * and pthreads beside Mach calls from normach's <mach.h> -- mach_task_self, vm_allocate,
 * ports and mach_msg between two pthreads, task_info and thread_info. */
#include <mach.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUEST_ID 4242

typedef struct {
    mach_msg_header_t head;
    int32_t value;
    char text[28];
} request_t;

typedef struct {
    mach_msg_header_t head;
    int32_t value;
    char text[28];
    char trailer[64];
} request_rcv_t;

static mach_port_t service;          /* main holds the receive right, the sender a send right */

#define CHECK(what, kr)                                                        \
    do {                                                                       \
        kern_return_t kr_ = (kr);                                              \
        if (kr_ != KERN_SUCCESS) {                                             \
            printf("%s failed: %d\n", what, kr_);                              \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

/* The sending pthread: a request to `service`, the reply on a reply port of its own. */
static void *sender(void *arg)
{
    int32_t value = (int32_t)(long)arg;
    mach_port_t reply = mach_reply_port();
    union { request_t req; request_rcv_t rcv; } msg;
    mach_msg_return_t mr;
    thread_basic_info_data_t tinfo;
    mach_msg_type_number_t count = THREAD_BASIC_INFO_COUNT;
    mach_port_t me = mach_thread_self();

    CHECK("thread_info", thread_info(me, THREAD_BASIC_INFO, (thread_info_t)&tinfo, &count));
    printf("sender: thread_info suspend_count=%llu\n", (unsigned long long)tinfo.suspend_count);
    mach_port_deallocate(mach_task_self(), me);

    memset(&msg, 0, sizeof msg);
    msg.req.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    msg.req.head.msgh_size = sizeof(request_t);
    msg.req.head.msgh_remote_port = service;
    msg.req.head.msgh_local_port = reply;
    msg.req.head.msgh_id = REQUEST_ID;
    msg.req.value = value;
    snprintf(msg.req.text, sizeof msg.req.text, "%.2f", value / 8.0);
    mr = mach_msg(&msg.req.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof(request_t), sizeof msg,
                  reply, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    CHECK("sender mach_msg", mr);
    printf("sender: reply id=%d value=%d text=%s\n", msg.rcv.head.msgh_id, msg.rcv.value,
           msg.rcv.text);
    mach_port_destroy(mach_task_self(), reply);
    return (void *)(long)(msg.rcv.value + 1);
}

int main(void)
{
    mach_port_t self = mach_task_self();
    vm_address_t addr = 0;
    vm_size_t size = 3 * vm_page_size;
    pthread_t th;
    void *result;
    union { request_rcv_t rcv; request_t reply; } msg;
    mach_msg_return_t mr;
    task_basic_info_data_t info;
    mach_msg_type_number_t count = TASK_BASIC_INFO_COUNT;
    FILE *f;
    char line[64];
    double x;

    /* musl: printf("%f"), libm, a file. */
    printf("sqrt(2)=%f pi=%.5f exp(1)=%g\n", sqrt(2.0), acos(-1.0), exp(1.0));
    f = fopen("mach_musl.txt", "w");
    if (!f)
        return 2;
    fprintf(f, "%f\n", 1.0 / 3.0);
    fclose(f);
    f = fopen("mach_musl.txt", "r");
    if (!f || !fgets(line, sizeof line, f))
        return 3;
    fclose(f);
    x = strtod(line, NULL);
    printf("file: %s", line);
    printf("file*3=%.4f\n", x * 3);

    /* Mach: the task port, memory. */
    printf("task_self: %s\n", self != MACH_PORT_NULL && self == mach_task_self_ ? "ok" : "null");
    CHECK("vm_allocate", vm_allocate(self, &addr, size, TRUE));
    memset((void *)addr, 0x5a, size);
    ((char *)addr)[size - 1] = 7;
    printf("vm_allocate: %s, last=%d\n", addr % vm_page_size == 0 ? "aligned" : "unaligned",
           ((char *)addr)[size - 1]);
    CHECK("vm_deallocate", vm_deallocate(self, addr, size));
    printf("vm_deallocate: ok\n");

    /* Mach: a port whose receive right main holds; a pthread sends to it. */
    CHECK("mach_port_allocate", mach_port_allocate(self, MACH_PORT_RIGHT_RECEIVE, &service));
    CHECK("mach_port_insert_right",
          mach_port_insert_right(self, service, service, MACH_MSG_TYPE_MAKE_SEND));
    if (pthread_create(&th, NULL, sender, (void *)20L) != 0)
        return 4;
    memset(&msg, 0, sizeof msg);
    mr = mach_msg(&msg.rcv.head, MACH_RCV_MSG, 0, sizeof msg, service, MACH_MSG_TIMEOUT_NONE,
                  MACH_PORT_NULL);
    CHECK("main mach_msg receive", mr);
    printf("main: request id=%d value=%d text=%s\n", msg.rcv.head.msgh_id, msg.rcv.value,
           msg.rcv.text);

    /* The sender waits for the reply: two threads now. */
    CHECK("task_info", task_info(self, TASK_BASIC_INFO, (task_info_t)&info, &count));
    printf("task_info: threads=%llu\n", (unsigned long long)info.thread_count);

    msg.reply.head.msgh_bits = MACH_MSGH_BITS(MACH_MSGH_BITS_REMOTE(msg.rcv.head.msgh_bits), 0);
    msg.reply.head.msgh_size = sizeof(request_t);
    msg.reply.head.msgh_local_port = MACH_PORT_NULL;
    msg.reply.head.msgh_id = REQUEST_ID + 100;
    msg.reply.value = msg.rcv.value * 2;
    snprintf(msg.reply.text, sizeof msg.reply.text, "%.1f", sqrt(msg.reply.value));
    CHECK("main mach_msg send", mach_msg(&msg.reply.head, MACH_SEND_MSG, sizeof(request_t), 0,
                                         MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL));
    pthread_join(th, &result);
    printf("join: %ld\n", (long)result);
    CHECK("mach_port_destroy", mach_port_destroy(self, service));
    printf("done\n");
    return 0;
}
