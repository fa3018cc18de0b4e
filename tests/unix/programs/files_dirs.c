/* Ordinary POSIX C on directories: mkdir, readdir (names sorted), rename, unlink, rmdir,
 * chdir and getcwd, openat and fstatat relative to a directory, symlink and readlink. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void list(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) { printf("opendir %s: errno %d\n", dir, errno); return; }
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        char kind = e->d_type == DT_DIR ? 'd' : e->d_type == DT_REG ? 'f' : e->d_type == DT_LNK ? 'l' : '?';
        char *s = malloc(strlen(e->d_name) + 3);
        sprintf(s, "%s:%c", e->d_name, kind);
        names[n++] = s;
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp);
    printf("%s:", dir);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
}

static void touch(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) { printf("fopen %s: errno %d\n", path, errno); return; }
    fputs(text, f);
    fclose(f);
}

int main(void)
{
    printf("mkdir %d\n", mkdir("top", 0755));
    errno = 0;
    printf("mkdir again %d errno %d\n", mkdir("top", 0755), errno);
    mkdir("top/sub", 0700);
    touch("top/a.txt", "alpha");
    touch("top/b.txt", "bravo!");
    touch("top/sub/deep.txt", "deep down");
    for (int i = 0; i < 40; i++) {          /* enough entries for several getdents64 calls */
        char name[64];
        sprintf(name, "top/many-%02d-with-a-rather-long-name-to-fill-buffers.dat", i);
        touch(name, "x");
    }
    list("top");
    list("top/sub");

    struct stat st;
    stat("top/b.txt", &st);
    printf("b.txt size %lld\n", (long long)st.st_size);
    stat("top/sub", &st);
    printf("sub is dir %d mode %o\n", S_ISDIR(st.st_mode), st.st_mode & 0777);

    printf("rename %d\n", rename("top/a.txt", "top/sub/a-moved.txt"));
    errno = 0;
    printf("stat old name %d errno %d\n", stat("top/a.txt", &st), errno);
    for (int i = 0; i < 40; i++) {
        char name[64];
        sprintf(name, "top/many-%02d-with-a-rather-long-name-to-fill-buffers.dat", i);
        unlink(name);
    }
    list("top/sub");
    errno = 0;
    printf("rmdir non-empty %d errno %d\n", rmdir("top/sub"), errno);
    errno = 0;
    printf("unlink missing %d errno %d\n", unlink("top/none"), errno);
    errno = 0;
    printf("unlink a directory %d errno %d\n", unlink("top/sub"), errno);

    int dfd = open("top/sub", O_RDONLY | O_DIRECTORY);
    int fd = openat(dfd, "deep.txt", O_RDONLY);
    char buf[64] = {0};
    printf("openat read %zd '%s'\n", read(fd, buf, 63), buf);
    close(fd);
    fstatat(dfd, "a-moved.txt", &st, 0);
    printf("fstatat size %lld\n", (long long)st.st_size);
    printf("mkdirat %d\n", mkdirat(dfd, "inner", 0755));
    printf("unlinkat dir %d\n", unlinkat(dfd, "inner", AT_REMOVEDIR));
    close(dfd);

    printf("symlink %d\n", symlink("sub/deep.txt", "top/link"));
    memset(buf, 0, sizeof buf);
    printf("readlink %zd '%s'\n", readlink("top/link", buf, 63), buf);
    stat("top/link", &st);
    printf("stat through link size %lld\n", (long long)st.st_size);
    lstat("top/link", &st);
    printf("lstat is link %d\n", S_ISLNK(st.st_mode));
    errno = 0;
    printf("O_NOFOLLOW on link %d errno %d\n", open("top/link", O_RDONLY | O_NOFOLLOW), errno);
    list("top");

    char cwd[4096];
    printf("chdir %d\n", chdir("top/sub"));
    getcwd(cwd, sizeof cwd);
    printf("cwd ends with /top/sub %d\n", strlen(cwd) >= 8 && !strcmp(cwd + strlen(cwd) - 8, "/top/sub"));
    touch("here.txt", "made after chdir");
    printf("chdir .. %d\n", chdir(".."));
    stat("sub/here.txt", &st);
    printf("here.txt size %lld\n", (long long)st.st_size);
    errno = 0;
    printf("getcwd tiny %p errno %d\n", (void *)getcwd(cwd, 2), errno);

    unlink("link");
    unlink("sub/here.txt");
    unlink("sub/deep.txt");
    unlink("sub/a-moved.txt");
    unlink("b.txt");
    printf("rmdir sub %d\n", rmdir("sub"));
    chdir("..");
    printf("rmdir top %d\n", rmdir("top"));
    list(".");
    return 0;
}
