"""The machine layer: x86-64 CPUs on unicorn.  The only package that imports unicorn."""
