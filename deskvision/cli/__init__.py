"""The `deskvision` command line."""
