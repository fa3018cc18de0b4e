/* printf-style formatting: %d %i %u %x %X %o %p %s %c %%, flags - 0 + space #,
   width and precision (also *), length modifiers hh h l ll z j t. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "format.h"

struct spec {
    int left, zero, plus, space, alt;
    int width, precision;       /* precision < 0: none */
};

static int pad(emit_fn emit, void *ctx, char c, int n)
{
    for (int i = 0; i < n; i++)
        emit(ctx, c);
    return n > 0 ? n : 0;
}

static int emit_str(emit_fn emit, void *ctx, const char *s, int len, const struct spec *sp)
{
    int n = 0;
    if (!sp->left)
        n += pad(emit, ctx, ' ', sp->width - len);
    for (int i = 0; i < len; i++)
        emit(ctx, s[i]);
    n += len;
    if (sp->left)
        n += pad(emit, ctx, ' ', sp->width - len);
    return n;
}

static int emit_num(emit_fn emit, void *ctx, uint64_t v, int negative, unsigned base,
                    int upper, const char *prefix, const struct spec *sp)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char buf[24];
    int len = 0, n = 0;
    char sign = negative ? '-' : sp->plus ? '+' : sp->space ? ' ' : 0;
    int plen = 0;

    while (prefix && prefix[plen])
        plen++;
    if (v == 0 && sp->precision != 0)
        buf[len++] = '0';
    while (v) {
        buf[len++] = digits[v % base];
        v /= base;
    }
    int zeros = sp->precision > len ? sp->precision - len : 0;
    int body = len + zeros + (sign != 0) + plen;
    if (sp->zero && !sp->left && sp->precision < 0 && sp->width > body) {
        zeros += sp->width - body;
        body = sp->width;
    }
    if (!sp->left)
        n += pad(emit, ctx, ' ', sp->width - body);
    if (sign)
        emit(ctx, sign);
    for (int i = 0; i < plen; i++)
        emit(ctx, prefix[i]);
    n += pad(emit, ctx, '0', zeros);
    while (len)
        emit(ctx, buf[--len]);
    n += body - zeros;
    if (sp->left)
        n += pad(emit, ctx, ' ', sp->width - body);
    return n;
}

int __format(emit_fn emit, void *ctx, const char *fmt, va_list ap)
{
    int n = 0;

    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            emit(ctx, *fmt);
            n++;
            continue;
        }
        struct spec sp = {0, 0, 0, 0, 0, 0, -1};
        for (;; fmt++) {
            char f = fmt[1];
            if (f == '-') sp.left = 1;
            else if (f == '0') sp.zero = 1;
            else if (f == '+') sp.plus = 1;
            else if (f == ' ') sp.space = 1;
            else if (f == '#') sp.alt = 1;
            else break;
        }
        fmt++;
        if (*fmt == '*') {
            sp.width = va_arg(ap, int);
            if (sp.width < 0) {
                sp.left = 1;
                sp.width = -sp.width;
            }
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9')
                sp.width = sp.width * 10 + (*fmt++ - '0');
        }
        if (*fmt == '.') {
            fmt++;
            sp.precision = 0;
            if (*fmt == '*') {
                sp.precision = va_arg(ap, int);
                fmt++;
            } else {
                while (*fmt >= '0' && *fmt <= '9')
                    sp.precision = sp.precision * 10 + (*fmt++ - '0');
            }
        }
        int lng = 0;        /* 0 int, 1 long / long long / size_t, -1 short, -2 char */
        for (;; fmt++) {
            if (*fmt == 'l' || *fmt == 'z' || *fmt == 'j' || *fmt == 't') lng = 1;
            else if (*fmt == 'h') lng = lng < 0 ? -2 : -1;
            else break;
        }
        switch (*fmt) {
        case 'd':
        case 'i': {
            int64_t v = lng == 1 ? va_arg(ap, long) : va_arg(ap, int);
            if (lng == -1) v = (short)v;
            if (lng == -2) v = (signed char)v;
            uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;
            n += emit_num(emit, ctx, mag, v < 0, 10, 0, NULL, &sp);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            uint64_t v = lng == 1 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
            if (lng == -1) v = (unsigned short)v;
            if (lng == -2) v = (unsigned char)v;
            unsigned base = *fmt == 'u' ? 10 : *fmt == 'o' ? 8 : 16;
            const char *prefix = NULL;
            if (sp.alt && v && base == 16)
                prefix = *fmt == 'X' ? "0X" : "0x";
            else if (sp.alt && base == 8)
                prefix = "0";
            n += emit_num(emit, ctx, v, 0, base, *fmt == 'X', prefix, &sp);
            break;
        }
        case 'p': {
            uint64_t v = (uintptr_t)va_arg(ap, void *);
            n += emit_num(emit, ctx, v, 0, 16, 0, "0x", &sp);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            int len = 0;
            if (!s)
                s = "(null)";
            while (s[len] && (sp.precision < 0 || len < sp.precision))
                len++;
            n += emit_str(emit, ctx, s, len, &sp);
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            n += emit_str(emit, ctx, &c, 1, &sp);
            break;
        }
        case '%':
            emit(ctx, '%');
            n++;
            break;
        case '\0':
            return n;
        default:            /* unknown conversion: print it as is */
            emit(ctx, '%');
            emit(ctx, *fmt);
            n += 2;
            break;
        }
    }
    return n;
}

struct bufctx {
    char *buf;
    size_t size, len;
};

static void emit_buf(void *ctx, char c)
{
    struct bufctx *b = ctx;
    if (b->len + 1 < b->size)
        b->buf[b->len] = c;
    b->len++;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct bufctx b = {buf, size, 0};
    int n = __format(emit_buf, &b, fmt, ap);
    if (size)
        buf[b.len < size ? b.len : size - 1] = '\0';
    return n;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

int sprintf(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, (size_t)-1 >> 1, fmt, ap);
    va_end(ap);
    return n;
}
