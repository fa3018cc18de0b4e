/*
 * A long computation with a deterministic result: a checksum over a buffer,
 * recomputed many times. Used by the thread-migration test (the thread is
 * moved mid-loop; the printed checksum must not change). argv[1] = rounds.
 */
#include <mach.h>
#include <stdio.h>
#include <stdlib.h>

#define BUF_SIZE (256 * 1024)

int main(int argc, char **argv)
{
    unsigned long rounds = argc > 1 ? strtoul(argv[1], NULL, 0) : 64;
    uint8_t *buf = malloc(BUF_SIZE);
    uint64_t sum = 0xcbf29ce484222325ULL;          /* FNV-1a offset basis */
    uint32_t x = 12345;

    if (!buf) {
        printf("FAIL: malloc\n");
        return 1;
    }
    for (size_t i = 0; i < BUF_SIZE; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
    for (unsigned long r = 0; r < rounds; r++) {
        for (size_t i = 0; i < BUF_SIZE; i++) {
            sum ^= buf[i];
            sum *= 0x100000001b3ULL;               /* FNV-1a prime */
        }
        buf[r % BUF_SIZE] ^= (uint8_t)sum;         /* each round depends on the last */
    }
    printf("checksum %lu rounds: %016lx\n", rounds, (unsigned long)sum);
    free(buf);
    return 0;
}
