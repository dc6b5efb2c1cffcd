"""Tierwise: rules engine and recommendation service for channel-partner programs.

`tierwise` itself is the core every package may import — settings, typed errors, logging —
and imports no domain package. `tierwise.shell` (the CLI and `make demo`) imports them all.
"""

__version__ = "0.1.0"
