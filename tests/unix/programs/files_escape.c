/* Tries to reach files outside its root: each argument is a path to open and read;
 * prints what it got ("ok <first line>") or the errno. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        errno = 0;
        int fd = open(argv[i], O_RDONLY);
        if (fd < 0) {
            printf("%s: errno %d\n", argv[i], errno);
            continue;
        }
        char buf[256] = {0};
        ssize_t n = read(fd, buf, sizeof buf - 1);
        char *nl = strchr(buf, '\n');
        if (nl)
            *nl = 0;
        printf("%s: ok %zd %s\n", argv[i], n, buf);
        close(fd);
    }
    struct stat st;
    errno = 0;
    int r = stat("/../../..", &st);
    int fd = open("/../../..", O_RDONLY | O_DIRECTORY);
    char buf[64] = {0};
    printf("/../../.. stat %d getcwd-after-fchdir %d %s\n", r, fchdir(fd), getcwd(buf, sizeof buf));
    return 0;
}
