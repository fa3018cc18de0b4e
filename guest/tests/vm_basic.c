/*
 * vm_allocate / vm_protect / vm_inherit / vm_read / vm_write / vm_deallocate
 * on this task and on a child task, and the codes of bad calls.
 */
#include <mach.h>
#include <stdio.h>
#include <string.h>
#include "check.h"

static uint64_t global_marker = 0x1122334455667788ULL;

static void self_tests(void)
{
    task_t self = mach_task_self();
    vm_address_t a = 0, fixed;
    pointer_t data;
    mach_msg_type_number_t count;
    vm_size_t size;
    vm_region_basic_info_data_t info;
    mach_msg_type_number_t info_count = VM_REGION_BASIC_INFO_COUNT;
    mach_port_t object_name;

    CHECK(vm_page_size == 4096, "vm_page_size %lu", (unsigned long)vm_page_size);

    KR(vm_allocate(self, &a, 4 * vm_page_size, TRUE));
    CHECK(a != 0 && a % vm_page_size == 0, "address %#lx", (unsigned long)a);
    printf("ok   vm_allocate anywhere -> %#lx\n", (unsigned long)a);
    for (size_t i = 0; i < 4 * vm_page_size; i++)
        CHECK(((volatile uint8_t *)a)[i] == 0, "byte %lu not zero-filled", (unsigned long)i);
    memset((void *)a, 0x5a, 4 * vm_page_size);
    printf("ok   zero-filled, writable\n");

    /* A fixed allocation over memory in use. */
    fixed = a;
    EXPECT_KR(KERN_NO_SPACE, vm_allocate(self, &fixed, vm_page_size, FALSE));

    /* vm_region describes it. */
    vm_address_t r = a;
    KR(vm_region(self, &r, &size, VM_REGION_BASIC_INFO, (vm_region_info_t)&info, &info_count,
                 &object_name));
    CHECK(r == a && size == 4 * vm_page_size, "region %#lx + %#lx", (unsigned long)r,
          (unsigned long)size);
    CHECK(info.protection == VM_PROT_DEFAULT && info.max_protection == VM_PROT_ALL,
          "protection %lu/%lu", (unsigned long)info.protection,
          (unsigned long)info.max_protection);
    CHECK(info.inheritance == VM_INHERIT_DEFAULT, "inheritance %lu",
          (unsigned long)info.inheritance);
    printf("ok   vm_region: %#lx + %#lx prot %lu/%lu\n", (unsigned long)r, (unsigned long)size,
           (unsigned long)info.protection, (unsigned long)info.max_protection);

    /* vm_write / vm_read on itself. */
    const char msg[] = "written by vm_write";
    KR(vm_write(self, a + 100, (pointer_t)(uintptr_t)msg, sizeof msg));
    CHECK(memcmp((void *)(a + 100), msg, sizeof msg) == 0, "vm_write did not land");
    KR(vm_read(self, a + 100, sizeof msg, &data, &count));
    CHECK(count == sizeof msg && memcmp((void *)data, msg, sizeof msg) == 0,
          "vm_read returned %u bytes", count);
    CHECK(data != a + 100, "vm_read data is a fresh region");
    KR(vm_deallocate(self, data & ~(vm_page_size - 1), vm_page_size));
    printf("ok   vm_write / vm_read on self\n");

    /* vm_protect: read-only page, maximum protection, bad bits. */
    KR(vm_protect(self, a, vm_page_size, FALSE, VM_PROT_READ));
    EXPECT_KR(KERN_PROTECTION_FAILURE, vm_write(self, a, (pointer_t)(uintptr_t)msg, 4));
    KR(vm_protect(self, a, vm_page_size, FALSE, VM_PROT_DEFAULT));
    KR(vm_protect(self, a + vm_page_size, vm_page_size, TRUE, VM_PROT_READ));
    EXPECT_KR(KERN_PROTECTION_FAILURE,
              vm_protect(self, a + vm_page_size, vm_page_size, FALSE, VM_PROT_DEFAULT));
    EXPECT_KR(KERN_INVALID_ARGUMENT, vm_protect(self, a, vm_page_size, FALSE, 0x10));
    CHECK(((volatile uint8_t *)a)[vm_page_size] == 0x5a, "read-only page still readable");

    /* vm_inherit. */
    KR(vm_inherit(self, a, vm_page_size, VM_INHERIT_SHARE));
    KR(vm_inherit(self, a + vm_page_size, vm_page_size, VM_INHERIT_NONE));
    EXPECT_KR(KERN_INVALID_ARGUMENT, vm_inherit(self, a, vm_page_size, 7));
    EXPECT_KR(KERN_INVALID_ARGUMENT, vm_inherit(self, a, vm_page_size, VM_INHERIT_DONATE_COPY));

    /* Unmapped memory, and a bad out pointer. */
    KR(vm_deallocate(self, a, 4 * vm_page_size));
    EXPECT_KR(KERN_INVALID_ADDRESS, vm_read(self, a, 16, &data, &count));
    EXPECT_KR(KERN_INVALID_ADDRESS, vm_protect(self, a, vm_page_size, FALSE, VM_PROT_READ));
    EXPECT_KR(KERN_INVALID_ADDRESS, vm_write(self, (vm_address_t)&global_marker, 16, 8));
    EXPECT_KR(KERN_INVALID_ADDRESS,
              vm_read(self, (vm_address_t)&global_marker, 8, (pointer_t *)8, &count));
    EXPECT_KR(KERN_NO_SPACE, vm_allocate(self, &a, (vm_size_t)1 << 50, TRUE));

    /* A name that is not a task. */
    mach_port_t port;
    KR(mach_port_allocate(self, MACH_PORT_RIGHT_RECEIVE, &port));
    a = 0;
    kern_return_t kr = vm_allocate(port, &a, vm_page_size, TRUE);
    CHECK(kr != KERN_SUCCESS, "vm_allocate on a receive right succeeded");
    printf("ok   vm_allocate on a receive right -> %#x\n", (unsigned)kr);
    kr = vm_allocate(0x7777, &a, vm_page_size, TRUE);
    CHECK(kr != KERN_SUCCESS, "vm_allocate on an unused name succeeded");
    printf("ok   vm_allocate on an unused name -> %#x\n", (unsigned)kr);
    KR(mach_port_destroy(self, port));
}

