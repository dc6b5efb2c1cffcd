"""recommend = rules × models × arbitration — the one place they meet.

`recommend_frame` (every partner at once: batched model predictions, vectorized rules,
arbitration with numpy/pandas) serves the weekly job and batch requests; `recommend_one`
(no pandas: Scorer.encode + predict on a numpy row, rules.evaluate_partner) serves a single
HTTP request. Both produce the same tiers, scores, risks and ranked actions for a partner.

Models give two outputs the rulebook can use: `churn_risk` (the churn model on the
partner's features) and `deal_acceptance` — the deal model's likelihood that the partner's
*typical next registration* is accepted (`features.deal_features.typical_deal`: a new deal at
its average registered amount over 365 days, on a new customer, with no channel conflict).

An action whose rulebook entry asks for a learned propensity (P(the action works)) gets, when
`tierwise-propensity` is registered, a Thompson draw from its posterior for the partner's
segment (`training.propensity.Propensities.draw`: one per action × segment × ISO week of
as_of, the same on both paths), else the rulebook prior's mean; `propensity_source` says which
(`prior`, `learned (n=…)`), and so does the priority line of the reasons.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from features.deal_features import typical_deal, typical_deal_frame
from features.lifecycle import STATUS, status_of
from features.registry import registry_version
from rules import evaluate_frame, evaluate_partner
from rules.decision import Candidate, PartnerDecision
from rules.explain import Check, checks_from
from rules.model import Rulebook, TierState
from rules.sentences import frame_sentences, sentence
from serving.arbitration import Ranked, Suppressed, arbitrate_frame, arbitrate_one
from serving.reasons import action_by_id, frame_reasons, reasons
from serving.weeks import week_of
from training.propensity import Propensities, source
from training.scorer import Scorer

MODEL_OUTPUTS = ("churn_risk", "deal_acceptance")
ACTION_COLUMNS = (
    "partner_id",
    "action_id",
    "rank",
    "priority",
    "propensity",
    "value",
    "weight",
    "title",
    "sentence",
    "reasons",
    "propensity_source",
)
PARTNER_NAME = "partner_name"  # optional frame column: the partner's name, for sentences


@dataclass(frozen=True)
class ModelInfo:
    name: str
    alias: str
    version: str


@dataclass(frozen=True)
class Models:
    """The registered models the service scores with. `deal` is None when the program has no
    deal-acceptance model (its data had no rejected registration: e.g. a transaction log)."""

    churn: Scorer
    deal: Scorer | None
    churn_name: str = "tierwise-churn"
    deal_name: str = "tierwise-deal-acceptance"
    alias: str = "champion"
    propensity: Propensities | None = None  # learned propensities (None: the priors)
    propensity_name: str = "tierwise-propensity"

    def infos(self) -> list[ModelInfo]:
        infos = [ModelInfo(self.churn_name, self.alias, str(self.churn.version))]
        if self.deal is not None:
            infos.append(ModelInfo(self.deal_name, self.alias, str(self.deal.version)))
        if self.propensity is not None:
            infos.append(ModelInfo(self.propensity_name, self.alias, self.propensity.version))
        return infos


# --- learned propensities -----------------------------------------------------------------

PRIOR = "prior"


def _learned_ids(rulebook: Rulebook) -> frozenset[str]:
    return frozenset(a.id for a in rulebook.actions if a.prior is not None)


def _learned_one(
    candidates: list[Candidate],
    *,
    rulebook: Rulebook,
    models: Models,
    segment: str | None,
    as_of: datetime,
) -> tuple[list[Candidate], dict[str, str]]:
    """The candidates with the learned propensities drawn (a dict look-up per learned action
    after the week's first draw), and each learned action's source."""
    learned = _learned_ids(rulebook)
    if not learned:
        return candidates, {}
    table = models.propensity
    if table is None:
        return candidates, {c.action_id: PRIOR for c in candidates if c.action_id in learned}
    week = week_of(as_of)
    out, sources = [], {}
    for c in candidates:
        if c.action_id in learned:
            p, n = table.draw(c.action_id, segment, week)
            c = c._replace(propensity=p)
            sources[c.action_id] = source(n)
        out.append(c)
    return out, sources


def _learned_frame(
    actions: pd.DataFrame,
    *,
    rulebook: Rulebook,
    models: Models,
    segments: pd.Series,
    as_of: datetime,
) -> tuple[pd.DataFrame, np.ndarray]:
    """`_learned_one` for the engine's long candidate table (segments: partner_id → segment)."""
    sources = np.full(len(actions), "", dtype=object)
    learned = _learned_ids(rulebook)
    ids = actions["action_id"].astype(str)
    at = ids.isin(learned).to_numpy()
    if not at.any():
        return actions, sources
    sources[at] = PRIOR
    table = models.propensity
    if table is None:
        return actions, sources
    unique = segments[~segments.index.duplicated()]  # a partner twice: its first row's
    seg = unique.reindex(actions["partner_id"].astype(str).to_numpy()).to_numpy()[at]
    p, n = table.draws(ids.to_numpy()[at].tolist(), list(seg), week_of(as_of))
    actions = actions.copy()
    prop = actions["propensity"].to_numpy(dtype=np.float64, copy=True)
    prop[at] = p
    actions["propensity"] = prop
    sources[at] = [source(int(k)) for k in n]
    return actions, sources


def _with_source(lines: list[str], src: str) -> list[str]:
    """The reasons with the learned source in the priority line (the rules say `prior`)."""
    if src in ("", PRIOR) or not lines:
        return lines
    return [*lines[:-1], lines[-1].replace(f"({PRIOR}) ×", f"({src}) ×", 1)]


@cache
def _registry_version() -> str:
    return registry_version()  # the registry is declared in code: fixed for the process


def versions(rulebook: Rulebook, models: Models, as_of: datetime | None) -> dict[str, Any]:
    """What produced an answer, so that it can be replayed."""
    return {
        "rulebook_version": rulebook.version,
        "rulebook_hash": rulebook.content_hash,
        "models": [m.__dict__.copy() for m in models.infos()],
        "feature_registry": _registry_version(),
        "as_of": as_of,
    }


def model_outputs(features: Mapping[str, Any], models: Models) -> dict[str, float]:
    """churn_risk and deal_acceptance for one partner (numpy rows, no pandas)."""
    churn = float(models.churn.predict(models.churn.encode([features]))[0])
    deal = math.nan
    if models.deal is not None:
        deal_row = {**features, **typical_deal(features)}
        deal = float(models.deal.predict(models.deal.encode([deal_row]))[0])
    return {"churn_risk": churn, "deal_acceptance": deal}


def model_outputs_frame(frame: pd.DataFrame, models: Models) -> pd.DataFrame:
    """churn_risk and deal_acceptance for every row, in two batched predictions."""
    churn = models.churn.predict(models.churn.encode_frame(frame))
    if models.deal is None:
        deal = np.full(len(frame), np.nan)
    else:
        deal = models.deal.predict(models.deal.encode_frame(typical_deal_frame(frame)))
    return pd.DataFrame({"churn_risk": churn, "deal_acceptance": deal}, index=frame.index)


# --- one partner --------------------------------------------------------------------------


@dataclass
class RecommendedAction:
    action_id: str
    description: str
    rank: int
    priority: float
    propensity: float
    value: float
    weight: float
    reasons: list[str]  # the codes: conditions that held, then the priority arithmetic
    title: str = ""  # what the manager reads (the rulebook's title)
    sentence: str = ""  # the rulebook's reason template filled in for this partner
    propensity_source: str = ""  # a learned propensity's: prior | learned (n=…); else ""


@dataclass
class PartnerRecommendation:
    """The answer for one partner: the rules' decision, model outputs and ranked actions."""

    partner_id: str
    decision: PartnerDecision
    churn_risk: float
    deal_acceptance: float
    actions: list[RecommendedAction]
    suppressed: list[Suppressed]
    versions: dict[str, Any] = field(default_factory=dict)
    lifecycle_status: str | None = None  # new | active | lapsed | exited (features.lifecycle)


def recommend_one(
    features: Mapping[str, Any],
    *,
    rulebook: Rulebook,
    models: Models,
    previous: TierState | None = None,
    history: Mapping[str, datetime] | None = None,
    as_of: datetime,
    partner_id: str | None = None,
) -> PartnerRecommendation:
    """Tier, incentives, 6Cs, churn risk and ranked actions for one partner (fast path).

    `history`: action_id → when it was last done or dismissed for this partner.
    """
    pid = partner_id if partner_id is not None else str(features.get("partner_id", ""))
    outputs = model_outputs(features, models)
    decision = evaluate_partner(
        rulebook, {**features, **outputs, "partner_id": pid}, previous=previous, as_of=as_of
    )
    status = status_of(features)
    candidates, sources = _learned_one(
        decision.actions, rulebook=rulebook, models=models, segment=status, as_of=as_of
    )
    ranked, suppressed = arbitrate_one(
        candidates, history=history or {}, as_of=as_of, k=rulebook.max_actions_per_partner
    )
    checks = _action_checks(decision, {r.action_id for r in ranked}) if ranked else {}
    name = features.get(PARTNER_NAME)
    context = {**decision.features, "tier": decision.tier, "tier_change": decision.tier_change}
    actions = [
        _recommended(
            rulebook,
            r,
            checks.get(r.action_id, []),
            context,
            name if name else pid,
            sources.get(r.action_id, ""),
        )
        for r in ranked
    ]
    return PartnerRecommendation(
        pid,
        decision,
        outputs["churn_risk"],
        outputs["deal_acceptance"],
        actions,
        suppressed,
        versions(rulebook, models, as_of),
        status,
    )


def _action_checks(decision: PartnerDecision, ids: set[str]) -> dict[str, list[Check]]:
    """The checks of these actions' conditions only (cheaper than every check)."""
    spans = [span for span in decision.spans if span[0] == "action" and span[1] in ids]
    out: dict[str, list[Check]] = {}
    for check in checks_from(decision.log, spans):
        out.setdefault(check.rule_id, []).append(check)
    return out


def _recommended(
    rulebook: Rulebook,
    r: Ranked,
    checks: Sequence[Check],
    features: Mapping[str, Any],
    partner: str,
    propensity_source: str = "",
) -> RecommendedAction:
    action = action_by_id(rulebook, r.action_id)
    return RecommendedAction(
        r.action_id,
        action.description,
        r.rank,
        r.priority,
        r.propensity,
        r.value,
        r.weight,
        _with_source(reasons(rulebook, r, checks), propensity_source),
        action.title,
        sentence(action, features, value=r.value, partner=partner),
        propensity_source,
    )


# --- every partner ------------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """The rulebook's `settings.plan`: a manager's slots one partner may take, caps per action."""

    slots_per_partner: int = 1
    action_caps: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Recommendations:
    """The frame answer: one decision row per partner, incentives, ranked actions, versions."""

    decisions: pd.DataFrame
    incentives: pd.DataFrame
    actions: pd.DataFrame
    suppressed: pd.DataFrame
    versions: dict[str, Any]
    spread: Spread = field(default_factory=Spread)  # how the weekly plan spreads the slots


def recommend_frame(
    frame: pd.DataFrame,
    *,
    rulebook: Rulebook,
    models: Models,
    previous: pd.DataFrame | None = None,
    history: pd.DataFrame | None = None,
    as_of: datetime,
) -> Recommendations:
    """Everything `recommend_one` gives, for every partner of a feature frame at once.

    `previous`: tier state per partner_id; `history`: partner_id, action_id,
    last_done_or_dismissed_at.
    """
    frame = frame.reset_index(drop=True)
    outputs = model_outputs_frame(frame, models)
    scored = pd.concat([frame.drop(columns=list(MODEL_OUTPUTS), errors="ignore"), outputs], axis=1)
    decision = evaluate_frame(rulebook, scored, previous=previous, as_of=as_of)
    candidates, sources = _learned_frame(
        decision.actions,
        rulebook=rulebook,
        models=models,
        segments=_segments(frame),
        as_of=as_of,
    )
    ranked, suppressed = arbitrate_frame(
        candidates,
        history=history,
        as_of=as_of,
        k=rulebook.max_actions_per_partner,
        action_order=[a.id for a in rulebook.actions],
    )
    ranked["reasons"] = frame_reasons(rulebook, ranked, scored, decision.tiers)
    ranked["propensity_source"] = _ranked_sources(candidates, sources, ranked)
    if (ranked["propensity_source"] != "").any():
        ranked["reasons"] = [
            _with_source(lines, src)
            for lines, src in zip(
                ranked["reasons"].tolist(), ranked["propensity_source"].tolist(), strict=True
            )
        ]
    titles = {a.id: a.title for a in rulebook.actions}
    ranked["title"] = ranked["action_id"].astype(str).map(titles).astype(object)
    names = frame[PARTNER_NAME] if PARTNER_NAME in frame.columns else None
    ranked["sentence"] = frame_sentences(rulebook, ranked, scored, decision.tiers, names)
    decisions = _decisions(frame, outputs, decision)
    return Recommendations(
        decisions,
        decision.incentives,
        ranked[list(ACTION_COLUMNS)],
        suppressed,
        versions(rulebook, models, as_of),
        Spread(rulebook.slots_per_partner, dict(rulebook.action_caps)),
    )


def _segments(frame: pd.DataFrame) -> pd.Series:
    """partner_id → the segment a learned propensity is looked up by (lifecycle status)."""
    pids = frame["partner_id"].astype(str).to_numpy()
    if STATUS not in frame.columns:
        return pd.Series([None] * len(frame), index=pids, dtype=object)
    status = frame[STATUS].astype(object)
    return pd.Series(status.where(status.notna(), None).to_numpy(), index=pids, dtype=object)


def _ranked_sources(
    candidates: pd.DataFrame, sources: np.ndarray, ranked: pd.DataFrame
) -> np.ndarray:
    """Each ranked row's propensity source (arbitration keeps only its own columns)."""
    if not (sources != "").any():
        return np.full(len(ranked), "", dtype=object)
    keys = candidates["partner_id"].astype(str) + "|" + candidates["action_id"].astype(str)
    found = pd.Series(sources, index=keys.to_numpy())
    mine = ranked["partner_id"].astype(str) + "|" + ranked["action_id"].astype(str)
    return found[~found.index.duplicated()].reindex(mine.to_numpy()).fillna("").to_numpy()


def _decisions(frame: pd.DataFrame, outputs: pd.DataFrame, decision: Any) -> pd.DataFrame:
    keys = frame[[c for c in ("partner_id", "manager_id", STATUS) if c in frame.columns]]
    scores = decision.scores.drop(columns=["partner_id"], errors="ignore")
    tiers = decision.tiers.drop(columns=["partner_id"], errors="ignore")
    return pd.concat(
        [
            keys,
            tiers.reset_index(drop=True),
            scores.reset_index(drop=True),
            outputs.reset_index(drop=True),
        ],
        axis=1,
    )
