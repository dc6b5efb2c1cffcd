"""The program calendar: program year, incentive periods and tier reviews (pure date arithmetic).

```yaml
calendar:
  year_start: 1            # month the program year starts (1-12 or a month name)
  tier_review: quarterly   # weekly | monthly | quarterly | semiannual | annual | anniversary
  promotion: immediately   # or at_review
  demotion_grace_reviews: 1  # reviews a partner may miss its tier before the demotion
```

Periods start on the first day of a month at 00:00 UTC, counted from `year_start`. A review
takes effect at the first evaluation on or after its date: an evaluation at `as_of` is a review
when a review date falls in `(as_of - 7 days, as_of]` (the weekly job runs every Monday).
Anniversary reviews fall on the partner's joining date, each year.
"""

from __future__ import annotations

import calendar as _cal
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from rules.checks import Checker
    from rules.source import NodePath

Cadence = Literal["weekly", "monthly", "quarterly", "semiannual", "annual", "anniversary"]
PeriodKind = Literal["once", "month", "quarter", "year"]
CADENCES: tuple[str, ...] = Cadence.__args__  # type: ignore[attr-defined]
PERIODS: tuple[str, ...] = PeriodKind.__args__  # type: ignore[attr-defined]
CADENCE_MONTHS = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}
PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}
REVIEW_WINDOW = timedelta(days=7)
MONTH_NAMES = {name.lower(): i for i, name in enumerate(_cal.month_name) if name}


class CalendarSpec(BaseModel):
    """The `calendar:` section as written in YAML."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    year_start: int = Field(1, ge=1, le=12, description="Month the program year starts")
    tier_review: Cadence = "weekly"
    promotion: Literal["immediately", "at_review"] = "immediately"
    demotion_grace_reviews: int = Field(
        1, ge=0, description="Reviews below its tier a partner keeps the tier before a demotion"
    )

    @field_validator("year_start", mode="before")
    @classmethod
    def _month(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip().isdigit():
            month = MONTH_NAMES.get(value.strip().lower())
            if month is None:
                raise ValueError(f"'{value}' is not a month: write 1-12 or a month name")
            return month
        return value


class Period(NamedTuple):
    kind: str  # once | month | quarter | year
    label: str  # "once", "2026-11", "2026-Q4", "2026"
    start: datetime | None
    end: datetime | None  # exclusive


def _month_index(when: datetime) -> int:
    return when.year * 12 + when.month - 1


def _from_index(index: int) -> datetime:
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ProgramCalendar:
    year_start: int = 1
    tier_review: str = "weekly"
    promotion: str = "immediately"
    grace_reviews: int = 1

    @classmethod
    def from_spec(cls, spec: CalendarSpec) -> ProgramCalendar:
        return cls(spec.year_start, spec.tier_review, spec.promotion, spec.demotion_grace_reviews)

    @property
    def promote_at_once(self) -> bool:
        return self.promotion == "immediately"

    def _start_index(self, when: datetime, months: int) -> int:
        """Month index of the start of the `months`-long period holding `when`."""
        m = _month_index(when.astimezone(UTC))
        return m - (m - (self.year_start - 1)) % months

    def period(self, kind: str, when: datetime) -> Period:
        """The incentive period of `kind` holding `when` (`once` has no dates)."""
        if kind == "once":
            return Period("once", "once", None, None)
        months = PERIOD_MONTHS[kind]
        start = self._start_index(when, months)
        year_index = self._start_index(when, 12)
        year = year_index // 12  # the program year is named by the year it starts in
        if kind == "year":
            label = f"{year}"
        elif kind == "quarter":
            label = f"{year}-Q{(start - year_index) // 3 + 1}"
        else:
            label = f"{start // 12}-{start % 12 + 1:02d}"
        return Period(kind, label, _from_index(start), _from_index(start + months))

    def review_date(self, when: datetime) -> datetime | None:
        """The latest calendar review date at or before `when` (None for weekly/anniversary)."""
        months = CADENCE_MONTHS.get(self.tier_review)
        if months is None:
            return None
        return _from_index(self._start_index(when, months))

    def next_review(self, as_of: datetime, tenure_days: float | None = None) -> datetime | None:
        """The next review date strictly after `as_of` (anniversary: needs the tenure)."""
        as_of = as_of.astimezone(UTC)
        if self.tier_review == "weekly":
            return as_of + REVIEW_WINDOW
        if self.tier_review == "anniversary":
            if tenure_days is None or tenure_days != tenure_days:
                return None
            joined = as_of - timedelta(days=float(tenure_days))
            years = as_of.year - joined.year
            for k in (years, years + 1):
                date = _anniversary(joined, max(k, 1))
                if date > as_of:
                    return date
            return _anniversary(joined, years + 2)
        months = CADENCE_MONTHS[self.tier_review]
        return _from_index(self._start_index(as_of, months) + months)

    def is_review(self, as_of: datetime) -> bool:
        """Whether an evaluation at `as_of` is a (calendar) tier review."""
        if self.tier_review == "weekly":
            return True
        if self.tier_review == "anniversary":
            raise ValueError("anniversary reviews depend on the partner: use reviews()")
        date = self.review_date(as_of)
        return date is not None and as_of - REVIEW_WINDOW < date <= as_of

    def reviews(self, as_of: datetime, tenure_days: np.ndarray) -> np.ndarray:
        """Per partner: is an evaluation at `as_of` a tier review (anniversaries per partner)."""
        n = len(tenure_days)
        if self.tier_review != "anniversary":
            return np.full(n, self.is_review(as_of))
        tenure = np.asarray(tenure_days, dtype=np.float64)
        # the anniversary falls in the window when the tenure's remainder in years is < 7 days
        # (whole years of 365.25 days: leap days shift it by at most a day)
        years = np.floor(tenure / 365.25)
        since = tenure - years * 365.25
        return (years >= 1) & (since < REVIEW_WINDOW.days) & ~np.isnan(tenure)

    def partner_review(self, as_of: datetime, features: Mapping[str, Any]) -> bool:
        """`is_partner_review` for one partner's features (weekly: always, without a lookup)."""
        if self.tier_review == "weekly":
            return True
        return self.is_partner_review(as_of, features.get("tenure_days"))

    def frame_reviews(self, as_of: datetime, frame: pd.DataFrame) -> np.ndarray:
        """`reviews` for every row of a feature frame."""
        if "tenure_days" not in frame.columns:
            return self.reviews(as_of, np.full(len(frame), np.nan))
        tenure = pd.to_numeric(frame["tenure_days"], errors="coerce")
        return self.reviews(as_of, tenure.to_numpy(dtype=np.float64))

    def is_partner_review(self, as_of: datetime, tenure_days: float | None) -> bool:
        """`reviews` for one partner (the scalar twin, same arithmetic)."""
        if self.tier_review != "anniversary":
            return self.is_review(as_of)
        tenure = np.array([np.nan if tenure_days is None else tenure_days], dtype=np.float64)
        return bool(self.reviews(as_of, tenure)[0])


