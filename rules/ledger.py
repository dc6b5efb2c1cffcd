"""The incentive ledger, computed (pure): what a week's eligible incentives accrue.

One ledger row per (partner, incentive, period): `once` incentives have the period `once`, so
a milestone can never be granted twice; per-period ones are granted once per program period
(`2026-Q4`, `2026`…). With a `basis` the amount accrues over the period: each week adds
rate × (the basis measured now − what was already paid on in that period, by any incentive
on the same basis), so a promotion mid-quarter pays the new rate on the new revenue only.
Incentives drawing on a budget pool are allocated by `rules.budgets.allocate`; a refused
claim is a `forfeited` row carrying the reason.

Each week's movements are `accruals` (one row per ledger row and week, with the rulebook
hash): the week's incentive cost is their sum. Re-running a week first takes that week's
accruals back out (`without_week`), so a re-run never counts twice, and a rulebook change
mid-period adds accruals under the new hash without rewriting the earlier ones.

    >>> update = accrue(book, awards, frame, prior=rows, as_of=monday, week="2026-W48")
    >>> update.rows, update.accruals, update.cost
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from rules.budgets import allocate
from rules.conditions import names_in, to_text
from rules.model import Rulebook

KEY = ["partner_id", "incentive_id", "period"]
OPENING_WEEK = "opening"  # the `week` of the opening balance's accruals (before the first run)
STATUSES = ("accruing", "earned", "paid", "forfeited")
ROW_COLUMNS = (
    *KEY,
    "period_kind",
    "period_start",
    "period_end",
    "reward_type",
    "amount",
    "unit",
    "status",
    "basis",
    "measure",
    "pool",
    "pool_key",
    "rulebook_version",
    "rulebook_hash",
    "evidence",
    "first_week",
    "last_week",
)
INCENTIVE_COLUMNS = (
    "incentive_id",
    "period_kind",
    "period",
    "period_start",
    "period_end",
    "reward_type",
    "unit",
    "rate",
    "basis",
    "pool",
)
ACCRUAL_COLUMNS = (*KEY, "week", "amount", "unit", "measure", "previous_measure", "rulebook_hash")


@dataclass(frozen=True)
class LedgerUpdate:
    rows: pd.DataFrame  # ledger rows created or changed this week (ROW_COLUMNS)
    accruals: pd.DataFrame  # this week's movements (ACCRUAL_COLUMNS)
    refusals: pd.DataFrame  # partner_id, incentive_id, period, pool, claim, reason
    opening: float = 0.0  # the opening balance recorded before this week (first run only)

    @property
    def cost(self) -> float:
        """What accrued this week (the weekly summary's incentive cost)."""
        return float(self.accruals["amount"].sum()) if len(self.accruals) else 0.0

    def summary(self) -> dict[str, float | int]:
        """The weekly summary's ledger figures: the cost is what accrued this week."""
        figures: dict[str, float | int] = {
            "incentive_cost": self.cost,
            "incentive_accruals": len(self.accruals),
            "pool_refusals": len(self.refusals),
        }
        if self.opening:
            figures["incentive_opening_balance"] = self.opening
        return figures


def opening_balance(update: LedgerUpdate) -> LedgerUpdate:
    """An update computed on an empty ledger, as its opening balance: what the program had
    reached before Tierwise kept its ledger is not any week's cost. Milestones (`once`) reached
    before are settled (`paid`: the program's earlier process paid them, so they are never paid
    twice); the open periods' grants and accruals so far stay owed (`earned` / `accruing`), to be
    paid at the period's end like the rest of the period."""
    rows = update.rows.copy()
    settled = rows["period_kind"].eq("once") & rows["status"].eq("earned")
    rows.loc[settled, "status"] = "paid"
    return replace(update, rows=rows)


def empty_rows() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in ROW_COLUMNS})


def empty_accruals() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in ACCRUAL_COLUMNS})


def _dtype(column: str) -> str:
    if column in ("amount", "measure", "previous_measure"):
        return "float64"
    if column in ("period_start", "period_end"):
        return "datetime64[ns, UTC]"
    return "object"


def without_week(rows: pd.DataFrame, accruals: pd.DataFrame, week: str) -> pd.DataFrame:
    """The ledger rows as they were before `week` ran: its accruals taken back out, rows it
    created dropped. (A re-run of a week starts from here.)"""
    if rows.empty:
        return rows
    out = rows.loc[rows["first_week"] != week].copy()
    mine = accruals.loc[accruals["week"] == week] if len(accruals) else accruals
    if len(mine):
        back = mine.set_index(KEY)
        index = pd.MultiIndex.from_frame(out[KEY])
        taken = back["amount"].reindex(index).fillna(0.0).to_numpy()
        before = back["previous_measure"].reindex(index).to_numpy(dtype=float)
        out["amount"] = out["amount"].to_numpy(dtype=float) - taken
        had = ~np.isnan(before)
        out["measure"] = np.where(had, before, out["measure"].to_numpy(dtype=float))
        # granted only by this week (a claim refused earlier): not held before it
        back_out = (taken > 0) & (out["amount"] <= 1e-9) & (out["status"] != "accruing")
        out.loc[back_out, "status"] = "forfeited"
    return out.reset_index(drop=True)


