"""Propensity that means "the action works": a Beta posterior per action × segment.

An action *works* when the manager accepted and did it (status ``done``) and the partner
responded in the outcome window. What "responded" means is per action, read from the
partner's features at the decision and at the end of the window (`RESPONSES`):

| action | responded |
|---|---|
| retention_call, reengage_dormant, | still in the program, with a partner activity after |
| scheduled_checkin, recognise_milestone | the decision (manager contacts do not count) |
| send_enablement | downloaded more material (`materials_downloaded_90d` rose) |
| push_certification | a certification pass (`cert_passes_90d` rose) |
| nudge_next_tier | a registration (`deals_registered_90d` rose) |
| invite_jbp | a business review (`business_reviews_365d` rose) |
| deal_desk_help | an accepted registration (`deals_accepted_90d` rose) |

A dismissed action did not work (its slot was spent on nothing). The segment is the
partner's `lifecycle_status` (new | active | lapsed): small enough that every cell fills.

`fit_propensity` (pure: examples in, table out) counts decisions and successes per action ×
segment and per action (segment ``*``). `Propensities` is what serving reads: each cell's
posterior is the rulebook's prior, recentred on the action's pooled rate, plus the cell's
evidence (partial pooling: a thin cell leans on its action). The posterior uses the prior of
the rulebook that is loaded, so a prior edited after the fit takes effect at once. Thompson
sampling: one draw per action × segment × ISO week (seeded by them, so the same week gives the
same plan and the same answer on both serving paths).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import betaincinv

SEGMENT = "lifecycle_status"
ALL = "*"  # the action's pooled row
UNKNOWN = "unknown"  # a partner whose segment is missing
STATUSES = ("accepted", "dismissed", "done")  # decided plan rows
TABLE_COLUMNS = ("action_id", "segment", "n", "successes", "alpha", "beta", "mean")


@dataclass(frozen=True)
class Response:
    """How a partner shows that an action worked: ``sign_of_life`` (still in the program and
    `feature` — days since the last activity — at most the days since the decision) or
    ``rose`` (`feature` is higher at the end of the window than at the decision)."""

    kind: str
    feature: str
    text: str


SIGN_OF_LIFE = Response(
    "sign_of_life", "days_since_last_activity", "a sign of life after the decision"
)
RESPONSES: dict[str, Response] = {
    "retention_call": SIGN_OF_LIFE,
    "reengage_dormant": SIGN_OF_LIFE,
    "scheduled_checkin": SIGN_OF_LIFE,
    "recognise_milestone": SIGN_OF_LIFE,
    "send_enablement": Response("rose", "materials_downloaded_90d", "downloaded material"),
    "push_certification": Response("rose", "cert_passes_90d", "a certification pass"),
    "nudge_next_tier": Response("rose", "deals_registered_90d", "a registration"),
    "invite_jbp": Response("rose", "business_reviews_365d", "a business review"),
    "deal_desk_help": Response("rose", "deals_accepted_90d", "an accepted registration"),
}


def response_of(action_id: str) -> Response:
    """An action's response (an action the table does not name: a sign of life)."""
    return RESPONSES.get(action_id, SIGN_OF_LIFE)


