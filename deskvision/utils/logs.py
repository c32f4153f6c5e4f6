"""Logging to stderr: rich on a terminal, plain one-line messages otherwise (logs, CI, pipes)."""

from __future__ import annotations

import logging
import sys

from rich.console import Console
from rich.logging import RichHandler


class _Plain(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def setup_logging(verbose: bool = False, quiet: bool = False) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    if sys.stderr.isatty():
        handler: logging.Handler = RichHandler(console=Console(stderr=True), show_time=False, show_path=False, markup=False)
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_Plain())
    logger = logging.getLogger("deskvision")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
