/* vm_statistics works from a guest (issue 14, item 3: the guest's record had 14
 * fields and the kernel's 15, so every call failed): the record is generated from the
 * kernel's declaration, and the fields are where the header says. */
#include "check.h"

int main(void)
{
    vm_address_t a;
    KR(vm_allocate(mach_task_self(), &a, 4 * vm_page_size, TRUE));
    for (int i = 0; i < 4; i++)
        ((volatile char *)a)[i * vm_page_size] = 1;          /* four zero-fill faults */
    vm_statistics_data_t s;
    KR(vm_statistics(mach_task_self(), &s));
    CHECK(s.pagesize == vm_page_size, "pagesize %lu", (unsigned long)s.pagesize);
    CHECK(s.zero_fill_count >= 4 && s.faults >= 4, "zero fills %lu, faults %lu",
          (unsigned long)s.zero_fill_count, (unsigned long)s.faults);
    CHECK(s.free_count > 0 && s.active_count > 0 && s.wire_count == 0, "free %lu active %lu",
          (unsigned long)s.free_count, (unsigned long)s.active_count);
    printf("vm_stats: %lu faults, %lu zero-filled, %lu free pages: PASS\n",
           (unsigned long)s.faults, (unsigned long)s.zero_fill_count,
           (unsigned long)s.free_count);
    return 0;
}