def _num(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def responded(
    action_ids: Sequence[str] | np.ndarray,
    before: pd.DataFrame,
    after: pd.DataFrame,
    *,
    elapsed_days: np.ndarray,
) -> np.ndarray:
    """Per row: did the partner respond to the action? ``before``/``after`` are its features
    at the decision and at the end of the window (row-aligned); an ``after`` row that is all
    missing (the partner left the data) is no response."""
    actions = np.asarray(action_ids, dtype=object)
    exited = after["exited"].astype("boolean").fillna(True).to_numpy(dtype=bool)
    out = np.zeros(len(actions), dtype=bool)
    for action in pd.unique(actions):
        at = actions == action
        r = response_of(str(action))
        then, now = _num(before, r.feature)[at], _num(after, r.feature)[at]
        with np.errstate(invalid="ignore"):
            if r.kind == "sign_of_life":
                hit = ~exited[at] & (now <= elapsed_days[at])
            else:
                hit = np.nan_to_num(now, nan=-np.inf) > np.nan_to_num(then, nan=0.0)
        out[at] = hit
    return out


def examples(decisions: pd.DataFrame, before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """One row per decided action: action_id, segment, success.

    ``decisions``: action_id, status (accepted | dismissed | done), elapsed_days (from the
    decision to the end of its window); ``before``/``after``: the partner's features then
    (row-aligned). An accepted action not yet done is left out (its outcome is not known)."""
    status = decisions["status"].astype(str).to_numpy()
    keep = np.isin(status, ("done", "dismissed"))
    actions = decisions["action_id"].astype(str).to_numpy()
    works = responded(
        actions,
        before.reset_index(drop=True),
        after.reset_index(drop=True),
        elapsed_days=decisions["elapsed_days"].to_numpy(dtype=np.float64),
    )
    segment = (
        before[SEGMENT].astype(object).where(before[SEGMENT].notna(), UNKNOWN).astype(str)
        if SEGMENT in before.columns
        else pd.Series(UNKNOWN, index=before.index)
    ).to_numpy()
    return pd.DataFrame(
        {
            "action_id": actions[keep],
            "segment": segment[keep],
            "success": (status == "done")[keep] & works[keep],
        }
    )


def fit_propensity(
    examples: pd.DataFrame, priors: Mapping[str, tuple[float, float]]
) -> pd.DataFrame:
    """The posterior table (`TABLE_COLUMNS`) of the learned actions in ``priors`` (action →
    the rulebook's Beta prior): one row per action × segment seen, plus the action's ``*``
    row (all its decisions; an action with none gets its ``*`` row at the prior)."""
    learned = examples.loc[examples["action_id"].isin(list(priors))]
    cells = (
        learned.groupby(["action_id", "segment"], sort=True)["success"]
        .agg(n="size", successes="sum")
        .reset_index()
    )
    counts = learned.groupby("action_id")["success"].agg(n="size", successes="sum")
    pooled = counts.reindex(list(priors), fill_value=0).rename_axis("action_id").reset_index()
    table = pd.concat([pooled.assign(segment=ALL), cells], ignore_index=True)
    table["n"] = table["n"].astype(np.int64)
    table["successes"] = table["successes"].astype(np.int64)
    post = Propensities.from_table(table, priors)
    ab = [post.posterior(a, s) for a, s in zip(table["action_id"], table["segment"], strict=True)]
    table["alpha"] = [p[0] for p in ab]
    table["beta"] = [p[1] for p in ab]
    table["mean"] = table["alpha"] / (table["alpha"] + table["beta"])
    return table[list(TABLE_COLUMNS)].sort_values(["action_id", "segment"], ignore_index=True)


def unit_draw(*keys: object) -> float:
    """A uniform number in (0, 1) fixed by ``keys`` (the same on every machine and path)."""
    digest = hashlib.blake2b("|".join(map(str, keys)).encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") + 0.5) / 2.0**64


def source(n: int) -> str:
    """What an answer says about a learned propensity: ``prior`` or ``learned (n=…)``."""
    return "prior" if n <= 0 else f"learned (n={n})"


@dataclass(frozen=True)
class Propensities:
    """The fitted evidence per action × segment, ready for O(1) look-ups in serving."""

    counts: dict[tuple[str, str], tuple[int, int]]  # (action, segment) → (n, successes)
    priors: dict[str, tuple[float, float]]  # action → the rulebook's (alpha, beta)
    seed: int = 0
    version: str = ""
    cache: dict[tuple[str, str, str], tuple[float, int]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @classmethod
    def from_table(
        cls,
        table: pd.DataFrame,
        priors: Mapping[str, tuple[float, float]],
        *,
        seed: int = 0,
        version: str = "",
    ) -> Propensities:
        counts = {
            (str(a), str(s)): (int(n), int(k))
            for a, s, n, k in zip(
                table["action_id"], table["segment"], table["n"], table["successes"], strict=True
            )
        }
        return cls(counts, dict(priors), seed, version)

    def with_priors(self, priors: Mapping[str, tuple[float, float]]) -> Propensities:
        """The same evidence under another rulebook's priors."""
        return Propensities(self.counts, dict(priors), self.seed, self.version)

    def posterior(self, action_id: str, segment: str) -> tuple[float, float]:
        """(alpha, beta): the prior recentred on the action's pooled rate, plus the cell."""
        a0, b0 = self.priors.get(action_id, (1.0, 1.0))
        n_all, k_all = self.counts.get((action_id, ALL), (0, 0))
        strength = a0 + b0
        mean = (a0 + k_all) / (strength + n_all)
        if segment == ALL:
            return a0 + k_all, b0 + n_all - k_all
        n, k = self.counts.get((action_id, segment), (0, 0))
        return mean * strength + k, (1.0 - mean) * strength + n - k

    def evidence(self, action_id: str, segment: str) -> int:
        """Decisions behind a cell (its action's, when the segment has none)."""
        n = self.counts.get((action_id, segment), (0, 0))[0]
        return n or self.counts.get((action_id, ALL), (0, 0))[0]

    def draw(self, action_id: str, segment: str | None, week: str) -> tuple[float, int]:
        """(a Thompson draw from the cell's posterior, its evidence n) — one per action ×
        segment × week, cached (a dict look-up after the first)."""
        seg = segment or UNKNOWN
        key = (action_id, seg, week)
        hit = self.cache.get(key)
        if hit is None:
            alpha, beta = self.posterior(action_id, seg)
            u = unit_draw(self.seed, week, action_id, seg)
            hit = (float(betaincinv(alpha, beta, u)), self.evidence(action_id, seg))
            self.cache[key] = hit
        return hit

    def draws(
        self, action_ids: Sequence[str], segments: Sequence[str | None], week: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """`draw` of every row (propensity, n), one computation per distinct pair."""
        pairs = [self.draw(a, s, week) for a, s in zip(action_ids, segments, strict=True)]
        return (
            np.array([p for p, _ in pairs], dtype=np.float64),
            np.array([n for _, n in pairs], dtype=np.int64),
        )
