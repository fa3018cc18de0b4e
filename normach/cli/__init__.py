"""The `normach` command."""
