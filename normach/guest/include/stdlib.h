/* <stdlib.h> of the normach guest libc. */
#ifndef _STDLIB_H_
#define _STDLIB_H_

#include <stddef.h>

#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1

void *malloc(size_t size);
void free(void *ptr);
void *calloc(size_t n, size_t size);
void *realloc(void *ptr, size_t size);

int atoi(const char *s);
long atol(const char *s);
unsigned long strtoul(const char *s, char **end, int base);
long strtol(const char *s, char **end, int base);
int abs(int x);

__attribute__((noreturn)) void exit(int status);
__attribute__((noreturn)) void abort(void);

#endif /* _STDLIB_H_ */
