"""`tierwise` subcommands of the training package (thin wrappers: load, call, save)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this package's commands to the `tierwise` CLI."""
