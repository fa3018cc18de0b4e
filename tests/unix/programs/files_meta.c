/* Ordinary POSIX C on a file's metadata: utimensat and futimens, statx (by syscall),
 * hard links and their link count, truncate, renameat2 RENAME_NOREPLACE, dirfd
 * relative calls and fchdir, lseek on a directory (rewinddir). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
    int fd = open("m.txt", O_CREAT | O_WRONLY, 0644);
    write(fd, "0123456789", 10);
    struct timespec ts[2] = {{1000000, 5000}, {2000000, 7000}};
    printf("futimens %d\n", futimens(fd, ts));
    close(fd);
    struct stat st;
    stat("m.txt", &st);
    printf("times %lld.%09ld %lld.%09ld\n", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
           (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    struct timespec omit[2] = {{0, UTIME_OMIT}, {3000000, 0}};
    printf("utimensat %d\n", utimensat(AT_FDCWD, "m.txt", omit, 0));
    stat("m.txt", &st);
    printf("times %lld %lld\n", (long long)st.st_atim.tv_sec, (long long)st.st_mtim.tv_sec);

    struct statx sx;
    memset(&sx, 0, sizeof sx);
    long r = syscall(SYS_statx, AT_FDCWD, "m.txt", 0, STATX_BASIC_STATS, &sx);
    printf("statx %ld basic %d size %llu mode %o nlink %u mtime %lld ino-matches %d\n", r,
           (sx.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS, (unsigned long long)sx.stx_size,
           sx.stx_mode & 07777, sx.stx_nlink, (long long)sx.stx_mtime.tv_sec, sx.stx_ino == st.st_ino);

    printf("link %d\n", link("m.txt", "m2.txt"));
    stat("m.txt", &st);
    printf("nlink %lu\n", (unsigned long)st.st_nlink);
    printf("truncate %d\n", truncate("m2.txt", 3));
    stat("m.txt", &st);
    printf("size through other link %lld\n", (long long)st.st_size);
    errno = 0;
    r = syscall(SYS_renameat2, AT_FDCWD, "m.txt", AT_FDCWD, "m2.txt", 1 /* RENAME_NOREPLACE */);
    printf("renameat2 noreplace %ld errno %d\n", r, errno);
    printf("rename over %d\n", rename("m.txt", "m2.txt"));
    printf("access W_OK %d X_OK %d\n", access("m2.txt", W_OK), access("m2.txt", X_OK) == 0);

    mkdir("d", 0755);
    int dfd = open("d", O_RDONLY | O_DIRECTORY);
    fd = openat(dfd, "in.txt", O_CREAT | O_RDWR, 0600);
    write(fd, "inside d", 8);
    close(fd);
    printf("faccessat %d\n", faccessat(dfd, "in.txt", R_OK, 0));
    printf("renameat %d\n", renameat(dfd, "in.txt", AT_FDCWD, "out.txt"));
    printf("symlinkat %d\n", symlinkat("../out.txt", dfd, "ln"));
    char buf[64] = {0};
    printf("readlinkat %zd %s\n", readlinkat(dfd, "ln", buf, sizeof buf - 1), buf);
    fd = openat(dfd, "ln", O_RDONLY);
    memset(buf, 0, sizeof buf);
    printf("read through link %zd %s\n", read(fd, buf, sizeof buf - 1), buf);
    close(fd);
    printf("fstatat nofollow is link %d\n",
           fstatat(dfd, "ln", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode));
    printf("fchmodat %d\n", fchmodat(dfd, "../out.txt", 0604, 0));
    stat("out.txt", &st);
    printf("mode %o\n", st.st_mode & 07777);

    DIR *d = fdopendir(dfd);
    int n1 = 0, n2 = 0;
    while (readdir(d))
        n1++;
    rewinddir(d);
    while (readdir(d))
        n2++;
    printf("entries %d again %d\n", n1, n2);
    printf("fchdir %d\n", fchdir(dirfd(d)));
    memset(buf, 0, sizeof buf);
    fd = open("ln", O_RDONLY);
    printf("relative after fchdir %zd %s\n", read(fd, buf, sizeof buf - 1), buf);
    close(fd);
    closedir(d);
    unlink("ln");
    chdir("..");
    printf("rmdir %d\n", rmdir("d"));
    return 0;
}
