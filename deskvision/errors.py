"""Errors with a message meant for the user: the CLI prints them on one line and exits non-zero."""


class DeskvisionError(Exception):
    """Base class of every error deskvision reports to the user."""


class DataError(DeskvisionError):
    """Bad input data: unreadable image, malformed annotation file, unknown label..."""


class ModelError(DeskvisionError):
    """Missing, corrupt or incompatible model file, or weights that cannot be loaded."""
