"""The machine layer: x86-64 CPUs on unicorn.  The only package that imports unicorn."""

import os

# unicorn 2.1 warns (once, on stderr) that accessing RIP from a hook "will get UC_ERR_ARG in
# 2.2"; the access works and is checked by the tests.  Keep the console clean.
os.environ.setdefault("UC_IGNORE_REG_BREAK", "1")
