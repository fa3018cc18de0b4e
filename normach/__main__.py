"""`python -m normach`: the `normach` command."""

from .cli.main import main

main()
