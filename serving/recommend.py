"""recommend = rules × models × arbitration — the one place they meet.

`recommend_frame` (every partner at once: batched model predictions, vectorized rules,
arbitration with numpy/pandas) serves the weekly job and batch requests; `recommend_one`
(no pandas: Scorer.encode + predict on a numpy row, rules.evaluate_partner) serves a single
HTTP request. Both produce the same tiers, scores, risks and ranked actions for a partner.

Models give two outputs the rulebook can use: `churn_risk` (the churn model on the
partner's features) and `deal_acceptance` — the deal model's likelihood that the partner's
*typical next registration* is accepted (`features.deal_features.typical_deal`: a new deal at
its average registered amount over 365 days, on a new customer, with no channel conflict).
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
from rules.decision import PartnerDecision
from rules.explain import Check, checks_from
from rules.model import Rulebook, TierState
from rules.sentences import frame_sentences, sentence
from serving.arbitration import Ranked, Suppressed, arbitrate_frame, arbitrate_one
from serving.reasons import action_by_id, frame_reasons, reasons
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

    def infos(self) -> list[ModelInfo]:
        infos = [ModelInfo(self.churn_name, self.alias, str(self.churn.version))]
        if self.deal is not None:
            infos.append(ModelInfo(self.deal_name, self.alias, str(self.deal.version)))
        return infos


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
    ranked, suppressed = arbitrate_one(
        decision.actions, history=history or {}, as_of=as_of, k=rulebook.max_actions_per_partner
    )
    checks = _action_checks(decision, {r.action_id for r in ranked}) if ranked else {}
    name = features.get(PARTNER_NAME)
    context = {**decision.features, "tier": decision.tier, "tier_change": decision.tier_change}
    actions = [
        _recommended(rulebook, r, checks.get(r.action_id, []), context, name if name else pid)
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
        status_of(features),
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
        reasons(rulebook, r, checks),
        action.title,
        sentence(action, features, value=r.value, partner=partner),
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
    ranked, suppressed = arbitrate_frame(
        decision.actions,
        history=history,
        as_of=as_of,
        k=rulebook.max_actions_per_partner,
        action_order=[a.id for a in rulebook.actions],
    )
    ranked["reasons"] = frame_reasons(rulebook, ranked, scored, decision.tiers)
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
