"""Certifications held by people, point in time: who is certified, in what, at `as_of`.

A certification counts from `passed_at` until `expires_at` (exclusive; null = never): one
that expired before `as_of` does not count, nor one passed at or after it. A person holding
several certifications counts once, and so does a specialisation several people hold: each
(partner, person) and each (partner, specialisation) is merged into the spans it is covered,
and a span is one event when it starts and one when it ends.

    certified_people    people with at least one certification in force
    specialisations     distinct specialisations in force
    certifications_active  certifications in force (a person's two count twice)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.windows import NAT, EventIndex, IntArray, to_ns

NEVER = np.iinfo(np.int64).max
Columns = dict[str, np.ndarray]


@dataclass(frozen=True)
class Coverage:
    """Spans in force keyed by partner code: started before t minus ended at or before t."""

    started: EventIndex
    ended: EventIndex  # at the span's end - 1 ns, so a span ending exactly at t is over

    def in_force(self, p: IntArray, t: IntArray) -> np.ndarray:
        return self.started.probe(p, t).count() - self.ended.probe(p, t).count()


@dataclass(frozen=True)
class CertificationStreams:
    people: Coverage
    specialisations: Coverage
    certifications: Coverage


def index_certifications(frame: pd.DataFrame, partner: IntArray, n: int) -> CertificationStreams:
    """The three coverages of a certifications table; `partner` = each row's partner code."""
    start = to_ns(frame["passed_at"])
    end = to_ns(frame["expires_at"])
    end = np.where(end == NAT, NEVER, end)
    ok = (partner >= 0) & (start != NAT) & (end > start)
    partner, start, end = partner[ok], start[ok], end[ok]
    person = frame["person_id"].astype("str").to_numpy(dtype=object)[ok]
    text = frame["specialisation"].astype("str")
    special = np.asarray(text.astype(object).where(text.notna(), None), dtype=object)[ok]
    has_special = np.array([s is not None and s.strip() != "" for s in special], dtype=bool)
    return CertificationStreams(
        people=_coverage(partner, person, start, end, n),
        specialisations=_coverage(
            partner[has_special], special[has_special], start[has_special], end[has_special], n
        ),
        certifications=_spans(partner, start, end, n),
    )


def certification_columns(streams: CertificationStreams, p: IntArray, t: IntArray) -> Columns:
    return {
        "certified_people": streams.people.in_force(p, t),
        "specialisations": streams.specialisations.in_force(p, t),
        "certifications_active": streams.certifications.in_force(p, t),
    }


def _coverage(
    partner: IntArray, key: np.ndarray, start: IntArray, end: IntArray, n: int
) -> Coverage:
    """Spans of (partner, key) merged where they overlap or touch."""
    spans = merge_spans(partner, key, start, end)
    return _spans(
        spans["partner"].to_numpy(), spans["start"].to_numpy(), spans["end"].to_numpy(), n
    )


def _spans(partner: IntArray, start: IntArray, end: IntArray, n: int) -> Coverage:
    finite = end != NEVER
    return Coverage(
        started=EventIndex.build(partner, start, n),
        ended=EventIndex.build(partner[finite], end[finite] - 1, n),
    )


def merge_spans(partner: IntArray, key: np.ndarray, start: IntArray, end: IntArray) -> pd.DataFrame:
    """One row per maximal span a (partner, key) is covered: columns partner, start, end."""
    frame = pd.DataFrame(
        {"partner": partner, "key": pd.Series(key, dtype="str"), "start": start, "end": end}
    ).sort_values(["partner", "key", "start"], kind="stable")
    group = [frame["partner"], frame["key"]]
    reach = frame.groupby(group, sort=False)["end"].cummax()
    before = reach.groupby(group, sort=False).shift(1)
    fresh = before.isna() | (frame["start"] > before)
    span = fresh.cumsum()
    merged = frame.assign(span=span.to_numpy()).groupby("span", sort=False)
    return pd.DataFrame(
        {
            "partner": merged["partner"].first().to_numpy(dtype=np.int64),
            "start": merged["start"].min().to_numpy(dtype=np.int64),
            "end": merged["end"].max().to_numpy(dtype=np.int64),
        }
    )
