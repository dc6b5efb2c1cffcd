"""Rulebooks (YAML) and the engine: validate, evaluate, explain, test, simulate."""

from rules.decision import Award, Candidate, FrameDecision, PartnerDecision
from rules.engine import evaluate_frame, evaluate_partner
from rules.explain import Check, GapItem
from rules.loader import load_rulebook
from rules.model import STATE_COLUMNS, Rulebook, TierState

__all__ = [
    "STATE_COLUMNS",
    "Award",
    "Candidate",
    "Check",
    "FrameDecision",
    "GapItem",
    "PartnerDecision",
    "Rulebook",
    "TierState",
    "evaluate_frame",
    "evaluate_partner",
    "load_rulebook",
]
