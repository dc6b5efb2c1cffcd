"""Budget pools (`budgets:`) and how eligible claims on a pool are allocated (pure).

```yaml
budgets:
  - id: mdf
    description: Market development funds
    amount: 250000          # per period, in `unit`
    period: quarter         # month | quarter | year
    split:                  # optional: a sub-pool per value of the partner's region/tier/…
      by: region
      amounts: {NA: 120000, EMEA: 80000, APAC: 50000}
    caps: {Gold: 15000, Platinum: 50000}   # most one partner may draw per period, by tier
    rank_by: {propensity: churn_risk, invert: true, value: revenue_won_365d}
```

When the claims of a period exceed what is left, partners are served in order of expected
return (propensity × value, as actions are ranked; ties by partner id); the marginal partner
gets what is left, everyone after it is refused with the reason. A pool is never exceeded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from rules.checks import Checker
    from rules.source import NodePath

SPLIT_BY = ("region", "tier", "track", "partner_type")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitSpec(_Spec):
    by: Literal["region", "tier", "track", "partner_type"]
    amounts: dict[str, float] = Field(min_length=1)


class RankSpec(_Spec):
    propensity: str | None = None  # a model output; None → 1
    invert: bool = False
    value: str | None = None  # a numeric feature; None → 1


class PoolSpec(_Spec):
    id: str = Field(min_length=1)
    description: str = Field(min_length=1)
    amount: float = Field(gt=0)
    unit: str = "USD"
    period: Literal["month", "quarter", "year"]
    split: SplitSpec | None = None
    caps: dict[str, float] = Field(default_factory=dict)
    rank_by: RankSpec = Field(default_factory=RankSpec)


@dataclass(frozen=True)
class Pool:
    id: str
    description: str
    amount: float
    unit: str
    period: str
    split_by: str | None = None
    split: dict[str, float] = field(default_factory=dict)
    caps: dict[str, float] = field(default_factory=dict)
    propensity: str | None = None
    invert: bool = False
    value: str | None = None

    @classmethod
    def from_spec(cls, spec: PoolSpec) -> Pool:
        split = spec.split
        return cls(
            spec.id,
            spec.description,
            spec.amount,
            spec.unit,
            spec.period,
            split.by if split else None,
            dict(split.amounts) if split else {},
            dict(spec.caps),
            spec.rank_by.propensity,
            spec.rank_by.invert,
            spec.rank_by.value,
        )

    def budget(self, key: str | None) -> float:
        """What the (sub-)pool of split value `key` holds per period (0 for an unknown key)."""
        if self.split_by is None:
            return self.amount
        return float(self.split.get(str(key), 0.0))

    def features(self) -> set[str]:
        return {n for n in (self.propensity, self.value) if n}


ALLOCATION_COLUMNS = ("granted", "status", "reason", "rank", "expected_return")


def allocate(pool: Pool, claims: pd.DataFrame, drawn: pd.Series | None = None) -> pd.DataFrame:
    """Allocate `pool` among `claims` (one row per partner claim).

    claims: partner_id, claim (amount asked), tier, the split column (if split), and the
    pool's rank_by columns. drawn: what each sub-pool (index: split value, or `None` for an
    unsplit pool) already paid out earlier in the period. Returns the claims with `granted`,
    `status` (granted | partial | refused), `reason`, `rank` (1 = first served in its
    sub-pool) and `expected_return`.
    """
    out = claims.reset_index(drop=True).copy()
    n = len(out)
    if n == 0:
        for name, dtype in zip(ALLOCATION_COLUMNS, ("f8", "str", "str", "i8", "f8"), strict=True):
            out[name] = pd.Series(dtype=dtype)
        return out
    prop = _column(out, pool.propensity)
    out["expected_return"] = (1.0 - prop if pool.invert else prop) * _column(out, pool.value)
    caps = out["tier"].astype(str).map(pool.caps) if pool.caps else None
    ask = out["claim"].astype(float).to_numpy()
    if caps is not None:
        ask = np.where(caps.notna(), np.minimum(ask, caps.fillna(0).to_numpy()), ask)
    out["claim"] = ask
    key = out[pool.split_by].astype(str) if pool.split_by else pd.Series("", index=out.index)
    out["_key"] = key
    out = out.sort_values(
        ["_key", "expected_return", "partner_id"],
        ascending=[True, False, True],
        kind="mergesort",
        na_position="last",
    )
    before = out.groupby("_key", sort=False)["claim"].cumsum() - out["claim"]
    budget = out["_key"].map(lambda k: pool.budget(k if pool.split_by else None))
    spent = _drawn(out["_key"], drawn, pool)
    left = (budget - spent - before).clip(lower=0.0)
    out["granted"] = np.minimum(out["claim"], left)
    out["rank"] = out.groupby("_key", sort=False).cumcount() + 1
    out["status"] = np.where(
        out["granted"] >= out["claim"],
        "granted",
        np.where(out["granted"] > 0, "partial", "refused"),
    )
    out["reason"] = _reasons(pool, out, budget, spent)
    return out.drop(columns=["_key"]).sort_index().reset_index(drop=True)


def _column(frame: pd.DataFrame, name: str | None) -> np.ndarray:
    if name is None:
        return np.ones(len(frame))
    return np.nan_to_num(pd.to_numeric(frame[name], errors="coerce").to_numpy(float), nan=0.0)


def _drawn(key: pd.Series, drawn: pd.Series | None, pool: Pool) -> pd.Series:
    if drawn is None or drawn.empty:
        return pd.Series(0.0, index=key.index)
    if pool.split_by is None:
        return pd.Series(float(drawn.sum()), index=key.index)
    return key.map(drawn.groupby(drawn.index.astype(str)).sum()).fillna(0.0)


def _reasons(pool: Pool, out: pd.DataFrame, budget: pd.Series, spent: pd.Series) -> list[str]:
    where = (lambda k: f" ({pool.split_by} {k})") if pool.split_by else (lambda k: "")
    reasons = []
    for status, rank, claim, granted, b, s, k, er in zip(
        out["status"],
        out["rank"],
        out["claim"],
        out["granted"],
        budget,
        spent,
        out["_key"],
        out["expected_return"],
        strict=True,
    ):
        ahead = int(rank) - 1
        if status == "refused":
            reasons.append(
                f"pool {pool.id}{where(k)} exhausted: {ahead} partner(s) ahead of you "
                f"(by expected return) and {s:,.0f} drawn earlier took all {b:,.0f} {pool.unit}"
            )
        elif status == "partial":
            reasons.append(
                f"pool {pool.id}{where(k)} nearly exhausted: {granted:,.0f} of the "
                f"{claim:,.0f} claimed was left after {ahead} partner(s) ahead of you"
            )
        else:
            reasons.append(
                f"granted from pool {pool.id}{where(k)}: rank {int(rank)} by expected return "
                f"{er:,.2f}"
            )
    return reasons


def build_pools(check: Checker, data: dict[str, Any], tier_names: tuple[str, ...]) -> list[Pool]:
    """The `budgets:` section validated (every problem to `check`)."""
    from rules import conditions as cnd
    from rules.checks import duplicates, numeric_feature, section_items

    items = section_items(check, PoolSpec, data, "budgets")
    duplicates(check, "budgets", [(i, s.id) for i, s in items])
    pools = []
    for i, spec in items:
        path = ("budgets", i)
        for tier in spec.caps:
            _known_tier(check, (*path, "caps", tier), tier, tier_names, spec.id)
        if spec.split is not None:
            if spec.split.by == "tier":
                for tier in spec.split.amounts:
                    _known_tier(check, (*path, "split", "amounts", tier), tier, tier_names, spec.id)
            total = sum(spec.split.amounts.values())
            if total > spec.amount + 1e-9:
                check.add(
                    (*path, "split", "amounts"),
                    f"the split amounts add up to {total:,.0f}, more than the pool's "
                    f"{spec.amount:,.0f}",
                    rule_id=spec.id,
                    value=total,
                )
        rank = spec.rank_by
        if rank.propensity is not None and rank.propensity not in cnd.MODEL_OUTPUTS:
            check.add(
                (*path, "rank_by", "propensity"),
                f"unknown model output '{rank.propensity}' (known: "
                + ", ".join(cnd.MODEL_OUTPUTS)
                + ")",
                rule_id=spec.id,
                value=rank.propensity,
            )
        if rank.value is not None:
            numeric_feature(check, rank.value, (*path, "rank_by", "value"), spec.id)
        pools.append(Pool.from_spec(spec))
    return pools


def _known_tier(
    check: Checker, path: NodePath, tier: str, tier_names: tuple[str, ...], rule_id: str
) -> None:
    if tier in tier_names:
        return
    from features.registry import closest

    hint = closest(tier, list(tier_names))
    check.add(
        path,
        f"unknown tier '{tier}'" + (f" (did you mean '{hint}'?)" if hint else ""),
        rule_id=rule_id,
        value=tier,
    )


def check_draw(
    check: Checker,
    path: NodePath,
    rule_id: str,
    *,
    pool_id: str | None,
    period: str,
    unit: str,
    pools: list[Pool],
) -> None:
    """An incentive drawing on a pool names a known pool with the same period and unit."""
    if pool_id is None:
        return
    pool = next((p for p in pools if p.id == pool_id), None)
    if pool is None:
        from features.registry import closest

        hint = closest(pool_id, [p.id for p in pools])
        known = ", ".join(p.id for p in pools) or "none defined in `budgets:`"
        check.add(
            (*path, "pool"),
            f"unknown budget pool '{pool_id}'"
            + (f" (did you mean '{hint}'?)" if hint else f" (pools: {known})"),
            rule_id=rule_id,
            value=pool_id,
        )
        return
    if period != pool.period:
        check.add(
            (*path, "period"),
            f"period '{period}' does not match pool '{pool.id}' (period {pool.period}): an "
            "incentive draws on a pool once per the pool's period",
            rule_id=rule_id,
            value=period,
        )
    if unit != pool.unit:
        check.add(
            (*path, "reward", "unit"),
            f"unit '{unit}' does not match pool '{pool.id}' (unit {pool.unit})",
            rule_id=rule_id,
            value=unit,
        )


def draw_pools(
    book: Any, awards: pd.DataFrame, partners: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One period's pool draws from scratch (nothing drawn earlier), for `rules simulate`.

    awards: partner_id, incentive_id, amount (long, as the engine gives them). partners: one
    row per partner with tier and the pools' split and rank_by columns. Returns the awards with
    pool-drawing amounts replaced by what the pool grants (refused ones dropped), and one row
    per pool: pool, period, budget, partners, claimed, granted, refused.
    """
    keyed = partners.drop_duplicates("partner_id").set_index("partner_id")
    pool_of = {i.id: i.pool for i in book.incentives if i.pool}
    ids = awards["incentive_id"].astype(str)
    out = [awards.loc[~ids.isin(list(pool_of))]]
    summary = []
    for pool in book.budgets:
        mine = awards.loc[ids.map(pool_of) == pool.id]
        claims = pd.DataFrame(
            {"partner_id": mine["partner_id"].astype(str).to_numpy(), "claim": mine["amount"]}
        )
        for name in {"tier", pool.split_by or "tier", *pool.features()}:
            claims[name] = keyed[name].reindex(claims["partner_id"]).to_numpy()
        done = allocate(pool, claims)
        granted = mine.assign(amount=done["granted"].to_numpy())
        out.append(granted.loc[granted["amount"] > 0])
        summary.append(
            {
                "pool": pool.id,
                "period": pool.period,
                "budget": pool.amount,
                "partners": len(done),
                "claimed": float(done["claim"].sum()),
                "granted": float(done["granted"].sum()),
                "refused": int((done["status"] == "refused").sum()),
            }
        )
    columns = ["pool", "period", "budget", "partners", "claimed", "granted", "refused"]
    return pd.concat(out, ignore_index=True), pd.DataFrame(summary, columns=columns)
