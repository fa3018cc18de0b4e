/*
 * stdout: line-buffered text sent to the console server (docs/guest-abi.md,
 * "Console"): a NORMACH_CONSOLE_WRITE message to the task's bootstrap port,
 * the text as inline data, a send-once reply right as local port; the server
 * replies (id + 100) with a 4-byte status. Without a console the text is dropped.
 */
#include <mach.h>
#include <stdio.h>
#include <string.h>
#include "format.h"
#include "libc_private.h"

#define STDOUT_BUFSIZE 1024

struct _normach_file {
    int unused;
};

static struct _normach_file stdout_file;
FILE *stdout = &stdout_file;

static spin_lock_t stdout_lock = SPIN_LOCK_INITIALIZER;
static mach_port_t console_port;
static mach_port_t console_reply;
static size_t stdout_len;
static char stdout_buf[STDOUT_BUFSIZE];

/* The message buffer: the request, then (in the same memory) the reply. */
static union {
    struct {
        mach_msg_header_t head;
        char text[STDOUT_BUFSIZE + 4];
    } request;
    struct {
        mach_msg_header_t head;
        int32_t status;
        mach_msg_trailer_t trailer;
    } reply;
} console_msg;

void __stdio_init(void)
{
    stdout_lock.locked = 0;
    stdout_len = 0;
    console_reply = MACH_PORT_NULL;
    if (task_get_special_port(mach_task_self(), TASK_BOOTSTRAP_PORT, &console_port) !=
        KERN_SUCCESS)
        console_port = MACH_PORT_NULL;
}

/* Sends the buffered text; stdout_lock held. Text is padded with NULs to 4 bytes. */
static int flush_locked(void)
{
    size_t len = stdout_len, padded = (len + 3) & ~(size_t)3;
    mach_msg_return_t mr;

    stdout_len = 0;
    if (len == 0 || console_port == MACH_PORT_NULL)
        return 0;
    if (console_reply == MACH_PORT_NULL)
        console_reply = mach_reply_port();
    memcpy(console_msg.request.text, stdout_buf, len);
    memset(console_msg.request.text + len, 0, padded - len);
    console_msg.request.head.msgh_bits =
        MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    console_msg.request.head.msgh_size = (mach_msg_size_t)(sizeof(mach_msg_header_t) + padded);
    console_msg.request.head.msgh_remote_port = console_port;
    console_msg.request.head.msgh_local_port = console_reply;
    console_msg.request.head.msgh_voucher_port = 0;
    console_msg.request.head.msgh_id = NORMACH_CONSOLE_WRITE;
    mr = mach_msg(&console_msg.request.head, MACH_SEND_MSG | MACH_RCV_MSG,
                  console_msg.request.head.msgh_size, sizeof console_msg, console_reply,
                  MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    if (mr != MACH_MSG_SUCCESS)
        return EOF;
    return console_msg.reply.status == 0 ? 0 : EOF;
}

static void put_locked(char c)
{
    stdout_buf[stdout_len++] = c;
    if (c == '\n' || stdout_len == STDOUT_BUFSIZE)
        flush_locked();
}

static void emit_stdout(void *ctx, char c)
{
    (void)ctx;
    put_locked(c);
}

int __stdio_flush(void)
{
    spin_lock(&stdout_lock);
    int r = flush_locked();
    spin_unlock(&stdout_lock);
    return r;
}

int fflush(FILE *f)
{
    (void)f;
    return __stdio_flush();
}

int fflush_stdout(void)
{
    return __stdio_flush();
}

int vprintf(const char *fmt, va_list ap)
{
    spin_lock(&stdout_lock);
    int n = __format(emit_stdout, NULL, fmt, ap);
    spin_unlock(&stdout_lock);
    return n;
}

int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int putchar(int c)
{
    spin_lock(&stdout_lock);
    put_locked((char)c);
    spin_unlock(&stdout_lock);
    return (unsigned char)c;
}

int puts(const char *s)
{
    spin_lock(&stdout_lock);
    while (*s)
        put_locked(*s++);
    put_locked('\n');
    spin_unlock(&stdout_lock);
    return 0;
}
