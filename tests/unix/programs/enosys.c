/* Numbers the Unix server does not emulate answer -ENOSYS; the process goes on. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
    long numbers[] = {SYS_io_setup, SYS_kexec_load, 449, 500, 998};
    for (unsigned i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        errno = 0;
        long r = syscall(numbers[i], 1, 2, 3, 4, 5, 6);
        printf("%ld: %ld %s\n", numbers[i], r, errno == ENOSYS ? "ENOSYS" : strerror(errno));
    }
    return 0;
}
