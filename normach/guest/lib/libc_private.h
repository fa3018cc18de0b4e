/* Declarations shared by the runtime's own files. */
#ifndef _NORMACH_LIBC_PRIVATE_H_
#define _NORMACH_LIBC_PRIVATE_H_

#include <mach.h>

extern char **environ;

void __libc_init(int argc, char **argv, char **envp);
/* stdio: (re)binds stdout to this task's console port, discarding buffered text. */
void __stdio_init(void);
int __stdio_flush(void);

#endif /* _NORMACH_LIBC_PRIVATE_H_ */
