"""What an evaluation returns: one partner (`PartnerDecision`) or a frame (`FrameDecision`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, NamedTuple, Self, TypeVar, overload

import pandas as pd

from rules.compile import Log
from rules.explain import Check, GapItem, checks_of, fmt_value, gap_items, log_gap
from rules.flat import Span, Trace, spans_of, tier_entries
from rules.model import STATE_COLUMNS, Rulebook, TierState

T = TypeVar("T")


class lazy(Generic[T]):  # noqa: N801 - used like functools.cached_property
    """`functools.cached_property` without its lock (Python 3.11 takes an RLock on every
    first read, which costs more than building a decision's gap): computed on first read,
    then a plain instance attribute."""

    def __init__(self, fn: Callable[[Any], T]) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__

    @overload
    def __get__(self, obj: None, cls: type | None = None) -> Self: ...
    @overload
    def __get__(self, obj: object, cls: type | None = None) -> T: ...
    def __get__(self, obj: object | None, cls: type | None = None) -> Self | T:
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.fn(obj)
        return value


class Award(NamedTuple):
    """An incentive the partner is eligible for, with its reward (COLLECT)."""

    incentive_id: str
    reward_type: str
    amount: float
    unit: str


class Candidate(NamedTuple):
    """An eligible action with what serving needs to arbitrate between candidates."""

    action_id: str
    propensity: float
    value: float
    weight: float
    cooldown_days: int


@dataclass
class PartnerDecision:
    rulebook: Rulebook = field(repr=False)
    as_of: datetime
    partner_id: str | None
    track: str
    evaluated_tier: str
    tier: str
    tier_change: str  # promoted | demoted | unchanged | new
    tier_basis: str  # rules | grace | override
    state: TierState
    incentives: list[Award]
    scores: dict[str, float]
    actions: list[Candidate]
    next_tier: str | None
    features: Mapping[str, Any] = field(repr=False)
    log: Log = field(repr=False)  # one entry per condition checked, in evaluation order
    trace: Trace = field(repr=False)  # the outcome of every rule evaluated

    @property
    def rulebook_version(self) -> str:
        return self.rulebook.version

    @property
    def rulebook_hash(self) -> str:
        return self.rulebook.content_hash

    @property
    def benefits(self) -> dict[str, float | str]:
        track = self.rulebook.track(self.track)
        tier = track.tier(self.tier) if track else None
        return dict(tier.benefits) if tier else {}

    @lazy
    def next_review(self) -> datetime | None:
        """When the tier is next reviewed (the program calendar's next review date)."""
        tenure = self.features.get("tenure_days")
        return self.rulebook.calendar.next_review(self.as_of, tenure)

    @property
    def on_course_for(self) -> str:
        """The tier the partner would get at the next review if nothing changed."""
        return self.evaluated_tier

    @lazy
    def spans(self) -> list[Span]:
        """(section, rule id, log start, log end, outcome) of every rule evaluated."""
        return spans_of(self.rulebook.flat, self.trace)

    @lazy
    def checks(self) -> list[Check]:
        """Every condition checked, in evaluation order, with actual value and outcome."""
        return checks_of(self.log)  # the spans cover the whole log, in order

    @lazy
    def gap(self) -> list[GapItem]:
        """Each unmet requirement of the next tier and by how much ([] at the top tier)."""
        if self.next_tier is None:
            return []
        fb = self.rulebook.flat
        track = fb.tracks[self.trace.track].track
        at = len(track.tiers) - 1 - track.ranks[self.next_tier]  # tiers are highest first
        flat, where = (
            fb.tracks[self.trace.track].tiers[at].flat,
            tier_entries(fb, self.trace, at),
        )
        if flat is not None and where is not None:  # evaluated: its log tells what failed
            return log_gap(flat, self.log[where[0] : where[1]])
        return gap_items(track.tiers[at].compiled, self.features)

    def score_parts(self) -> list[dict[str, Any]]:
        """Each scorecard part: feature, actual value and its 0-100 score."""
        return [
            {
                "component": c.id,
                "feature": p.feature,
                "actual": self.features.get(p.feature),
                "score": p.score(self.features.get(p.feature)),
                "weight": p.weight,
            }
            for c in self.rulebook.scorecard
            for p in c.parts
        ]

    def explain(self) -> list[str]:
        """A readable account of the decision, line by line."""
        lines = [
            f"rulebook {self.rulebook.version} ({self.rulebook.content_hash[:12]}), "
            f"as of {self.as_of:%Y-%m-%d}",
            f"track {self.track}: tier {self.tier} ({self.tier_change}, by {self.tier_basis};"
            f" rules alone give {self.evaluated_tier})",
        ]
        if self.tier_basis == "override":
            lines.append(
                f"  manager override: {self.state.override_reason or 'no reason given'}"
                f" until {self.state.override_until or 'further notice'}"
            )
        if self.tier_basis == "calendar":
            review = self.next_review
            lines.append(
                f"  held until the next tier review"
                f"{f' on {review:%Y-%m-%d}' if review else ''}:"
                f" on course for {self.on_course_for}"
            )
        if self.tier_basis == "grace":
            lines.append(
                f"  held for now: {self.state.missed_evaluations} of "
                f"{self.rulebook.demotion_grace} consecutive misses (at reviews) before a demotion"
            )
        lines.extend(f"  {c.text()}" for c in self.checks)
        if self.next_tier:
            lines.append(f"gap to {self.next_tier}:")
            lines.extend(f"  - {g.text}{' (or)' if g.alternative else ''}" for g in self.gap)
        lines.append(
            "incentives: "
            + (
                ", ".join(
                    f"{a.incentive_id} ({a.reward_type} {fmt_value('', a.amount)} {a.unit})"
                    for a in self.incentives
                )
                or "none"
            )
        )
        lines.append("scores: " + ", ".join(f"{k} {v:.0f}" for k, v in self.scores.items()))
        lines.append("actions: " + (", ".join(a.action_id for a in self.actions) or "none"))
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "partner_id": self.partner_id,
            "as_of": self.as_of.isoformat(),
            **self.rulebook.stamp(),
            "track": self.track,
            "tier": self.tier,
            "evaluated_tier": self.evaluated_tier,
            "tier_change": self.tier_change,
            "tier_basis": self.tier_basis,
            "state": {k: getattr(self.state, k) for k in STATE_COLUMNS},
            "benefits": self.benefits,
            "incentives": [a._asdict() for a in self.incentives],
            "scores": self.scores,
            "actions": [a._asdict() for a in self.actions],
            "next_tier": self.next_tier,
            "next_review": None if self.next_review is None else self.next_review.isoformat(),
            "on_course_for": self.on_course_for,
            "gap": [g._asdict() for g in self.gap],
            "checks": [c._asdict() for c in self.checks],
        }


@dataclass(frozen=True)
class FrameDecision:
    """Decisions for every row of a feature frame (row-aligned unless noted)."""

    rulebook_version: str
    rulebook_hash: str
    as_of: datetime
    tiers: pd.DataFrame  # partner_id, track, evaluated_tier, tier, tier_change, tier_basis, state
    incentives: pd.DataFrame  # long: partner_id, incentive_id, reward_type, amount, unit
    scores: pd.DataFrame  # partner_id, one column per 6Cs component, overall
    eligible: pd.DataFrame  # partner_id + one boolean column per action
    actions: pd.DataFrame  # long, eligible only: partner_id, action_id, propensity, value, …

    @property
    def state(self) -> pd.DataFrame:
        """The new tier state, in the shape `previous` expects next time."""
        return self.tiers[["partner_id", *STATE_COLUMNS]]
