"""The simulator's ground truth: what a perfect model would predict, kept out of the tables.

- `Truth.deal_acceptance`: deal_id → the true P(accepted) each partner deal registration was
  drawn with (direct deals are not registrations and are not in it).
- `Truth.churn_probability(as_of, horizon_days)`: partner_id → the true P(churn label = 1) given
  the simulator's latent state at the start of the week containing `as_of`, for every partner
  active at `as_of` (joined before it, not formally exited before it). The label is the one
  `training.labels` uses: a formal exit in [as_of, as_of + h), or no deal registration and no
  partner activity (manager contacts do not count) in that window. It is computed by forward
  Monte Carlo with exactly the simulator's `step`, so it conditions on nothing after `as_of`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.simulate_dynamics import (
    DAY_NS,
    EXIT_DELAY_DAYS,
    PARTNER_KINDS,
    WEEK_NS,
    Latent,
    Prepared,
    prepare,
    step,
)
from features.simulate_weeks import History
from tierwise.errors import InvalidInput

NAT = np.iinfo(np.int64).min
DEFAULT_PATHS = 256
MAX_ROWS = 400_000  # partner x path rows simulated at once (bounds memory)


@dataclass(frozen=True)
class LatentHistory:
    """Everything the oracle needs: per-partner traits and the weekly latent state."""

    partner_ids: np.ndarray  # (n,) str
    start_ns: int
    weeks: int
    seed: int
    joined_ns: np.ndarray
    exit_ns: np.ndarray  # true formal exit (may lie after the window end), NAT = never
    churn_ns: np.ndarray  # true moment the partner went quiet, NAT = never
    latent: Latent
    history: History

    def week_of(self, at_ns: int) -> int:
        return int((at_ns - self.start_ns) // WEEK_NS)


@dataclass(frozen=True)
class Truth:
    deal_acceptance: pd.Series  # index deal_id, name p_accepted
    latent: LatentHistory

    def churn_probability(
        self, as_of: datetime | pd.Timestamp, horizon_days: int, *, paths: int = DEFAULT_PATHS
    ) -> pd.Series:
        """partner_id → true P(churn label = 1 within the horizon | state at as_of)."""
        return churn_probability(self.latent, as_of, horizon_days, paths=paths)

    def state(self, as_of: datetime | pd.Timestamp) -> pd.DataFrame:
        """The latent state at the start of the week containing as_of, for partners joined
        before it: engagement, satisfaction, certifications, alive (False once gone quiet)."""
        lh = self.latent
        at = _ns(as_of)
        week = _check_week(lh, at)
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
            _to_time(lh.churn_ns),
            name="churned_at",
            index=pd.Index(lh.partner_ids.astype(str), name="partner_id", dtype="str"),
        )


def churn_probability(
    lh: LatentHistory,
    as_of: datetime | pd.Timestamp,
    horizon_days: int,
    *,
    paths: int = DEFAULT_PATHS,
) -> pd.Series:
    if horizon_days < 1:
        raise InvalidInput(f"horizon_days must be at least 1, got {horizon_days}")
    if paths < 1:
        raise InvalidInput(f"paths must be at least 1, got {paths}")
    at = _ns(as_of)
    week = _check_week(lh, at)
    stop = at + horizon_days * DAY_NS
    active = (lh.joined_ns < at) & ((lh.exit_ns == NAT) | (lh.exit_ns >= at))
    idx = np.nonzero(active)[0]
    prob = np.ones(idx.size)  # already quiet: no event can come, the label is 1
    alive = lh.history.alive[week, idx]
    run = np.nonzero(alive)[0]
    rng = np.random.default_rng(
        [lh.seed, week, int(at % WEEK_NS) // 1_000_000_000, horizon_days, paths]
    )
    per_chunk = max(1, MAX_ROWS // paths)
    prepared = prepare(lh.latent)
    for lo in range(0, run.size, per_chunk):
        rows = run[lo : lo + per_chunk]
        prob[rows] = _monte_carlo(lh, idx[rows], week, at, stop, paths, rng, prepared)
    return pd.Series(
        prob,
        name="p_churn",
        index=pd.Index(lh.partner_ids[idx].astype(str), name="partner_id", dtype="str"),
    )


def _monte_carlo(
    lh: LatentHistory,
    partners: np.ndarray,
    week: int,
    at: int,
    stop: int,
    paths: int,
    rng: np.random.Generator,
    prepared: Prepared,
) -> np.ndarray:
    rep = np.repeat(partners, paths)
    state = lh.history.state(week, rep)
    latent = lh.latent.take(rep)
    events = np.zeros(rep.size, dtype=np.int64)
    exit_p = np.zeros(rep.size)
    prep = prepared.rows(rep)
    w = week
    while lh.start_ns + w * WEEK_NS < stop:
        week_start = lh.start_ns + w * WEEK_NS
        week_end = week_start + WEEK_NS
        done = step(state, latent, prep, w, rng)
        covered = (min(week_end, stop) - max(week_start, at)) / WEEK_NS
        if covered >= 1.0:
            events += done.partner_events
        else:  # events fall uniformly in the week: keep each with the covered share
            keep = PARTNER_KINDS[done.kinds] & (rng.random(done.rows.size) < covered)
            events += np.bincount(done.rows[keep], minlength=rep.size)
        if week_end < stop and done.churned.any():
            left = (stop - week_end) / (EXIT_DELAY_DAYS * DAY_NS)
            c = done.churned
            exit_p[c] = latent.exit_prob[c] * -np.expm1(-left)
        w += 1
    label = np.where(events == 0, 1.0, exit_p)
    return label.reshape(-1, paths).mean(axis=1)


def _ns(value: datetime | pd.Timestamp) -> int:
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.as_unit("ns").value)


def _check_week(lh: LatentHistory, at: int) -> int:
    week = lh.week_of(at)
    if not 0 <= week <= lh.weeks:
        first, last = _to_time(np.array([lh.start_ns, lh.start_ns + lh.weeks * WEEK_NS]))
        raise InvalidInput(
            f"as_of {pd.Timestamp(at, tz='UTC')} is outside the simulated window "
            f"[{first}, {last}]: the simulator has no state there"
        )
    return week


def _to_time(ns: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(ns.astype("M8[ns]")).tz_localize("UTC")


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
    arrays |= {"partner_ids": lh.partner_ids.astype(str), "joined_ns": lh.joined_ns,
               "exit_ns": lh.exit_ns, "churn_ns": lh.churn_ns}
    np.savez(out / "latent_state.npz", **arrays)
    meta = {
        "start_ns": lh.start_ns,
        "weeks": lh.weeks,
        "seed": lh.seed,
        "start": str(_to_time(np.array([lh.start_ns]))[0]),
        "end": str(_to_time(np.array([lh.start_ns + lh.weeks * WEEK_NS]))[0]),
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
