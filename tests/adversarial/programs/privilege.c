/* What an unprivileged program gets when it reaches for host_priv (argv[1] = "no"), and
 * what a privileged one does with it (argv[1] = "yes"). */
#include <mach.h>
#include <string.h>
#include "../../../guest/tests/check.h"

int main(int argc, char **argv)
{
    int privileged = argc > 1 && strcmp(argv[1], "yes") == 0;
    mach_port_t hp = normach_host_priv_self(), got = MACH_PORT_NULL;
    mach_port_t names[64];

    if (!privileged) {
        CHECK(hp == MACH_PORT_NULL, "an unprivileged task got host_priv (%#x)", hp);
        /* the host port is not host_priv: every privileged call refuses it */
        EXPECT_KR(KERN_INVALID_HOST, norma_get_special_port(mach_host_self(), 1, 3, &got));
        EXPECT_KR(KERN_INVALID_HOST, norma_set_special_port(mach_host_self(), 11, mach_host_self()));
        /* and no name of its space denotes it: try every small name */
        for (mach_port_t n = 1; n < 0x4000; n++) {
            kern_return_t kr = norma_get_special_port(n, 0, 3, &got);
            CHECK(kr != KERN_SUCCESS, "name %#x works as host_priv", n);
        }
        (void)names;
        printf("PASS unprivileged\n");
        return 0;
    }
    CHECK(hp != MACH_PORT_NULL, "a privileged task got no host_priv");
    KR(norma_get_special_port(hp, 1, 3, &got));          /* node 1's host_priv */
    CHECK(got != MACH_PORT_NULL, "no host_priv for node 1");
    printf("PASS privileged\n");
    return 0;
}
