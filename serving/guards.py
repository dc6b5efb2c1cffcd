"""Guards the weekly job applies before planning (pure): a program that shrank sharply.

A header-only `deals.csv` or a half-exported `partners` table passes validation row by row
yet would re-tier the whole program (hundreds of partners into grace, incentive cost
collapsing). The job compares each table's row count with the last successful run and
refuses to plan when one fell by more than `max_drop` (unless told `--allow-shrink`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tierwise.errors import InvalidInput, Problem

MAX_DROP = 0.5  # refuse when a table lost more than half its rows since the last run


def table_sizes(tables: Any) -> dict[str, int]:
    """Rows per table (what the run summary keeps for the next run's comparison)."""
    return {str(name): len(frame) for name, frame in tables.items()}


def shrink_problems(
    before: Mapping[str, int], now: Mapping[str, int], *, max_drop: float = MAX_DROP
) -> list[Problem]:
    """One problem per table that shrank by more than `max_drop` (or vanished)."""
    problems = []
    for name, was in sorted(before.items()):
        if was <= 0:
            continue
        is_ = int(now.get(name, 0))
        if is_ < was * (1 - max_drop):
            problems.append(
                Problem(
                    f"{was:,} rows at the last run, {is_:,} now ({1 - is_ / was:.0%} fewer)",
                    table=name,
                    value=is_,
                )
            )
    return problems


def refuse_shrink(before: Mapping[str, int], now: Mapping[str, int]) -> None:
    """Raise when the program shrank sharply since the last successful run."""
    problems = shrink_problems(before, now)
    if problems:
        raise InvalidInput(
            f"{len(problems)} table(s) shrank sharply since the last weekly run; check the "
            "export, or plan anyway with --allow-shrink",
            problems,
        )
