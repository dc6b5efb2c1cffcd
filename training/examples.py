"""Training examples: point-in-time features joined to labels, one frame per model.

Features come only from `features/` (snapshot features as of each monthly as_of; deal features
as of each registration), labels only from `training.labels`, so what a model learns from is
exactly what serving will show it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from features.registry import FEATURES, KEY_COLUMNS
from features.tables import Tables
from tierwise.errors import InvalidInput
from training.labels import TIME, churn_labels, deal_labels, monthly_as_ofs

ModelKind = Literal["churn", "deal"]
MODEL_KINDS: tuple[ModelKind, ...] = ("churn", "deal")
# Deal columns that are the outcome (or happen after it): never features.
DEAL_OUTCOME_COLUMNS = frozenset({"status", "decided_at", "outcome", "closed_at", "accepted"})


@dataclass(frozen=True)
class Examples:
    kind: ModelKind
    frame: pd.DataFrame  # keys + time + label + features
    features: tuple[str, ...]
    categorical: tuple[str, ...]
    time: str  # the column the time split uses
    label: str
    keys: tuple[str, ...]

    @property
    def positive_rate(self) -> float:
        return float(self.frame[self.label].mean()) if len(self.frame) else float("nan")


def churn_examples(
    tables: Tables,
    *,
    horizon_days: int,
    as_ofs: Sequence[pd.Timestamp] | None = None,
    warmup_days: int = 90,
) -> Examples:
    """One example per partner active at each monthly as_of, label = churned in the horizon."""
    from features.snapshot import build_snapshots

    stamps = (
        list(as_ofs)
        if as_ofs is not None
        else monthly_as_ofs(tables, horizon_days=horizon_days, warmup_days=warmup_days)
    )
    if not stamps:
        raise InvalidInput(
            f"the data leaves no monthly as_of with a full {horizon_days}-day horizon after a "
            f"{warmup_days}-day warm-up"
        )
    labels = churn_labels(tables, stamps, horizon_days=horizon_days)
    snaps = build_snapshots(tables, [s.to_pydatetime() for s in stamps])
    snaps = snaps.assign(
        partner_id=snaps["partner_id"].astype("str"),
        as_of=pd.to_datetime(snaps["as_of"], utc=True).astype(TIME),
    )
    clash = (set(labels.columns) & set(snaps.columns)) - {"partner_id", "as_of"}
    if clash:
        raise InvalidInput(f"label columns {sorted(clash)} collide with feature columns")
    frame = labels.merge(snaps, on=["partner_id", "as_of"], how="inner", validate="one_to_one")
    if len(frame) != len(labels):
        raise InvalidInput(
            f"{len(labels) - len(frame)} labelled partner snapshots have no "
            "feature row: features and labels disagree on who is active"
        )
    features = [n for n in FEATURES if n in frame.columns]
    return Examples(
        kind="churn",
        frame=frame,
        features=tuple(features),
        categorical=tuple(n for n in features if FEATURES[n].kind == "category"),
        time="as_of",
        label="churned",
        keys=("partner_id", "as_of"),
    )


def deal_examples(tables: Tables) -> Examples:
    """One example per decided partner deal registration, features as of registration."""
    from features.deal_features import DEAL_FEATURES, build_deal_features

    labels = deal_labels(tables.deals)
    if labels.empty:
        raise InvalidInput("no decided partner deal registrations to learn acceptance from")
    deals = tables.deals.loc[labels.index]
    feats = build_deal_features(tables, deals)
    deal_names = [n for n in feature_names(DEAL_FEATURES) if n not in DEAL_OUTCOME_COLUMNS]
    names = [*deal_names, *(n for n in FEATURES if n not in deal_names)]
    features = [n for n in names if n in feats.columns and n not in KEY_COLUMNS]
    frame = pd.concat([labels, feats[features].set_axis(labels.index)], axis=1)
    frame["registered_at"] = pd.to_datetime(frame["registered_at"], utc=True).astype(TIME)
    categorical = [
        n
        for n in features
        if (n in FEATURES and FEATURES[n].kind == "category")
        or (
            n not in FEATURES
            and not pd.api.types.is_numeric_dtype(frame[n])
            and not pd.api.types.is_bool_dtype(frame[n])
        )
    ]
    return Examples(
        kind="deal",
        frame=frame.reset_index(drop=True),
        features=tuple(features),
        categorical=tuple(categorical),
        time="registered_at",
        label="accepted",
        keys=("deal_id", "partner_id", "registered_at"),
    )


def feature_names(declared: Any) -> list[str]:
    """Names from a mapping, a list of names or a list of objects with `.name`."""
    if isinstance(declared, dict):
        return [str(k) for k in declared]
    items: Iterable[Any] = declared
    return [item if isinstance(item, str) else str(item.name) for item in items]
