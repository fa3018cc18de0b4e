"""The kernel core of one node: errors, the kernel lock, tasks, threads, hosts."""
