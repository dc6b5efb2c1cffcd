"""A simulated program larger than memory: independent pieces written one after another.

    write_chunked("data/", partners=1_000_000, years=2, seed=7, end=END, chunk=50_000)

`simulate` holds a whole program in memory (about 17 GB for 1,000,000 partners over two
years). `write_chunked` simulates it as `ceil(partners / chunk)` independent programs of at
most `chunk` partners each (the first with `seed`, the others with seeds derived from `seed`
and their number), renumbers each piece's ids after the pieces before it (partners, their
parents, managers, deals, customers, certified people) and appends every table to one file
per table (`<table>.parquet`, a row group per piece, or `<table>.csv`). Memory is bounded by
one piece. What follows from the pieces being independent: a distributor's resellers, a
manager's book and a customer's deals stay within one piece, so no channel conflict crosses
pieces. The ground truth (one object per program) is not written.

Deterministic for (partners, years, seed, end, chunk); with `chunk >= partners` it writes
exactly the tables of `simulate(partners=..., years=..., seed=..., end=...)`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from features.spark.frames import arrow_table
from features.tables import Tables
from simulation.program import simulate
from simulation.tables import id_width
from tierwise.errors import InvalidInput

log = logging.getLogger(__name__)

Format = Literal["parquet", "csv"]
# id column -> (prefix, counter it is renumbered by); person_id is "<partner_id>-S<nn>"
ID_COLUMNS = {
    "partner_id": ("P", "partners"),
    "parent_partner_id": ("P", "partners"),
    "manager_id": ("M", "managers"),
    "deal_id": ("D", "deals"),
    "customer_id": ("C", "customers"),
}
PERSON = "person_id"

__all__ = ["piece_seed", "piece_sizes", "write_chunked"]


def piece_sizes(partners: int, chunk: int) -> list[int]:
    """`partners` cut into the fewest pieces of at most `chunk`, as even as possible."""
    if partners < 1:
        raise InvalidInput(f"partners must be at least 1, got {partners}")
    if chunk < 1:
        raise InvalidInput(f"chunk must be at least 1 partner, got {chunk}")
    pieces = -(-partners // chunk)
    return [len(p) for p in np.array_split(np.arange(partners), pieces)]


def piece_seed(seed: int, piece: int) -> int:
    """The first piece keeps `seed` (so one piece is `simulate` itself); the others derive
    theirs from (seed, piece)."""
    if piece == 0:
        return seed
    return int(np.random.SeedSequence([seed, piece]).generate_state(1, np.uint32)[0])


@dataclass
class _Numbering:
    """Where the next piece's ids start, per id kind, and how wide they are printed."""

    widths: dict[str, int]
    offsets: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("partners", "managers", "deals", "customers"), 0)
    )

    def renumber(self, tables: Tables) -> Tables:
        """The piece's tables with every id moved past the previous pieces'; then advance."""
        largest = dict.fromkeys(self.offsets, 0)
        out: dict[str, pd.DataFrame] = {}
        for name, frame in tables.items():
            frame = frame.copy()
            for column in frame.columns:
                if column in ID_COLUMNS:
                    prefix, counter = ID_COLUMNS[column]
                    number = _numbers(frame[column])
                    top = number.max()
                    if pd.notna(top):
                        largest[counter] = max(largest[counter], int(top))
                    frame[column] = self._ids(prefix, counter, number)
                elif column == PERSON:  # "<partner_id>-S<nn>"
                    parts = frame[column].str.split("-", n=1, expand=True)
                    moved = self._ids("P", "partners", _numbers(parts[0]))
                    frame[column] = moved + "-" + parts[1]
            out[name] = frame
        for counter, top in largest.items():
            self.offsets[counter] += top
        return Tables(**out)

    def _ids(self, prefix: str, counter: str, number: pd.Series) -> pd.Series:
        moved = number + self.offsets[counter]
        text = moved.astype("str").str.zfill(self.widths[counter])
        return (prefix + text).where(number.notna(), None).astype("str")


def _numbers(ids: pd.Series) -> pd.Series:
    """The number in "P000123"-style ids (missing stays missing)."""
    return pd.to_numeric(ids.str.slice(1), errors="raise").astype("Int64")


def write_chunked(
    directory: str | Path,
    *,
    partners: int,
    years: float,
    seed: int,
    end: datetime | None = None,
    chunk: int = 50_000,
    fmt: Format = "parquet",
    tables: tuple[str, ...] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Write the program piece by piece; return the rows written per table.

    `tables` keeps only those tables (e.g. ("partners", "deals") for a transaction log);
    `progress(done, total)` is called after each piece with partners written so far.
    """
    if fmt not in ("parquet", "csv"):
        raise InvalidInput(f"unknown format {fmt!r}: use 'parquet' or 'csv'")
    sizes = piece_sizes(partners, chunk)
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    numbering = _Numbering(
        widths={
            "partners": id_width(6, partners),
            "managers": id_width(3, -(-partners // 20)),
            "deals": id_width(7, partners * 500),
            "customers": id_width(7, partners * 500),
        }
    )
    rows: dict[str, int] = {}
    done = 0
    with _Writers(out, fmt) as writers:
        for piece, size in enumerate(sizes):
            sim = simulate(partners=size, years=years, seed=piece_seed(seed, piece), end=end)
            renumbered = numbering.renumber(sim.tables) if len(sizes) > 1 else sim.tables
            del sim
            for name, frame in renumbered.items():
                if tables is not None and name not in tables:
                    continue
                writers.write(name, frame)
                rows[name] = rows.get(name, 0) + len(frame)
            done += size
            log.info("piece %d/%d: %d partners written", piece + 1, len(sizes), done)
            if progress is not None:
                progress(done, partners)
    return rows


class _Writers:
    """One open writer per table; the first piece fixes each table's schema."""

    def __init__(self, out: Path, fmt: Format) -> None:
        self.out, self.fmt = out, fmt
        self.parquet: dict[str, pq.ParquetWriter] = {}
        self.csv_started: set[str] = set()

    def __enter__(self) -> _Writers:
        return self

    def __exit__(self, *exc: Any) -> None:
        for writer in self.parquet.values():
            writer.close()

    def write(self, name: str, frame: pd.DataFrame) -> None:
        path = self.out / f"{name}.{self.fmt}"
        if self.fmt == "csv":
            first = name not in self.csv_started
            frame.to_csv(path, index=False, mode="w" if first else "a", header=first)
            self.csv_started.add(name)
            return
        table = arrow_table(frame)
        writer = self.parquet.get(name)
        if writer is None:
            writer = self.parquet[name] = pq.ParquetWriter(path, table.schema)
        else:
            table = table.cast(writer.schema)  # an all-missing column may arrive as null
        writer.write_table(table, row_group_size=max(1, table.num_rows))  # a group per piece
