/*
 * Exception ports. Part A: the main thread's exception port is served by a
 * second thread of this task; the main thread writes a read-only page, the
 * handler makes it writable with vm_protect and replies KERN_SUCCESS, and the
 * write completes. Part B: a child task's exception port is served by the
 * parent: the child's thread faults, the parent fixes the child's page.
 */
#include <mach.h>
#include <stdio.h>
#include <string.h>
#include "check.h"

#define TIMEOUT_MS 60000

typedef union {
    exception_raise_request_t req;
    uint8_t space[512];
} exc_buffer_t;

struct seen {
    volatile uint64_t handled;
    int exception;
    unsigned code_count;
    int64_t code0, code1;
    kern_return_t protect_kr;
    mach_msg_return_t rcv;
};

static struct seen part_a;
static vm_address_t page_a;

/* Receives one exception_raise on `port`, makes [page, page + size) writable in the
   faulting task, replies. Returns the receive's code. */
static mach_msg_return_t serve_one(mach_port_t port, vm_address_t page, struct seen *s)
{
    exc_buffer_t buf;
    mach_msg_return_t mr;

    memset(&buf, 0, sizeof buf);
    mr = mach_msg(&buf.req.Head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof buf, port,
                  TIMEOUT_MS, MACH_PORT_NULL);
    s->rcv = mr;
    if (mr != MACH_MSG_SUCCESS)
        return mr;
    s->exception = buf.req.exception;
    s->code_count = buf.req.codeCnt;
    s->code0 = buf.req.codeCnt > 0 ? buf.req.code[0] : -1;
    s->code1 = buf.req.codeCnt > 1 ? buf.req.code[1] : -1;
    if (buf.req.Head.msgh_id != MACH_EXCEPTION_RAISE_ID ||
        !(buf.req.Head.msgh_bits & MACH_MSGH_BITS_COMPLEX) ||
        buf.req.msgh_body.msgh_descriptor_count != 2)
        s->exception = -buf.req.Head.msgh_id;
    s->protect_kr = vm_protect(buf.req.task.name, page, vm_page_size, FALSE, VM_PROT_DEFAULT);

    mach_port_deallocate(mach_task_self(), buf.req.thread.name);
    mach_port_deallocate(mach_task_self(), buf.req.task.name);
    __atomic_store_n(&s->handled, 1, __ATOMIC_RELEASE);    /* before the reply resumes the faulter */
    return exc_reply(&buf.req, KERN_SUCCESS);
}

static void handler_thread(void *arg)
{
    serve_one((mach_port_t)(uintptr_t)arg, page_a, &part_a);
}

static void check_seen(const struct seen *s, vm_address_t addr, const char *who)
{
    CHECK(s->rcv == MACH_MSG_SUCCESS, "%s: receive returned %#x", who, (unsigned)s->rcv);
    CHECK(s->exception == EXC_BAD_ACCESS, "%s: exception %d", who, s->exception);
    CHECK(s->code_count >= 2, "%s: %u codes", who, s->code_count);
    CHECK(s->code0 == KERN_PROTECTION_FAILURE, "%s: code[0] %ld", who, (long)s->code0);
    /* normach reports the faulting page (docs/guest-abi.md, Exceptions) */
    CHECK((uint64_t)s->code1 == (addr & ~(vm_address_t)(vm_page_size - 1)),
          "%s: code[1] %#lx, expected the page of %#lx", who,
          (unsigned long)s->code1, (unsigned long)addr);
    CHECK(s->protect_kr == KERN_SUCCESS, "%s: vm_protect returned %d", who, s->protect_kr);
    printf("ok   %s: EXC_BAD_ACCESS, KERN_PROTECTION_FAILURE at %#lx, fixed, resumed\n", who,
           (unsigned long)addr);
}

static mach_port_t new_exception_port(void)
{
    mach_port_t port;
    KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &port));
    KR(mach_port_insert_right(mach_task_self(), port, port, MACH_MSG_TYPE_MAKE_SEND));
    return port;
}

