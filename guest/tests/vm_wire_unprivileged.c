/* Wiring needs host_priv ("Mach fidelity", item 1): a program that was not given the
 * privilege has no host_priv, and vm_wire / thread_wire sent to its host port are
 * KERN_INVALID_HOST; nothing is wired. */
#include "check.h"

int main(void)
{
    task_t self = mach_task_self();
    host_t host = mach_host_self();
    thread_t me = mach_thread_self();
    vm_address_t a = 0;
    vm_statistics_data_t before, after;

    CHECK(normach_host_priv_self() == MACH_PORT_NULL, "no host_priv without the privilege");
    KR(vm_allocate(self, &a, 2 * vm_page_size, TRUE));
    KR(vm_statistics(self, &before));
    EXPECT_KR(KERN_INVALID_HOST, vm_wire(host, self, a, 2 * vm_page_size, VM_PROT_READ));
    EXPECT_KR(KERN_INVALID_HOST, vm_wire(self, self, a, vm_page_size, VM_PROT_READ));
    EXPECT_KR(MACH_SEND_INVALID_DEST, vm_wire(MACH_PORT_NULL, self, a, vm_page_size,
                                              VM_PROT_READ));
    EXPECT_KR(KERN_INVALID_HOST, thread_wire(host, me, TRUE));
    KR(vm_statistics(self, &after));
    CHECK(after.wire_count == before.wire_count, "wired %lu -> %lu",
          (unsigned long)before.wire_count, (unsigned long)after.wire_count);
    mach_port_deallocate(self, me);
    printf("vm_wire_unprivileged: PASS\n");
    return 0;
}
