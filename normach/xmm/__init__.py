"""XMM: memory objects shared by the kernels of several nodes (spec §4)."""
