/* Kernel calls on a task of another node (spec §1: they run on its home node).
   argv: the name of a send right to the other task, an address there, the text
   expected at it.  Reads it with vm_read, writes a reply with vm_write, creates a
   thread there, and asks where the task lives. */
#include <mach.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../../guest/tests/check.h"

int main(int argc, char **argv)
{
    CHECK(argc == 4, "usage: remote_vm NAME ADDRESS TEXT");
    task_t other = (task_t)strtoul(argv[1], 0, 10);
    vm_address_t addr = (vm_address_t)strtoul(argv[2], 0, 10);
    const char *text = argv[3];
    pointer_t data = 0;
    mach_msg_type_number_t count = 0;
    KR(vm_read(other, addr, strlen(text), &data, &count));
    CHECK(count == strlen(text) && memcmp((void *)data, text, count) == 0, "vm_read got %u bytes", count);
    KR(vm_write(other, addr + 64, (pointer_t)"written from afar", 17));
    thread_t th;
    KR(thread_create(other, &th));
    int node = -1, here = -1;
    KR(norma_port_location_hint(mach_task_self(), other, &node));
    KR(norma_node_self(mach_host_self(), &here));
    CHECK(node != here, "the other task should be on another node (%d, %d)", node, here);
    CHECK(vm_read(other, 0x1000, 8, &data, &count) == KERN_INVALID_ADDRESS,
          "remote error code not returned");
    printf("remote_vm: task on node %d read and written from node %d: PASS\n", node, here);
    return 0;
}
