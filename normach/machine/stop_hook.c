/*
 * The CPU's stop point: a block hook that stops emulation at a block boundary.
 *
 * Unicorn 2.1 checks for a stop request after every guest load and store, and
 * when it finds one it rolls the CPU back to the start of the instruction.  A
 * request that arrives between the store and the check of a read-modify-write
 * instruction (xchg, lock add, cmpxchg, inc [mem]) therefore runs that
 * instruction twice: the lock is taken twice, the counter counted twice.  So no
 * other thread ever calls uc_emu_stop on a running CPU: it raises `request`,
 * and this hook, called at the start of every translated block (before any of
 * its instructions), calls uc_emu_stop on the CPU's own thread, where the
 * rollback is to the start of the block, which nothing has executed yet.
 *
 * Written in C because it runs for every block executed: a Python callback
 * there would cost more than the emulation itself.
 */
#include <stdint.h>

typedef int (*normach_stop_fn)(void *uc);

struct normach_stop_cell {
    int32_t request;            /* set by other threads; cleared by the run loop */
    int32_t taken;              /* stops this hook has made */
    normach_stop_fn stop;       /* uc_emu_stop */
};

void normach_block_hook(void *uc, uint64_t address, uint32_t size, void *user_data)
{
    struct normach_stop_cell *cell = user_data;

    (void)address;
    (void)size;
    if (__atomic_load_n(&cell->request, __ATOMIC_ACQUIRE)) {
        cell->taken++;
        cell->stop(uc);
    }
}
