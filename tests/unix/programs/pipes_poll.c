/* poll on a pipe: a timeout that expires, then one that sees data; select;
   a write with no reader (EPIPE); a nonblocking read (EAGAIN); EOF. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    int fd[2];
    pipe(fd);
    struct pollfd p = {fd[0], POLLIN, 0};
    printf("empty poll: %d revents=%d\n", poll(&p, 1, 100), p.revents);
    printf("zero poll: %d\n", poll(&p, 1, 0));
    pid_t pid = fork();
    if (pid == 0) {
        usleep(100000);
        write(fd[1], "ping", 4);
        _exit(0);
    }
    int r = poll(&p, 1, 5000);
    printf("poll with data: %d revents=%d\n", r, p.revents);
    char buf[16] = {0};
    printf("read %zd %s\n", read(fd[0], buf, sizeof buf - 1), buf);
    waitpid(pid, NULL, 0);

    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(fd[0], &rs);
    struct timeval tv = {0, 50000};
    printf("select empty: %d\n", select(fd[0] + 1, &rs, NULL, NULL, &tv));
    write(fd[1], "x", 1);
    FD_ZERO(&rs);
    FD_SET(fd[0], &rs);
    fd_set ws;
    FD_ZERO(&ws);
    FD_SET(fd[1], &ws);
    tv.tv_sec = 1;
    int n = select(fd[1] + 1, &rs, &ws, NULL, &tv);
    printf("select ready: %d r=%d w=%d\n", n, FD_ISSET(fd[0], &rs) != 0, FD_ISSET(fd[1], &ws) != 0);
    read(fd[0], buf, 1);

    fcntl(fd[0], F_SETFL, O_NONBLOCK);
    errno = 0;
    printf("nonblocking read: %zd eagain=%d\n", read(fd[0], buf, 1), errno == EAGAIN);

    /* a big write that a child drains */
    static char big[200000];
    memset(big, 'b', sizeof big);
    fcntl(fd[0], F_SETFL, 0);
    pid = fork();
    if (pid == 0) {
        close(fd[1]);
        long total = 0;
        ssize_t k;
        while ((k = read(fd[0], buf, sizeof buf)) > 0)
            total += k;
        _exit(total == sizeof big ? 0 : 1);
    }
    printf("big write: %zd\n", write(fd[1], big, sizeof big));
    close(fd[1]);
    int status;
    waitpid(pid, &status, 0);
    printf("child drained all: %d\n", WEXITSTATUS(status) == 0);
    p.events = POLLIN;
    printf("poll at eof: %d hup=%d\n", poll(&p, 1, 0), (p.revents & POLLHUP) != 0);
    printf("eof read: %zd\n", read(fd[0], buf, 1));

    int q[2];
    pipe2(q, O_CLOEXEC);
    close(q[0]);
    errno = 0;
    printf("write no reader: %zd epipe=%d\n", write(q[1], "y", 1), errno == EPIPE);
    printf("cloexec: %d\n", fcntl(q[1], F_GETFD) & FD_CLOEXEC);
    return 0;
}
