"""Logging set-up for the CLI and the service (library code only calls logging.getLogger)."""

from __future__ import annotations

import logging

from rich.logging import RichHandler


def configure(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(rich_tracebacks=False, show_path=False)],
        force=True,
    )
