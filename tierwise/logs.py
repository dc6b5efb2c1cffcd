"""Logging set-up for the CLI and the service (library code only calls logging.getLogger)."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler


def configure(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        format="%(message)s",
        datefmt="[%X]",
        # stderr, so that stdout stays clean for `--json` output piped to other tools
        handlers=[
            RichHandler(console=Console(stderr=True), rich_tracebacks=False, show_path=False)
        ],
        force=True,
    )
