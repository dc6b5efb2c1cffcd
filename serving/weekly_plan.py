"""The weekly plan's pure core: `recommend_frame`'s result in, the week's plan out.

`plan_week` turns a `Recommendations` into what the week stores: classified tier decisions,
incentive awards and each manager's actions cut to capacity (`allocate_capacity`). Actions
already reviewed this week are pinned (never re-proposed, never duplicated) and still count
against the manager's capacity, so re-running a week gives the same plan. No I/O here: the job
(`serving.weekly.run_week`) loads, calls and persists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from rules.policy import review_changes
from serving.recommend import Recommendations
from serving.spread import spread
from tierwise.errors import InvalidInput, Problem

PLAN_KEY = ["partner_id", "action_id"]
REVIEWED_COLUMNS = ["partner_id", "action_id", "manager_id", "priority", "overflow"]


@dataclass(frozen=True)
class WeekPlan:
    """What one week stores: decisions (classified), awards, the new plan rows and a summary."""

    decisions: pd.DataFrame
    awards: pd.DataFrame
    plan: pd.DataFrame  # new rows only; the reviewed ones stay as they are
    summary: dict[str, Any]


def plan_week(
    recs: Recommendations,
    *,
    week: str,
    owners: pd.DataFrame,
    previous: pd.DataFrame,
    capacity: int,
    reviewed: pd.DataFrame | None = None,
    snoozed: pd.DataFrame | None = None,
) -> WeekPlan:
    """The week's plan from `recommend_frame`'s answer (see the module doc).

    owners: partner_id → manager_id; previous: the tier states the week started from
    (partner_id, tier, ...); reviewed / snoozed: see `allocate_capacity`.
    """
    decisions = tier_decisions(recs.decisions, previous)
    awards = incentive_awards(recs.incentives)
    actions = plan_actions(recs.actions, decisions)
    plan = allocate_capacity(
        actions,
        owners=owners,
        capacity=capacity,
        reviewed=reviewed,
        snoozed=snoozed,
        per_partner=recs.spread.slots_per_partner,
        caps=recs.spread.action_caps,
    )
    both = plan if reviewed is None or reviewed.empty else pd.concat([plan, reviewed])
    summary = summarize(
        week=week, partners=len(recs.decisions), decisions=decisions, plan=both, awards=awards
    )
    return WeekPlan(decisions, awards, plan, summary)


def plan_actions(actions: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    """The ranked actions with the partner's decided tier and churn risk (what a plan row shows)."""
    extra = decisions[["partner_id", "tier", "churn_risk"]]
    return actions.merge(extra, on="partner_id", how="left")


def allocate_capacity(
    actions: pd.DataFrame,
    *,
    owners: pd.DataFrame,
    capacity: int,
    reviewed: pd.DataFrame | None = None,
    snoozed: pd.DataFrame | None = None,
    per_partner: int = 1,
    caps: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """Cut the recommended actions down to each manager's weekly capacity, at most
    ``per_partner`` slots per partner and ``caps[action]`` per action type (`serving.spread`);
    the rest is overflow, in the same order.

    actions: one row per recommended (partner_id, action_id) with `priority` (+ any columns).
    owners: partner_id → manager_id. reviewed: this week's already-reviewed actions
    (partner_id, action_id, manager_id, priority, overflow). snoozed: (partner_id, action_id)
    still snoozed from earlier weeks — left out.
    Returns the NEW rows only (reviewed ones excluded) with manager_id, manager_rank
    (1 = first in the manager's list, reviewed rows included) and overflow.
    """
    if capacity < 1:
        raise InvalidInput("capacity must be at least 1", [Problem("too small", value=capacity)])
    cands = actions.drop(columns=["manager_id"], errors="ignore").merge(
        owners[["partner_id", "manager_id"]], on="partner_id", how="left", validate="many_to_one"
    )
    missing = cands["manager_id"].isna()
    if missing.any():
        pid = cands.loc[missing, "partner_id"].iloc[0]
        raise InvalidInput(
            f"{int(missing.sum())} action(s) for partners without a channel manager",
            [Problem("no manager_id", column="manager_id", value=pid)],
        )
    cands = _without(cands, snoozed)
    # ties are broken by ids as text: a categorical would sort by rulebook order on the first
    # run but as text once reviewed rows (plain strings) join, and a re-run would reorder
    cands["action_id"] = cands["action_id"].astype(str)
    pinned = _empty_reviewed() if reviewed is None else reviewed
    cands = _without(cands, pinned)
    cands["_new"] = True
    pins = pinned.assign(_new=False)[[*REVIEWED_COLUMNS, "_new"]]
    both = pd.concat([cands, pins], ignore_index=True) if len(pins) else cands
    both = both.sort_values(
        ["manager_id", "priority", "partner_id", "action_id"],
        ascending=[True, False, True, True],
        kind="mergesort",
        ignore_index=True,
    )
    both["manager_rank"] = both.groupby("manager_id", sort=False).cumcount() + 1
    held = pins.loc[~pins["overflow"].astype(bool)]
    new = both.loc[both["_new"].astype(bool)].copy()
    new["overflow"] = spread(
        new, capacity=capacity, per_partner=per_partner, caps=caps, pinned=held
    )
    new["manager_rank"] = new["manager_rank"].astype("int64")
    return new.drop(columns=["_new"]).reset_index(drop=True)


def _without(frame: pd.DataFrame, keys: pd.DataFrame | None) -> pd.DataFrame:
    if keys is None or keys.empty:
        return frame
    index = pd.MultiIndex.from_frame(keys[PLAN_KEY].astype(str))
    mine = pd.MultiIndex.from_frame(frame[PLAN_KEY].astype(str))
    return frame.loc[~mine.isin(index)].copy()


def _empty_reviewed() -> pd.DataFrame:
    dtypes = {"priority": "float64", "overflow": "bool"}
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "str")) for c in REVIEWED_COLUMNS})


