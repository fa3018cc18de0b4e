/* Ordinary POSIX C on files: stdio (fopen, fprintf, fgets), open/read/write/lseek,
 * pread/pwrite, O_APPEND, O_EXCL, ftruncate, fstat and stat sizes, access. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
    FILE *f = fopen("notes.txt", "w");
    if (!f) { printf("fopen w: %s\n", strerror(errno)); return 1; }
    for (int i = 0; i < 5; i++)
        fprintf(f, "line %d: %d squared is %d\n", i, i, i * i);
    fclose(f);
    f = fopen("notes.txt", "r");
    char line[128];
    while (fgets(line, sizeof line, f))
        printf("read back: %s", line);
    fclose(f);

    struct stat st;
    stat("notes.txt", &st);
    printf("stat size %lld regular %d\n", (long long)st.st_size, S_ISREG(st.st_mode));

    int fd = open("data.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    printf("open fd>2 %d\n", fd > 2);
    printf("write %zd\n", write(fd, "hello, world", 12));
    printf("lseek set %lld\n", (long long)lseek(fd, 7, SEEK_SET));
    char buf[64] = {0};
    printf("read %zd '%s'\n", read(fd, buf, 5), buf);
    printf("lseek end %lld\n", (long long)lseek(fd, 0, SEEK_END));
    printf("pwrite %zd\n", pwrite(fd, "HELLO", 5, 0));
    memset(buf, 0, sizeof buf);
    printf("pread %zd '%s'\n", pread(fd, buf, 63, 0), buf);
    printf("ftruncate %d\n", ftruncate(fd, 5));
    fstat(fd, &st);
    printf("fstat size %lld mode %o\n", (long long)st.st_size, st.st_mode & 0777);
    printf("fsync %d\n", fsync(fd));
    close(fd);

    fd = open("data.bin", O_WRONLY | O_APPEND);
    write(fd, "+tail", 5);
    close(fd);
    fd = open("data.bin", O_RDONLY);
    memset(buf, 0, sizeof buf);
    printf("after append %zd '%s'\n", read(fd, buf, 63), buf);
    printf("write to read-only fd %zd errno %d\n", write(fd, "x", 1), errno);
    close(fd);

    errno = 0;
    printf("O_EXCL on existing %d errno %d\n", open("data.bin", O_CREAT | O_EXCL | O_WRONLY, 0600), errno);
    errno = 0;
    printf("open missing %d errno %d\n", open("missing.txt", O_RDONLY), errno);
    errno = 0;
    printf("O_DIRECTORY on file %d errno %d\n", open("data.bin", O_RDONLY | O_DIRECTORY), errno);
    printf("access F_OK %d R_OK %d missing %d\n", access("data.bin", F_OK), access("data.bin", R_OK),
           access("nope", F_OK));
    umask(077);
    fd = open("private.txt", O_CREAT | O_WRONLY, 0666);
    fstat(fd, &st);
    printf("umask 077 mode %o\n", st.st_mode & 0777);
    close(fd);
    chmod("private.txt", 0640);
    stat("private.txt", &st);
    printf("chmod mode %o\n", st.st_mode & 0777);
    return 0;
}
