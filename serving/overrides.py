"""Manager overrides checked against the partner's track: where they are entered and where
they are used. Pure: rulebook + frames in, frames or lists out.

An override names a tier of the partner's track (`Gold`, not `gold`, not `Diamond`). The
review form offers only those tiers and the API refuses others (422); a stored override that
no longer fits (the rulebook changed, the partner changed track) is reported and ignored —
the partner is planned by the rules alone — instead of failing the weekly job for everyone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from rules import Rulebook, evaluate_frame, evaluate_partner
from rules.model import TierState
from tierwise.errors import InvalidInput, Problem

OVERRIDE_COLUMNS = ("override_tier", "override_reason", "override_until")
MODEL_OUTPUTS = ("churn_risk", "deal_acceptance")


def track_tiers(rulebook: Rulebook, track_id: str) -> list[str]:
    """The tier ids of a track, highest first."""
    track = next((t for t in rulebook.tracks if t.id == track_id), None)
    return [t.id for t in track.tiers] if track is not None else []


def partner_track(rulebook: Rulebook, features: Mapping[str, Any], *, as_of: datetime) -> str:
    """The track the rules put a partner on (model outputs are not needed for that)."""
    context = {name: None for name in rulebook.features_needed}
    context.update({k: v for k, v in features.items() if k in context})
    return evaluate_partner(rulebook, context, previous=None, as_of=as_of).track


def checked_tier(tier: str, *, allowed: list[str], partner_id: str) -> str:
    """The rulebook's spelling of `tier` when it is one of `allowed` (case aside), else 422."""
    by_lower = {t.lower(): t for t in allowed}
    found = by_lower.get(tier.strip().lower())
    if found is None:
        raise InvalidInput(
            f"'{tier}' is not a tier of partner '{partner_id}'s track "
            f"(choose one of: {', '.join(allowed)})",
            [Problem(f"one of {', '.join(allowed)}", column="tier", value=tier)],
        )
    return found


def invalid_overrides(
    rulebook: Rulebook, frame: pd.DataFrame, previous: pd.DataFrame, *, as_of: datetime
) -> pd.DataFrame:
    """Active overrides in `previous` naming a tier outside the partner's track.

    Columns: partner_id, override_tier, track, allowed (the track's tiers, comma-separated).
    """
    empty = pd.DataFrame(columns=["partner_id", "override_tier", "track", "allowed"])
    if previous.empty or "override_tier" not in previous.columns:
        return empty
    until = pd.to_datetime(previous["override_until"], utc=True)
    active = previous["override_tier"].notna() & (until.isna() | (until > pd.Timestamp(as_of)))
    overrides = previous.loc[active, ["partner_id", "override_tier"]]
    rows = frame.loc[frame["partner_id"].isin(overrides["partner_id"])]
    if rows.empty:
        return empty
    rows = rows.assign(**{m: np.nan for m in MODEL_OUTPUTS if m not in rows.columns})
    tracks = evaluate_frame(rulebook, rows, previous=None, as_of=as_of).tiers
    found = overrides.merge(
        pd.DataFrame({"partner_id": tracks["partner_id"], "track": tracks["track"].astype(str)}),
        on="partner_id",
    )
    allowed = {t.id: [tier.id for tier in t.tiers] for t in rulebook.tracks}
    ok = [
        str(tier) in allowed.get(track, [])
        for tier, track in zip(found["override_tier"], found["track"], strict=True)
    ]
    bad = found.loc[~np.asarray(ok, dtype=bool)].reset_index(drop=True)
    bad["allowed"] = bad["track"].map(lambda t: ", ".join(allowed.get(t, [])))
    return bad


def without_overrides(previous: pd.DataFrame, partner_ids: Any) -> pd.DataFrame:
    """`previous` with the overrides of these partners removed (their tier state kept)."""
    out = previous.copy()
    rows = out["partner_id"].isin(list(partner_ids))
    for name in OVERRIDE_COLUMNS:
        if name in out.columns:
            out[name] = out[name].astype(object)
            out.loc[rows, name] = None
    out["override_until"] = pd.to_datetime(out["override_until"], utc=True)
    return out


def without_override(state: TierState | None) -> TierState | None:
    """One partner's state without its override."""
    if state is None:
        return None
    return TierState(state.tier, state.missed_evaluations)


def override_report(bad: pd.DataFrame) -> list[dict[str, str]]:
    """What the weekly summary lists for every override it ignored."""
    return [
        {
            "partner_id": str(r.partner_id),
            "override_tier": str(r.override_tier),
            "track": str(r.track),
            "allowed": str(r.allowed),
        }
        for r in bad.itertuples(index=False)
    ]
