"""Logging to stderr through rich: warnings in yellow, one line each."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler


def setup_logging(verbose: bool = False, quiet: bool = False) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    handler = RichHandler(console=Console(stderr=True), show_time=False, show_path=False, markup=False)
    logger = logging.getLogger("deskvision")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
