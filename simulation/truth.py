"""The simulator's ground truth: what a perfect model would predict, kept out of the tables.

- `Truth.deal_acceptance`: deal_id → the true P(accepted) each partner deal registration was
  drawn with (direct deals are not registrations and are not in it).
- `Truth.churn_probability(as_of, horizon_days)`: partner_id → the true P(churn label = 1) given
  the simulator's latent state at the start of the week containing `as_of`, for every partner
  active at `as_of` (joined before it, not formally exited before it), or for a subset
  (`partner_ids`). The label is the one `training.labels` uses: a formal exit in
  [as_of, as_of + h), or no deal registration and no partner activity (manager contacts do
  not count) in that window. It is estimated by forward Monte Carlo with exactly the
  simulator's `step`, so it conditions on nothing after `as_of` (`simulation.truth_churn`: the
  estimators; `simulation.truth_oracle`: blocks, seeds, path counts). `Truth.churn_estimate`
  adds each value's standard error and path count. Deterministic for the data, as_of,
  horizon and paths; cached per `Truth`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulation.dynamics import WEEK_NS, Latent
from simulation.truth_oracle import (
    NAT,
    SE_TARGET,
    Block,
    CacheKey,
    LatentHistory,
    Method,
    check_week,
    churn_estimate,
    churn_probability,
    to_ns,
    to_time,
)
from simulation.weeks import History
from tierwise.errors import InvalidInput

__all__ = [
    "NAT",
    "LatentHistory",
    "Truth",
    "churn_estimate",
    "churn_probability",
    "load_truth",
    "write_truth",
]


@dataclass(frozen=True)
class Truth:
    deal_acceptance: pd.Series  # index deal_id, name p_accepted
    latent: LatentHistory
    # churn estimates already computed, per block of partners (see `churn_estimate`)
    _cache: dict[CacheKey, Block] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def churn_probability(
        self,
        as_of: datetime | pd.Timestamp,
        horizon_days: int,
        *,
        paths: int | None = None,
        partner_ids: Iterable[str] | None = None,
    ) -> pd.Series:
        """partner_id → true P(churn label = 1 within the horizon | state at as_of).

        For every partner active at as_of, or for those of `partner_ids` active then (the
        same values as in the full call). `paths`: Monte-Carlo paths per partner; None
        (default) = as many as each partner needs for a standard error of about SE_TARGET.
        Deterministic for the data, as_of, horizon and paths; cached per Truth.
        """
        return self.churn_estimate(as_of, horizon_days, paths=paths, partner_ids=partner_ids)[
            "p_churn"
        ]

    def churn_estimate(
        self,
        as_of: datetime | pd.Timestamp,
        horizon_days: int,
        *,
        paths: int | None = None,
        partner_ids: Iterable[str] | None = None,
        se_target: float = SE_TARGET,
        method: Method = "conditional",
    ) -> pd.DataFrame:
        """`churn_probability` with its Monte-Carlo standard error: columns p_churn, se,
        paths (se 0 for partners already quiet, NaN with a single path). `method="plain"`
        is the original estimator (a simulated 0/1 label per path), kept as the reference."""
        return churn_estimate(
            self.latent,
            as_of,
            horizon_days,
            paths=paths,
            partner_ids=partner_ids,
            se_target=se_target,
            method=method,
            cache=self._cache,
        )

    def state(self, as_of: datetime | pd.Timestamp) -> pd.DataFrame:
        """The latent state at the start of the week containing as_of, for partners joined
        before it: engagement, satisfaction, certifications, alive (False once gone quiet)."""
        lh = self.latent
        at = to_ns(as_of)
        week = check_week(lh, at)
        idx = np.nonzero(lh.joined_ns < at)[0]
        h = lh.history
        return pd.DataFrame(
            {
                "engagement": h.engagement[week, idx].astype(np.float64),
                "satisfaction": h.satisfaction[week, idx].astype(np.float64),
                "certifications": h.certs[week, idx].astype(np.int64),
                "alive": h.alive[week, idx],
            },
            index=pd.Index(lh.partner_ids[idx].astype(str), name="partner_id", dtype="str"),
        )

    @property
    def churned_at(self) -> pd.Series:
        """partner_id → when the partner went quiet (NaT = never, within the window)."""
        lh = self.latent
        return pd.Series(
            to_time(lh.churn_ns),
            name="churned_at",
            index=pd.Index(lh.partner_ids.astype(str), name="partner_id", dtype="str"),
        )


# ---- files -------------------------------------------------------------------------------

TRUTH_DIR = "_truth"


def write_truth(truth: Truth, directory: Path) -> Path:
    """Write the truth under `directory/_truth/` (never read by the table loaders)."""
    out = Path(directory) / TRUTH_DIR
    out.mkdir(parents=True, exist_ok=True)
    frame = truth.deal_acceptance.rename("p_accepted").reset_index()
    frame.to_parquet(out / "deal_acceptance.parquet", index=False)
    lh = truth.latent
    arrays: dict[str, Any] = {f"latent_{k}": v for k, v in lh.latent.arrays().items()}
    arrays |= {f"history_{f.name}": getattr(lh.history, f.name) for f in fields(lh.history)}
    arrays |= {
        "partner_ids": lh.partner_ids.astype(str),
        "joined_ns": lh.joined_ns,
        "exit_ns": lh.exit_ns,
        "churn_ns": lh.churn_ns,
    }
    np.savez(out / "latent_state.npz", **arrays)
    meta = {
        "start_ns": lh.start_ns,
        "weeks": lh.weeks,
        "seed": lh.seed,
        "start": str(to_time(np.array([lh.start_ns]))[0]),
        "end": str(to_time(np.array([lh.start_ns + lh.weeks * WEEK_NS]))[0]),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return out


def load_truth(directory: str | Path) -> Truth:
    """Read the truth that `write_simulation` wrote under `directory/_truth/`."""
    src = Path(directory) / TRUTH_DIR
    missing = [
        name
        for name in ("deal_acceptance.parquet", "latent_state.npz", "meta.json")
        if not (src / name).is_file()
    ]
    if missing:
        raise InvalidInput(f"{src} holds no simulator truth: missing {', '.join(missing)}")
    frame = pd.read_parquet(src / "deal_acceptance.parquet")
    acceptance = pd.Series(
        frame["p_accepted"].to_numpy(dtype=np.float64),
        name="p_accepted",
        index=pd.Index(frame["deal_id"].astype("str"), name="deal_id"),
    )
    meta = json.loads((src / "meta.json").read_text(encoding="utf-8"))
    with np.load(src / "latent_state.npz", allow_pickle=False) as z:
        latent = Latent(**{f.name: z[f"latent_{f.name}"] for f in fields(Latent)})
        history = History(**{f.name: z[f"history_{f.name}"] for f in fields(History)})
        lh = LatentHistory(
            partner_ids=z["partner_ids"],
            start_ns=int(meta["start_ns"]),
            weeks=int(meta["weeks"]),
            seed=int(meta["seed"]),
            joined_ns=z["joined_ns"],
            exit_ns=z["exit_ns"],
            churn_ns=z["churn_ns"],
            latent=latent,
            history=history,
        )
    return Truth(deal_acceptance=acceptance, latent=lh)
