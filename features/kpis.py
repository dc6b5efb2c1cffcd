"""The program KPI report: recruitment, success, enablement and profitability metrics.

`program_kpis(tables, as_of=…)` measures a period that ends at `as_of` (default: the 90 days
before it, `[as_of - 90 days, as_of)`), using only facts known before `as_of`: a deal counts
as accepted only if it was decided before `as_of`, as won only if it closed before `as_of`,
a partner as exited only if it exited before `as_of`, and so on. Every metric is declared once
in `KPIS` (name, family, unit, the tables it needs, definition); a metric whose table is
absent is None ("n/a"), never 0. The report also carries break-downs by partner type and
region and a monthly trend (one calendar-month window per point, the last one ending at
`as_of`). Pure: tables in, report out. The metric definitions are in `features.kpi_metrics`,
the array form of the tables in `features.kpi_frames`. Rendering (rich tables, HTML/SVG) is
`features.kpi_report`, which imports this module (never the other way round).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from features import kpi_metrics
from features.kpi_frames import ALL_TABLES, Frames, Window
from features.kpi_metrics import DEFAULT_EXPIRY_DAYS, FAMILIES, KPIS, ProgramCosts
from features.tables import Tables
from tierwise.errors import InvalidInput, Problem

if TYPE_CHECKING:
    pass

Value = float | int | None
BREAKDOWNS = ("partner_type", "region")
DEFAULT_PERIOD_DAYS = 90
DEFAULT_TREND_MONTHS = 12
# Program-wide inputs: meaningless for one partner type or one trend month.
_NOT_IN_SLICES = ("quota_attainment",)

__all__ = [
    "BREAKDOWNS",
    "DEFAULT_PERIOD_DAYS",
    "FAMILIES",
    "KPIS",
    "KpiReport",
    "program_kpis",
]


@dataclass(frozen=True)
class KpiReport:
    """The KPIs of one period, with break-downs, recruitment channels and a monthly trend."""

    as_of: pd.Timestamp
    period_start: pd.Timestamp
    period_days: int
    quota: int | None
    tables: tuple[str, ...]
    values: dict[str, Value]
    channels: pd.DataFrame  # index recruitment channel; partners, share, new_partners, …
    breakdowns: dict[str, pd.DataFrame]  # dimension → frame (index group, columns metrics)
    trend: pd.DataFrame  # index = end of each monthly window, columns metrics
    missing_tables: tuple[str, ...] = field(default=())

    def value(self, name: str) -> Value:
        return self.values[name]

    def family(self, family: str) -> dict[str, Value]:
        return {k.name: self.values[k.name] for k in KPIS.values() if k.family == family}

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "period": {
                "start": self.period_start.isoformat(),
                "end": self.as_of.isoformat(),
                "days": self.period_days,
            },
            "quota": self.quota,
            "tables": list(self.tables),
            "missing_tables": list(self.missing_tables),
            "families": {
                fam: {
                    k.name: {
                        "value": self.values[k.name],
                        "unit": k.unit,
                        "description": k.description,
                    }
                    for k in KPIS.values()
                    if k.family == fam
                }
                for fam in FAMILIES
            },
            "recruitment_channels": [
                {"channel": str(ch), **{c: _plain(v) for c, v in row.items()}}
                for ch, row in self.channels.iterrows()
            ],
            "breakdowns": {
                dim: {
                    str(group): {c: _plain(v) for c, v in row.items()}
                    for group, row in frame.iterrows()
                }
                for dim, frame in self.breakdowns.items()
            },
            "trend": {
                "period_ends": [pd.Timestamp(t).isoformat() for t in self.trend.index],
                "metrics": {
                    c: [_plain(v) for v in self.trend[c].tolist()] for c in self.trend.columns
                },
            },
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


def program_kpis(
    tables: Tables,
    *,
    as_of: datetime,
    quota: int | None = None,
    period_days: int = DEFAULT_PERIOD_DAYS,
    trend_months: int = DEFAULT_TREND_MONTHS,
    expiry_days: int = DEFAULT_EXPIRY_DAYS,
    program_costs: pd.DataFrame | float | None = None,
) -> KpiReport:
    """Every program KPI for the `period_days` before `as_of`; events at/after it are ignored.

    `expiry_days`: how long an accepted registration may go without an outcome before it
    expires (the rulebook's `registrations.expiry_days`; the CLI reads it from there).
    ``program_costs``: what the program itself paid (commissions, MDF…), for CAC with program
    costs — a frame of dated costs (``at``, ``amount``: the trend gets it too) or the
    period's total (the report's period only)."""
    end = _as_of(as_of)
    if quota is not None and quota < 0:
        raise InvalidInput(f"Recruitment quota has value {quota}. It must be 0 or more.")
    if period_days < 1:
        raise InvalidInput(f"Period has value {period_days} days. It must be 1 or more.")
    if trend_months < 1:
        raise InvalidInput(f"Trend has value {trend_months} months. It must be 1 or more.")
    if expiry_days < 1:
        raise InvalidInput(f"Expiry has value {expiry_days} days. It must be 1 or more.")
    frames = Frames.known_before(tables, end)
    window = Window(end - pd.Timedelta(days=period_days), end)
    costs = _program_costs(program_costs, window)
    values = kpi_metrics.compute(
        frames, window, quota=quota, expiry_days=expiry_days, program_costs=costs
    )
    dated = costs if isinstance(program_costs, pd.DataFrame) else None
    present = tuple(sorted(tables.present()))
    return KpiReport(
        as_of=end,
        period_start=window.start,
        period_days=period_days,
        quota=quota,
        tables=present,
        values=values,
        channels=kpi_metrics.channel_breakdown(frames, window),
        breakdowns={dim: _breakdown(frames, window, dim, expiry_days) for dim in BREAKDOWNS},
        trend=_trend(frames, end, trend_months, expiry_days, dated),
        missing_tables=tuple(n for n in ALL_TABLES if n not in present),
    )


def _program_costs(costs: pd.DataFrame | float | None, window: Window) -> ProgramCosts | None:
    """Checked program costs: a frame with ``at`` and ``amount``, or the period's total."""
    if costs is None:
        return None
    if not isinstance(costs, pd.DataFrame):
        total = float(costs)
        if not total >= 0:  # NaN too
            raise InvalidInput(f"Program cost has value {costs!r}. It must be 0 or more.")
        return ProgramCosts(np.array([window.start.value]), np.array([total]))
    missing = [c for c in ("at", "amount") if c not in costs.columns]
    if missing:
        raise InvalidInput(
            f"Program costs have no column {', '.join(missing)} (need: at, amount)",
            [Problem("missing column", table="program_costs", column=c) for c in missing],
        )
    amount = pd.to_numeric(costs["amount"], errors="coerce")
    at = pd.to_datetime(costs["at"], utc=True, errors="coerce")
    bad = [(i, "amount", v) for i, v in enumerate(costs["amount"]) if not amount.iloc[i] >= 0]
    bad += [(i, "at", v) for i, v in enumerate(costs["at"]) if pd.isna(at.iloc[i])]
    if bad:
        row, column, value = bad[0]
        raise InvalidInput(
            f"Program costs row {row}: {column} has value {value!r} "
            "(amounts are 0 or more, dates UTC timestamps)",
            [
                Problem("bad value", table="program_costs", row=r, column=c, value=str(v))
                for r, c, v in bad
            ],
        )
    return ProgramCosts.from_frame(pd.DataFrame({"at": at, "amount": amount}))


