/*
 * _start: the entry point of a normach guest (docs/guest-abi.md, "Programs").
 * rsp -> argc, argv[0..argc-1], NULL, envp..., NULL, auxv.
 */
    .text
    .globl _start
    .type _start, @function
_start:
    xorl %ebp, %ebp                 /* outermost frame */
    movq (%rsp), %r12               /* argc */
    leaq 8(%rsp), %r13              /* argv */
    leaq 16(%rsp,%r12,8), %r14      /* envp = &argv[argc + 1] */
    andq $-16, %rsp                 /* System V: 16-byte aligned before a call */
    movq %r12, %rdi
    movq %r13, %rsi
    movq %r14, %rdx
    call __libc_init
    movq %r12, %rdi
    movq %r13, %rsi
    movq %r14, %rdx
    call main
    movl %eax, %edi
    call exit
    ud2
    .size _start, . - _start

    .section .note.GNU-stack, "", @progbits

/* The personality note: a program built by `normach cc` is Mach-native (kern/exec.py). */
    .section .note.normach, "a", @note
    .p2align 2
    .long 8                         /* namesz */
    .long 4                         /* descsz */
    .long 1                         /* type: the guest ABI's version */
    .asciz "normach"
    .long 1
