"""`Tables`: the contract tables held together in memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields

import pandas as pd


@dataclass(frozen=True)
class Tables:
    """The program's tables. Optional tables are None when the program does not export them."""

    partners: pd.DataFrame
    deals: pd.DataFrame
    activities: pd.DataFrame | None = None
    surveys: pd.DataFrame | None = None
    customers: pd.DataFrame | None = None
    certifications: pd.DataFrame | None = None

    def items(self) -> Iterator[tuple[str, pd.DataFrame]]:
        """(name, frame) for every table that is present."""
        for f in fields(self):
            frame = getattr(self, f.name)
            if frame is not None:
                yield f.name, frame

    def present(self) -> set[str]:
        return {name for name, _ in self.items()}
