/* Every page remembers the last round that wrote it: each round checks that every
 * page of a 4 MiB buffer holds the previous round's number, then writes its own.
 * A page that comes back older (a write lost while memory moved between nodes)
 * is reported with its address, and the program exits 1. */
#include <mach.h>
#include <stdio.h>
#include <stdlib.h>

#define SIZE (4 << 20)
#define WORDS_PER_PAGE 512
#define STRIDE 64                      /* words checked per page: 8 */

int main(int argc, char **argv)
{
    unsigned long rounds = argc > 1 ? strtoul(argv[1], NULL, 0) : 20;
    uint64_t *buf = malloc(SIZE);
    size_t npages = SIZE / 4096;
    int node = -1, bad = 0;

    if (!buf)
        return 2;
    for (size_t i = 0; i < SIZE / 8; i++)
        buf[i] = 0;
    for (unsigned long r = 1; r <= rounds; r++) {
        for (size_t p = 0; p < npages; p++)
            for (size_t w = 0; w < WORDS_PER_PAGE; w += STRIDE) {
                uint64_t *x = &buf[p * WORDS_PER_PAGE + w];
                if (*x != r - 1 && bad++ < 8)
                    printf("LOST page %lu (address %p) in round %lu: holds %lu\n",
                           (unsigned long)p, (void *)x, r, (unsigned long)*x);
                *x = r;
            }
        norma_node_self(mach_host_self(), &node);
        printf("round %lu on node %d\n", r, node);
    }
    printf("%s\n", bad ? "FAIL" : "PASS");
    return bad != 0;
}
