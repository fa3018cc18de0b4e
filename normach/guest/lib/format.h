/* The formatter behind printf and snprintf. Private to lib/. */
#ifndef _NORMACH_FORMAT_H_
#define _NORMACH_FORMAT_H_

#include <stdarg.h>

typedef void (*emit_fn)(void *ctx, char c);
int __format(emit_fn emit, void *ctx, const char *fmt, va_list ap);

#endif /* _NORMACH_FORMAT_H_ */
