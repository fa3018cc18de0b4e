/* <stdio.h> of the normach guest libc: stdout only, line-buffered to the console. */
#ifndef _STDIO_H_
#define _STDIO_H_

#include <stdarg.h>
#include <stddef.h>

#define EOF (-1)

int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int sprintf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int puts(const char *s);
int putchar(int c);
int fflush_stdout(void);

/* Only stdout exists: fflush(stdout) and fflush(NULL) flush it. */
typedef struct _normach_file FILE;
extern FILE *stdout;
int fflush(FILE *f);

#endif /* _STDIO_H_ */
