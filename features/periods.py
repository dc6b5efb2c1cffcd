"""Period-to-date features: what a partner did since the start of the program month, quarter
and year (`revenue_won_qtd` …), the measures per-period incentives are paid on.

Periods start on the first day of a month at 00:00 UTC, counted from the program year's
first month (`year_start`, the rulebook calendar's; January by default), as in
`rules.calendar`. Events count from the period start up to, not including, `as_of`.
"""

from __future__ import annotations

import numpy as np

from features.history import DealStreams
from features.windows import EventIndex, IntArray

Columns = dict[str, np.ndarray]
PERIODS = {"mtd": 1, "qtd": 3, "ytd": 12}  # suffix → months in the period
NAMES = {"mtd": "month", "qtd": "quarter", "ytd": "year"}


def period_start_ns(times: IntArray, months: int, year_start: int = 1) -> IntArray:
    """The start (int64 ns, UTC) of the `months`-long program period holding each time."""
    index = np.asarray(times, dtype=np.int64).view("datetime64[ns]").astype("datetime64[M]")
    m = index.astype(np.int64)  # months since 1970-01
    start = m - (m - (year_start - 1)) % months
    return start.astype("datetime64[M]").astype("datetime64[ns]").view(np.int64)


def _between(index: EventIndex, name: str, p: IntArray, lo: IntArray, hi: IntArray) -> np.ndarray:
    """Sum of value `name` over the events of partner p in [lo, hi)."""
    running = index.sums[name]
    if len(running) == 0:
        return np.zeros(len(p))
    first = index.starts[p]

    def prefix(pos: IntArray) -> np.ndarray:
        return np.where(pos > first, running[np.maximum(pos - 1, 0)], 0.0)

    return prefix(index.position(p, hi)) - prefix(index.position(p, lo))


def period_columns(deals: DealStreams, p: IntArray, t: IntArray, year_start: int = 1) -> Columns:
    """revenue_won_{mtd,qtd,ytd} and deals_won_{mtd,qtd,ytd} at (partner code, time) pairs."""
    closed = deals.closed
    out: Columns = {}
    for suffix, months in PERIODS.items():
        start = period_start_ns(t, months, year_start)
        out[f"revenue_won_{suffix}"] = _between(closed, "revenue", p, start, t)
        out[f"deals_won_{suffix}"] = _between(closed, "won", p, start, t)
    return out
