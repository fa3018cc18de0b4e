/* vm_wire and thread_wire from a privileged program ("Mach fidelity", item 1): wired
 * pages are counted in vm_statistics' wire_count, wirings nest, VM_PROT_NONE and
 * vm_deallocate unwire, the errors are Mach's, and a node lets vm_wire hold only a
 * part of its memory. Run privileged (tests/guest/test_programs.py). */
#include "check.h"

static vm_statistics_data_t stats(void)
{
    vm_statistics_data_t s;
    KR(vm_statistics(mach_task_self(), &s));
    return s;
}

static void wire_and_nest(host_priv_t priv, vm_address_t a, uint64_t wired0)
{
    task_t self = mach_task_self();
    KR(vm_wire(priv, self, a, 4 * vm_page_size, VM_PROT_READ | VM_PROT_WRITE));
    CHECK(stats().wire_count == wired0 + 4, "wire_count %lu", (unsigned long)stats().wire_count);
    for (int i = 0; i < 4; i++)
        ((volatile char *)a)[i * vm_page_size] = (char)i;      /* wired memory is usable */
    KR(vm_wire(priv, self, a, vm_page_size, VM_PROT_READ));    /* a second wiring of page 0 */
    KR(vm_wire(priv, self, a, 4 * vm_page_size, VM_PROT_NONE));
    CHECK(stats().wire_count == wired0 + 1, "page 0 is still wired once");
    KR(vm_wire(priv, self, a, 4 * vm_page_size, VM_PROT_NONE));
    CHECK(stats().wire_count == wired0, "all unwired");
    CHECK(((volatile char *)a)[3 * vm_page_size] == 3, "contents kept");
    printf("ok   vm_wire nests; VM_PROT_NONE unwires\n");
}

static void errors(host_priv_t priv, vm_address_t a)
{
    task_t self = mach_task_self();
    EXPECT_KR(KERN_INVALID_ARGUMENT, vm_wire(priv, self, a, vm_page_size, 0x10));
    KR(vm_deallocate(self, a + 7 * vm_page_size, vm_page_size));
    EXPECT_KR(KERN_INVALID_ADDRESS, vm_wire(priv, self, a + 6 * vm_page_size,
                                            2 * vm_page_size, VM_PROT_READ));   /* a hole */
    KR(vm_protect(self, a + 5 * vm_page_size, vm_page_size, FALSE, VM_PROT_READ));
    EXPECT_KR(KERN_PROTECTION_FAILURE, vm_wire(priv, self, a + 5 * vm_page_size, vm_page_size,
                                               VM_PROT_WRITE));
    EXPECT_KR(KERN_INVALID_TASK, vm_wire(priv, mach_host_self(), a, vm_page_size, VM_PROT_READ));
    EXPECT_KR(KERN_INVALID_HOST, vm_wire(mach_host_self(), self, a, vm_page_size, VM_PROT_READ));
}

static void limit(host_priv_t priv, uint64_t wired0)
{
    vm_statistics_data_t s = stats();
    vm_size_t frames = s.free_count + s.active_count + s.inactive_count + s.wire_count;
    vm_address_t big = 0;
    KR(vm_allocate(mach_task_self(), &big, frames * vm_page_size, TRUE));
    EXPECT_KR(KERN_RESOURCE_SHORTAGE, vm_wire(priv, mach_task_self(), big,
                                              frames * vm_page_size, VM_PROT_READ));
    CHECK(stats().wire_count == wired0, "a refused wiring wires nothing");
    KR(vm_deallocate(mach_task_self(), big, frames * vm_page_size));
}

int main(void)
{
    host_priv_t priv = normach_host_priv_self();
    task_t self = mach_task_self();
    vm_address_t a = 0;
    CHECK(MACH_PORT_VALID(priv), "a privileged program has host_priv");
    KR(vm_allocate(self, &a, 8 * vm_page_size, TRUE));
    uint64_t wired0 = stats().wire_count;

    wire_and_nest(priv, a, wired0);
    errors(priv, a);
    limit(priv, wired0);

    KR(vm_wire(priv, self, a, 2 * vm_page_size, VM_PROT_READ));
    KR(vm_deallocate(self, a, 8 * vm_page_size));
    CHECK(stats().wire_count == wired0, "vm_deallocate unwires");
    printf("ok   vm_deallocate unwires\n");

    thread_t me = mach_thread_self();
    KR(thread_wire(priv, me, TRUE));
    KR(thread_wire(priv, me, FALSE));
    EXPECT_KR(KERN_INVALID_HOST, thread_wire(mach_host_self(), me, TRUE));
    EXPECT_KR(KERN_INVALID_ARGUMENT, thread_wire(priv, self, TRUE));
    mach_port_deallocate(self, me);
    printf("vm_wire: PASS\n");
    return 0;
}