static void child_tests(void)
{
    task_t self = mach_task_self(), child;
    vm_address_t a = 0;
    pointer_t data;
    mach_msg_type_number_t count;
    const char msg[] = "hello, child";

    /* An empty child: memory only through vm_* calls. */
    KR(task_create(self, NULL, 0, FALSE, &child));
    EXPECT_KR(KERN_INVALID_ADDRESS,
              vm_read(child, (vm_address_t)&global_marker, 8, &data, &count));
    KR(vm_allocate(child, &a, 2 * vm_page_size, TRUE));
    KR(vm_write(child, a + 8, (pointer_t)(uintptr_t)msg, sizeof msg));
    KR(vm_read(child, a, 2 * vm_page_size, &data, &count));
    CHECK(count == 2 * vm_page_size, "count %u", count);
    CHECK(memcmp((void *)(data + 8), msg, sizeof msg) == 0 && ((uint8_t *)data)[0] == 0,
          "child memory content");
    KR(vm_deallocate(self, data, 2 * vm_page_size));
    KR(vm_protect(child, a, vm_page_size, FALSE, VM_PROT_READ));
    EXPECT_KR(KERN_PROTECTION_FAILURE, vm_write(child, a, (pointer_t)(uintptr_t)msg, 4));
    KR(vm_deallocate(child, a, 2 * vm_page_size));
    EXPECT_KR(KERN_INVALID_ADDRESS, vm_read(child, a, 8, &data, &count));
    KR(task_terminate(child));
    printf("ok   vm_allocate / vm_write / vm_read / vm_protect on an empty child\n");

    /* A child inheriting this task's memory sees the marker; its writes stay its own. */
    KR(task_create(self, NULL, 0, TRUE, &child));
    KR(vm_read(child, (vm_address_t)&global_marker, 8, &data, &count));
    CHECK(count == 8 && *(uint64_t *)data == global_marker, "inherited marker %#lx",
          (unsigned long)*(uint64_t *)data);
    KR(vm_deallocate(self, data & ~(vm_page_size - 1), vm_page_size));
    uint64_t v = 42;
    KR(vm_write(child, (vm_address_t)&global_marker, (pointer_t)(uintptr_t)&v, 8));
    CHECK(global_marker == 0x1122334455667788ULL, "child's write reached the parent");
    KR(vm_read(child, (vm_address_t)&global_marker, 8, &data, &count));
    CHECK(*(uint64_t *)data == 42, "child's write lost");
    KR(vm_deallocate(self, data & ~(vm_page_size - 1), vm_page_size));
    KR(task_terminate(child));
    printf("ok   inherited child: vm_read / vm_write, copy-on-write\n");
}

int main(void)
{
    self_tests();
    child_tests();
    printf("vm_basic: PASS\n");
    return 0;
}
