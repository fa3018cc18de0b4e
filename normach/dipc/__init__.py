"""DIPC: ports across nodes (spec §5).  Registers itself with each kernel; the core
never imports it."""
