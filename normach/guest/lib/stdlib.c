/* atoi, strtoul, strtol, exit, abort, assert's failure path. */
#include <mach.h>
#include <stdio.h>
#include <stdlib.h>
#include "libc_private.h"

static int digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    return 99;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* The magnitude of a number after optional spaces and sign; base 0 = 8, 10 or 16 by prefix. */
static unsigned long parse(const char *s, char **end, int base, int *negative)
{
    const char *p = s;
    unsigned long v = 0;
    int any = 0;

    while (is_space(*p))
        p++;
    *negative = 0;
    if (*p == '-' || *p == '+')
        *negative = *p++ == '-';
    if ((base == 0 || base == 16) && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') &&
        digit_value(p[2]) < 16) {
        p += 2;
        base = 16;
    } else if (base == 0) {
        base = *p == '0' ? 8 : 10;
    }
    for (; digit_value(*p) < base; p++, any = 1)
        v = v * (unsigned)base + (unsigned)digit_value(*p);
    if (end)
        *end = (char *)(any ? p : s);
    return v;
}

unsigned long strtoul(const char *s, char **end, int base)
{
    int negative;
    unsigned long v = parse(s, end, base, &negative);
    return negative ? -v : v;
}

long strtol(const char *s, char **end, int base)
{
    int negative;
    unsigned long v = parse(s, end, base, &negative);
    return negative ? -(long)v : (long)v;
}

int atoi(const char *s)
{
    return (int)strtol(s, NULL, 10);
}

long atol(const char *s)
{
    return strtol(s, NULL, 10);
}

int abs(int x)
{
    return x < 0 ? -x : x;
}

void exit(int status)
{
    __stdio_flush();
    normach_task_exit(status);
}

void abort(void)
{
    exit(134);
}

void __assert_fail(const char *expr, const char *file, int line, const char *func)
{
    printf("assertion failed: %s (%s:%d, %s)\n", expr, file, line, func);
    abort();
}