def _anniversary(joined: datetime, years: int) -> datetime:
    day = min(joined.day, _cal.monthrange(joined.year + years, joined.month)[1])
    return datetime(joined.year + years, joined.month, day, tzinfo=UTC)


WEEKLY = ProgramCalendar()


PERIOD_FEATURE_SUFFIX = {"month": "_mtd", "quarter": "_qtd", "year": "_ytd"}


def build_calendar(check: Checker, data: dict[str, Any], policy_given: bool) -> ProgramCalendar:
    """The `calendar:` section validated (problems go to `check`); weekly reviews without it."""
    raw = data.get("calendar")
    if raw is None:
        return WEEKLY
    if policy_given:
        check.add(
            ("tier_policy",),
            "tier_policy.demotion_grace and calendar.demotion_grace_reviews both set the "
            "demotion grace: keep calendar.demotion_grace_reviews (grace counted in reviews)",
            value="tier_policy",
        )
    spec = check.model(CalendarSpec, raw, ("calendar",))
    return WEEKLY if spec is None else ProgramCalendar.from_spec(spec)


def check_period_basis(
    check: Checker, period: str, basis: str | None, path: NodePath, rule_id: str
) -> None:
    """A per-period incentive measures its amount on what happened in that period."""
    suffix = PERIOD_FEATURE_SUFFIX.get(period)
    if suffix is None or basis is None or basis.endswith(suffix):
        return
    stem = basis.rsplit("_", 1)[0] if "_" in basis else basis
    check.add(
        path,
        f"basis '{basis}' is not measured per {period}: a {period}ly incentive is paid on "
        f"what happened in the {period} (e.g. '{stem}{suffix}')",
        rule_id=rule_id,
        value=basis,
    )
