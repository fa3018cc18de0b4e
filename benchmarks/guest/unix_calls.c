/* Unix server benchmark (benchmarks/bench_unix.py), an ordinary static Linux program:
   unix_calls MODE N [FILE]
     null   N  a Mach trap the kernel answers at once (unknown number 12345): the baseline
     getpid N  getpid by the raw system call (no C library caching)
     pipe   N  write(2) of 1 byte into a pipe (N <= 60000 fits in its buffer)
     read   N  read FILE through, N times, in 64 KiB reads */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static char buf[65536];

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    long n = atol(argv[2]);
    if (!strcmp(argv[1], "null")) {
        for (long i = 0; i < n; i++)
            syscall(12345);
    } else if (!strcmp(argv[1], "getpid")) {
        for (long i = 0; i < n; i++)
            syscall(SYS_getpid);
    } else if (!strcmp(argv[1], "pipe")) {
        int p[2];
        if (pipe(p))
            return 3;
        for (long i = 0; i < n; i++)
            if (write(p[1], "x", 1) != 1)
                return 4;
    } else if (!strcmp(argv[1], "read") && argc > 3) {
        for (long i = 0; i < n; i++) {
            int fd = open(argv[3], O_RDONLY);
            if (fd < 0)
                return 5;
            while (read(fd, buf, sizeof buf) > 0)
                ;
            close(fd);
        }
    } else {
        return 2;
    }
    return 0;
}
