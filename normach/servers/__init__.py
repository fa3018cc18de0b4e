"""User-level servers written in Python on top of `normach.mach`."""
