"""The NORMA calls of the kernel core (spec §1): node identity, child node, special ports."""