def _as_of(as_of: datetime) -> pd.Timestamp:
    ts = pd.Timestamp(as_of)
    if ts.tzinfo is None:
        raise InvalidInput(f"as_of has value {as_of!r}. It must be timezone-aware (UTC).")
    return ts.tz_convert("UTC")


def _breakdown(frames: Frames, window: Window, dim: str, expiry_days: int) -> pd.DataFrame:
    """One row per partner type (or region): every metric on that group's partners only.

    Direct deals and customers belong to no group, so the direct metrics are None here.
    """
    column = frames.partner_frame[dim]
    groups = sorted(column.dropna().unique().tolist())
    labels = pd.Categorical(column, categories=groups).codes.astype(np.int64)
    parts = frames.partition(labels, len(groups))
    rows = {
        str(group): kpi_metrics.compute(part, window, quota=None, expiry_days=expiry_days)
        for group, part in zip(groups, parts, strict=True)
    }
    return _frame(rows, index_name=dim)


def _trend(
    frames: Frames,
    end: pd.Timestamp,
    months: int,
    expiry_days: int,
    costs: ProgramCosts | None = None,
) -> pd.DataFrame:
    """Every metric per calendar-month window, oldest first, the last window ending at `end`."""
    rows: dict[pd.Timestamp, dict[str, Value]] = {}
    for back in range(months - 1, -1, -1):
        stop = end - pd.DateOffset(months=back)
        window = Window(stop - pd.DateOffset(months=1), stop)
        rows[stop] = kpi_metrics.compute(
            frames, window, quota=None, expiry_days=expiry_days, program_costs=costs
        )
    return _frame(rows, index_name="period_end")


def _frame(rows: dict[Any, dict[str, Value]], *, index_name: str) -> pd.DataFrame:
    columns = [k for k in KPIS if k not in _NOT_IN_SLICES]
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=columns, dtype="float64")
    frame.index.name = index_name
    return frame


def _plain(value: Any) -> Value:
    """A JSON-safe scalar: numpy numbers become Python numbers, NaN becomes None."""
    if value is None or pd.isna(value):
        return None
    if isinstance(value, (int, float)):
        return value
    number = float(value)
    return int(number) if number.is_integer() and "int" in type(value).__name__ else number