def accrue(
    book: Rulebook,
    awards: pd.DataFrame,
    frame: pd.DataFrame,
    *,
    prior: pd.DataFrame,
    as_of: datetime,
    week: str,
) -> LedgerUpdate:
    """This week's ledger movements.

    awards: the eligible incentives (partner_id, incentive_id, amount: reward × basis, as the
    engine computes them). frame: one row per partner with the features the incentives'
    conditions, bases and pools read, plus the decided `tier` and `track`. prior: ledger rows
    of the open periods and every `once` row, as they were before this week.
    """
    keyed = frame.drop_duplicates("partner_id").set_index("partner_id")
    keyed.index = keyed.index.astype(str)
    claims = _claims(book, awards, keyed, as_of)
    prior = prior if len(prior) else empty_rows()
    live = prior.loc[prior["status"] != "forfeited"]
    held = pd.MultiIndex.from_frame(live[KEY]) if len(live) else None
    had = (
        pd.MultiIndex.from_frame(claims[KEY]).isin(held)
        if held is not None
        else np.zeros(len(claims), dtype=bool)
    )
    measured = claims["basis"].notna() & (claims["period_kind"] != "once")
    flat = claims.loc[~measured & ~had]
    grants, refusals = _draw(book, flat, live)
    accruing = _measure(claims.loc[measured], prior)
    hash_ = book.content_hash
    new = pd.concat([grants, accruing], ignore_index=True)
    new = new.loc[new["amount"] > 0].reset_index(drop=True)
    new["evidence"] = _evidence(book, keyed, new)
    refusals = refusals.reset_index(drop=True)
    refusals["evidence"] = _evidence(book, keyed, refusals)
    accruals = new.assign(week=week, rulebook_hash=hash_)[list(ACCRUAL_COLUMNS)]
    rows = _rows(book, new, refusals, prior, as_of=as_of, week=week)
    return LedgerUpdate(rows.reset_index(drop=True), accruals.reset_index(drop=True), refusals)


def _claims(
    book: Rulebook, awards: pd.DataFrame, keyed: pd.DataFrame, as_of: datetime
) -> pd.DataFrame:
    """Each award with its incentive's period (label and dates), basis, pool and rate."""
    cal = book.calendar
    rows = []
    for inc in book.incentives:
        p = cal.period(inc.period, as_of)
        rows.append(
            {
                "incentive_id": inc.id,
                "period_kind": inc.period,
                "period": p.label,
                "period_start": p.start,
                "period_end": p.end,
                "reward_type": inc.reward.type,
                "unit": inc.reward.unit,
                "rate": inc.reward.amount,
                "basis": inc.reward.basis,
                "pool": inc.pool,
            }
        )
    table = pd.DataFrame(rows, columns=list(INCENTIVE_COLUMNS))
    out = awards[["partner_id", "incentive_id", "amount"]].astype({"incentive_id": str})
    out = out.rename(columns={"amount": "claim"}).merge(table, on="incentive_id", how="inner")
    for column in ("period_start", "period_end"):
        out[column] = pd.to_datetime(out[column], utc=True)
    out["partner_id"] = out["partner_id"].astype(str)
    out["measure"] = _basis_values(keyed, out)
    for name in ("tier", "track", "region", "partner_type"):
        if name in keyed.columns:
            out[name] = keyed[name].astype(str).reindex(out["partner_id"]).to_numpy()
    for pool in book.budgets:
        for name in pool.features():
            if name in keyed.columns and name not in out.columns:
                out[name] = keyed[name].reindex(out["partner_id"]).to_numpy()
    return out


def _basis_values(keyed: pd.DataFrame, claims: pd.DataFrame) -> np.ndarray:
    out = np.full(len(claims), np.nan)
    for basis in claims["basis"].dropna().unique():
        rows = (claims["basis"] == basis).to_numpy()
        values = pd.to_numeric(keyed[basis], errors="coerce").reindex(claims["partner_id"][rows])
        out[rows] = np.nan_to_num(values.to_numpy(dtype=float), nan=0.0)
    return out


