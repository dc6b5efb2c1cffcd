"""Tierwise: rules engine and recommendation service for channel-partner programs.

This small package is the application shell shared by the four domain packages
(`features`, `rules`, `training`, `serving`): settings, typed errors and the CLI.
"""

__version__ = "0.1.0"