static void part_a_thread_port(void)
{
    mach_port_t port = new_exception_port();
    thread_t me = mach_thread_self();
    thread_t handler;

    KR(vm_allocate(mach_task_self(), &page_a, vm_page_size, TRUE));
    KR(vm_protect(mach_task_self(), page_a, vm_page_size, FALSE, VM_PROT_READ));
    KR(thread_set_exception_ports(me, EXC_MASK_BAD_ACCESS, port, EXCEPTION_DEFAULT,
                                  x86_THREAD_STATE64));
    KR(normach_thread_spawn(mach_task_self(), handler_thread, (void *)(uintptr_t)port,
                            64 * 1024, &handler));

    volatile uint64_t *p = (volatile uint64_t *)(page_a + 24);
    *p = 0xabcdef;                              /* faults; the handler fixes it */
    CHECK(*p == 0xabcdef, "the write did not complete");
    CHECK(part_a.handled == 1, "the handler did not run");
    check_seen(&part_a, page_a + 24, "thread exception port");
    KR(thread_set_exception_ports(me, EXC_MASK_BAD_ACCESS, MACH_PORT_NULL, EXCEPTION_DEFAULT,
                                  x86_THREAD_STATE64));
    mach_port_deallocate(mach_task_self(), me);
    mach_port_deallocate(mach_task_self(), handler);
}

/* -- part B ---------------------------------------------------------------------- */

struct child_report {
    uint64_t done;
    uint64_t value;
};

static volatile struct child_report *report;    /* SHARE page */
static vm_address_t page_b;                     /* read-only, COPY */

static void child_main(void *arg)
{
    (void)arg;
    mach_init();
    volatile uint64_t *p = (volatile uint64_t *)(page_b + 8);
    *p = 0x5151;                                /* faults; the parent fixes it */
    report->value = *p;
    __atomic_store_n(&report->done, 1, __ATOMIC_RELEASE);
    exit(0);
}

static void part_b_task_port(void)
{
    task_t self = mach_task_self(), child;
    mach_port_t port = new_exception_port();
    vm_address_t share = 0;
    struct seen seen_b;

    memset(&seen_b, 0, sizeof seen_b);
    KR(vm_allocate(self, &share, vm_page_size, TRUE));
    KR(vm_inherit(self, share, vm_page_size, VM_INHERIT_SHARE));
    report = (volatile struct child_report *)share;
    KR(vm_allocate(self, &page_b, vm_page_size, TRUE));
    KR(vm_protect(self, page_b, vm_page_size, FALSE, VM_PROT_READ));

    fflush(stdout);
    KR(task_create(self, NULL, 0, TRUE, &child));
    KR(task_set_exception_ports(child, EXC_MASK_BAD_ACCESS, port, EXCEPTION_DEFAULT,
                                x86_THREAD_STATE64));
    KR(normach_thread_spawn(child, child_main, NULL, 64 * 1024, NULL));

    KR(serve_one(port, page_b, &seen_b));
    check_seen(&seen_b, page_b + 8, "task exception port (handler in another task)");
    CHECK(wait_for(&report->done, 1, 10000000), "the child never finished");
    CHECK(report->value == 0x5151, "child read back %#lx", (unsigned long)report->value);

    /* The parent's own page is untouched and still read-only. */
    vm_address_t r = page_b;
    vm_size_t size;
    vm_region_basic_info_data_t info;
    mach_msg_type_number_t count = VM_REGION_BASIC_INFO_COUNT;
    KR(vm_region(self, &r, &size, VM_REGION_BASIC_INFO, (vm_region_info_t)&info, &count, NULL));
    CHECK(r == page_b && info.protection == VM_PROT_READ, "parent's page protection %lu",
          (unsigned long)info.protection);
    CHECK(((volatile uint64_t *)page_b)[1] == 0, "parent's page changed");
    printf("ok   the child continued after the fix; the parent's page is unchanged\n");
    task_terminate(child);                      /* it may already have exited */
}

int main(void)
{
    part_a_thread_port();
    part_b_task_port();
    printf("exc_handler: PASS\n");
    return 0;
}