# --- from recommend's frames to what the plan stores ----------------------------------------


def tier_decisions(decisions: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """`Recommendations.decisions` → stored rows; `change` is the rules' review classification
    (`rules.policy.review_changes`: new, promoted, demoted, grace, override, unchanged)."""
    out = pd.DataFrame({"partner_id": decisions["partner_id"].astype(str).to_numpy()})
    prev = previous.set_index("partner_id")["tier"] if len(previous) else pd.Series(dtype="str")
    out["previous_tier"] = out["partner_id"].map(prev).astype(object).to_numpy()
    out["tier"] = decisions["tier"].astype(str).to_numpy()
    out["qualified_tier"] = decisions["evaluated_tier"].astype(str).to_numpy()
    out["missed_evaluations"] = decisions["missed_evaluations"].fillna(0).astype("int64").to_numpy()
    for name in ("override_tier", "override_reason", "override_until"):
        out[name] = decisions[name].astype(object).to_numpy()
    out["churn_risk"] = pd.to_numeric(decisions["churn_risk"]).to_numpy()
    out["score"] = pd.to_numeric(decisions["overall"]).to_numpy()
    out["change"] = review_changes(decisions, out["previous_tier"].to_numpy())
    out["details"] = pd.Series(_details(decisions), dtype=object)
    return out


STORED_APART = {
    "partner_id",
    "manager_id",
    "as_of",
    "tier",
    "evaluated_tier",
    "tier_change",
    "missed_evaluations",
    "override_tier",
    "override_reason",
    "override_until",
    "churn_risk",
    "overall",
}


def _details(decisions: pd.DataFrame) -> list[dict[str, object]]:
    """Everything else of a decision (track, basis, deal_acceptance, the 6Cs scores)."""
    kept = [c for c in decisions.columns if c not in STORED_APART]
    if not kept:
        return [{} for _ in range(len(decisions))]
    names = [str(c) for c in kept]
    columns = [_cells(decisions[c]) for c in kept]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _cells(column: pd.Series) -> list[object]:
    """Plain Python values; timestamps as ISO text (as `jsonable` writes them)."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return [None if pd.isna(v) else v.isoformat() for v in column]
    return column.tolist()


def incentive_awards(incentives: pd.DataFrame) -> pd.DataFrame:
    """`Recommendations.incentives` → (partner_id, incentive_id, reward_type, amount)."""
    return pd.DataFrame(
        {
            "partner_id": incentives["partner_id"].astype(str),
            "incentive_id": incentives["incentive_id"].astype(str),
            "reward_type": incentives["reward_type"].astype(str),
            "amount": pd.to_numeric(incentives["amount"]).fillna(0.0),
        }
    )


def summarize(
    *, week: str, partners: int, decisions: pd.DataFrame, plan: pd.DataFrame, awards: pd.DataFrame
) -> dict[str, object]:
    """The run's summary: partners scored, tier movement, actions per type, incentive cost."""
    changes = decisions["change"].value_counts()
    planned = plan.loc[~plan["overflow"].astype(bool)]
    return {
        "week": week,
        "partners_scored": partners,
        "promotions": int(changes.get("promoted", 0)),
        "demotions": int(changes.get("demoted", 0)),
        "in_grace": int(changes.get("grace", 0)),
        "overrides": int(changes.get("override", 0)),
        "actions_planned": len(planned),
        "actions_overflow": int(plan["overflow"].astype(bool).sum()),
        "actions_per_type": {
            str(k): int(v) for k, v in planned["action_id"].value_counts().items()
        },
        "managers": int(plan["manager_id"].nunique()),
        "incentive_awards": len(awards),
        "incentive_cost": float(awards["amount"].sum()),
    }