def _evidence(book: Rulebook, keyed: pd.DataFrame, claims: pd.DataFrame) -> pd.Series:
    """The conditions that held, the values they read and the pool's allocation, per claim."""
    out: list[dict[str, Any]] = [{} for _ in range(len(claims))]
    for inc in book.incentives:
        rows = np.flatnonzero((claims["incentive_id"] == inc.id).to_numpy())
        if not len(rows):
            continue
        names = sorted(n for n in names_in(inc.when) | {inc.reward.basis or ""} if n)
        names = [n for n in names if n in keyed.columns]
        pids = claims["partner_id"].to_numpy()[rows]
        values = {n: keyed[n].reindex(pids).tolist() for n in names}
        text = to_text(inc.when)
        for k, row in enumerate(rows):
            out[row] = {"when": text, "values": {n: _plain(values[n][k]) for n in names}}
    if "reason" in claims.columns:
        for doc, reason in zip(out, claims["reason"].tolist(), strict=True):
            if isinstance(reason, str):
                doc["allocation"] = reason
    return pd.Series(out, index=claims.index, dtype=object)


def _plain(value: Any) -> Any:
    if isinstance(value, (np.floating, float)):
        return None if value != value else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return None if value is None else value if isinstance(value, (int, bool)) else str(value)


def _draw(
    book: Rulebook, flat: pd.DataFrame, live: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Flat grants: straight for incentives without a pool, allocated for pool draws."""
    free = flat.loc[flat["pool"].isna()].assign(amount=lambda f: f["claim"])
    granted = [free.assign(previous_measure=np.nan, pool_key=None)]
    refused = []
    for pool in book.budgets:
        claims = flat.loc[flat["pool"] == pool.id]
        if claims.empty:
            continue
        drawn = live.loc[live["pool"] == pool.id]
        drawn_by = drawn.groupby(drawn["pool_key"].fillna(""))["amount"].sum()
        out = allocate(pool, claims, drawn_by)
        out["pool_key"] = out[pool.split_by].astype(str) if pool.split_by else None
        ok = out["status"] != "refused"
        granted.append(out.loc[ok].assign(amount=out["granted"], previous_measure=np.nan))
        refused.append(out.loc[~ok])
    grants = pd.concat(granted, ignore_index=True)
    refusals = (
        pd.concat(refused, ignore_index=True)
        if refused
        else flat.iloc[:0].assign(reason=pd.Series(dtype=str), pool_key=None)
    )
    return grants, refusals


def _measure(claims: pd.DataFrame, prior: pd.DataFrame) -> pd.DataFrame:
    """Accruals of basis-measured incentives: rate × (measure − already paid on)."""
    if claims.empty:
        return claims.assign(amount=pd.Series(dtype=float), previous_measure=np.nan)
    base = prior.loc[prior["basis"].notna() & (prior["status"] != "forfeited")]
    paid_on = base.groupby(["partner_id", "period", "basis"])["measure"].max()
    index = pd.MultiIndex.from_frame(claims[["partner_id", "period", "basis"]])
    baseline = paid_on.reindex(index).fillna(0.0).to_numpy()
    own = prior.set_index(KEY)["measure"] if len(prior) else pd.Series(dtype=float)
    previous = own.reindex(pd.MultiIndex.from_frame(claims[KEY])).to_numpy(dtype=float)
    grown = np.maximum(claims["measure"].to_numpy(dtype=float) - baseline, 0.0)
    out = claims.assign(
        amount=claims["rate"].to_numpy(dtype=float) * grown,
        previous_measure=previous,
        pool_key=None,
    )
    out["measure"] = np.maximum(claims["measure"].to_numpy(dtype=float), baseline)
    return out


def _rows(
    book: Rulebook,
    new: pd.DataFrame,
    refusals: pd.DataFrame,
    prior: pd.DataFrame,
    *,
    as_of: datetime,
    week: str,
) -> pd.DataFrame:
    """The ledger rows this week creates or changes (amounts added to the prior ones)."""
    touched = new.assign(
        status=np.where(new["period_kind"].eq("once") | new["basis"].isna(), "earned", "accruing")
    )
    forfeited = refusals.assign(amount=0.0, status="forfeited", measure=np.nan)
    changes = pd.concat([touched, forfeited], ignore_index=True)
    before = prior.set_index(KEY) if len(prior) else empty_rows().set_index(KEY)
    index = pd.MultiIndex.from_frame(changes[KEY]) if len(changes) else None
    if index is not None:
        earlier = before.reindex(index)
        changes["amount"] = changes["amount"].to_numpy(float) + earlier["amount"].fillna(
            0
        ).to_numpy(float)
        first = earlier["first_week"].to_numpy(dtype=object)
        changes["first_week"] = np.where(pd.isna(first), week, first)
    changes = changes.assign(
        last_week=week,
        rulebook_version=book.version,
        rulebook_hash=book.content_hash,
    )
    # open periods that ended before this week's as_of: what accrued is earned
    ended = prior.loc[
        (prior["status"] == "accruing") & (pd.to_datetime(prior["period_end"], utc=True) <= as_of)
    ].assign(status="earned", last_week=week)
    out = pd.concat(
        [changes.reindex(columns=list(ROW_COLUMNS)), ended.reindex(columns=list(ROW_COLUMNS))],
        ignore_index=True,
    )
    return out.drop_duplicates(KEY, keep="first")
