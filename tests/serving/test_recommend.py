"""recommend: the one-partner fast path and the frame path agree; arbitration and policy."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.deal_features import typical_deal, typical_deal_frame
from rules import evaluate_frame
from rules.model import Rulebook, TierState
from serving.arbitration import arbitrate_frame, arbitrate_one
from serving.recommend import (
    ACTION_COLUMNS,
    Models,
    Recommendations,
    recommend_frame,
    recommend_one,
)
from serving.service_state import Loaded
from serving.snapshots import clean_value

Frame = tuple[pd.DataFrame, datetime]


def row_features(frame: pd.DataFrame, i: int) -> dict[str, Any]:
    return {
        str(k): clean_value(v) for k, v in frame.iloc[i].items() if k not in ("as_of", "manager_id")
    }


@pytest.fixture(scope="module")
def history(feature_frame: Frame, loaded: Loaded) -> pd.DataFrame:
    """Some actions done recently (inside cooldown) and some long ago, for a third of partners."""
    frame, as_of = feature_frame
    rng = np.random.default_rng(5)
    ids = [a.id for a in loaded.rulebook.actions]
    rows = []
    for pid in frame["partner_id"].iloc[::3]:
        for action_id in rng.choice(ids, size=3, replace=False):
            rows.append((pid, action_id, as_of - timedelta(days=int(rng.integers(1, 120)))))
    return pd.DataFrame(rows, columns=["partner_id", "action_id", "last_done_or_dismissed_at"])


@pytest.fixture(scope="module")
def previous(feature_frame: Frame, loaded: Loaded) -> pd.DataFrame:
    """Previous tier states: the top tier of each partner's track, one miss already counted."""
    frame, as_of = feature_frame
    top = {t.id: t.tiers[0].id for t in loaded.rulebook.tracks}
    scored = frame.assign(churn_risk=0.1, deal_acceptance=0.5)
    tracks = evaluate_frame(loaded.rulebook, scored, as_of=as_of).tiers["track"].astype(str)
    tiers = tracks.map(top).to_numpy()
    return pd.DataFrame(
        {
            "partner_id": frame["partner_id"],
            "tier": tiers,
            "missed_evaluations": 1,
            "override_tier": None,
            "override_reason": None,
            "override_until": pd.NaT,
        }
    )


@pytest.fixture(scope="module")
def recs(
    feature_frame: Frame, loaded: Loaded, previous: pd.DataFrame, history: pd.DataFrame
) -> Recommendations:
    frame, as_of = feature_frame
    return recommend_frame(
        frame,
        rulebook=loaded.rulebook,
        models=loaded.models,
        previous=previous,
        history=history,
        as_of=as_of,
    )


def history_of(history: pd.DataFrame, pid: str) -> dict[str, datetime]:
    mine = history[history["partner_id"] == pid]
    return {
        a: t.to_pydatetime()
        for a, t in zip(mine["action_id"], mine["last_done_or_dismissed_at"], strict=True)
    }


def state_of(previous: pd.DataFrame, pid: str) -> TierState:
    tiers = dict(zip(previous["partner_id"], previous["tier"], strict=True))
    missed = dict(zip(previous["partner_id"], previous["missed_evaluations"], strict=True))
    return TierState(str(tiers[pid]), int(missed[pid]))


def assert_one_and_frame_agree(
    frame: pd.DataFrame,
    rulebook: Rulebook,
    models: Models,
    recs: Recommendations,
    previous: pd.DataFrame,
    history: pd.DataFrame,
    as_of: datetime,
) -> list[list[str]]:
    """`recommend_one` on every row gives what `recommend_frame` gave; returns every
    action's reasons compared (identical strings, in order)."""
    decisions = recs.decisions.set_index("partner_id")
    actions = recs.actions.groupby("partner_id")
    compared: list[list[str]] = []
    for i in range(len(frame)):
        pid = str(frame["partner_id"].iloc[i])
        one = recommend_one(
            row_features(frame, i),
            rulebook=rulebook,
            models=models,
            previous=state_of(previous, pid),
            history=history_of(history, pid),
            as_of=as_of,
            partner_id=pid,
        )
        d = decisions.loc[pid]
        assert one.decision.tier == d["tier"]
        assert one.decision.tier_change == d["tier_change"]
        assert one.churn_risk == pytest.approx(d["churn_risk"], abs=1e-12)
        assert one.deal_acceptance == pytest.approx(d["deal_acceptance"], abs=1e-12)
        assert one.decision.scores["overall"] == pytest.approx(d["overall"])
        mine = actions.get_group(pid) if pid in actions.groups else recs.actions.iloc[:0]
        assert [a.action_id for a in one.actions] == list(mine["action_id"].astype(str))
        assert [a.rank for a in one.actions] == list(mine["rank"])
        assert [a.priority for a in one.actions] == pytest.approx(list(mine["priority"]))
        assert [a.reasons for a in one.actions] == list(mine["reasons"]), pid
        assert [a.sentence for a in one.actions] == list(mine["sentence"]), pid
        assert [a.title for a in one.actions] == list(mine["title"])
        compared += [a.reasons for a in one.actions]
    assert len(compared) > len(frame) // 2  # the comparison is not vacuous
    return compared


def test_one_and_frame_agree_on_every_simulated_partner(
    feature_frame: Frame,
    loaded: Loaded,
    recs: Recommendations,
    previous: pd.DataFrame,
    history: pd.DataFrame,
) -> None:
    frame, as_of = feature_frame
    compared = assert_one_and_frame_agree(
        frame, loaded.rulebook, loaded.models, recs, previous, history, as_of
    )
    assert {r[-1].split(" = ")[0].split()[0] for r in compared} == {"priority"}
    assert any(len(r) > 1 for r in compared)  # conditions are listed, not only the numbers


# Actions exercising every kind of condition leaf and number format the reasons show:
# category `not in`, booleans, a negated `any` (eligible rows list no passing condition),
# `any` with a nested `all` (rows list different subsets), tier/track/tier_change, model
# outputs, an inverted propensity, USD values below $1, -0.0, ratios, a fractional weight.
RICH_ACTIONS = """
actions:
  - id: categories_and_flags
    description: category not-in and booleans
    when:
      - partner_type not in [referral, nobody]
      - exited == false
      - onboarded
    reason: "{partner} ({partner_type}, {tier}) averages {avg_deal_value_365d}; worth {value}"
    propensity: {output: churn_risk, invert: true}
    value: {expr: avg_deal_value_365d, unit: USD, horizon_days: 365}
    weight: 0.25
  - id: any_of_many
    description: any of several, one of them a nested all
    when:
      any:
        - days_since_last_manager_contact >= 30
        - manager_contacts_365d == 0
        - all: [market_share >= 0.01, satisfaction_latest >= 3]
        - tier_change == promoted
        - track == referral
    reason: "{partner}: {market_share} share, {days_since_last_manager_contact} days, {exited}"
    value: {expr: market_share * revenue_won_365d, unit: USD, horizon_days: 365}
    weight: 1.5
  - id: negated
    description: holds when neither holds
    when: {not: {any: [deals_won_365d >= 3, certified_staff >= 2]}}
    propensity: deal_acceptance
    title: Negated
    value: {expr: open_pipeline, unit: USD, horizon_days: 365}
  - id: tiers_and_models
    description: tier membership and model outputs
    when:
      - tier not in [Platinum, Ambassador]
      - deal_acceptance >= 0.05
      - churn_risk < 0.95
    propensity: churn_risk
    reason: "{churn_risk} risk, {deal_acceptance} acceptance, {revenue_won_365d} won"
    value: {expr: revenue_won_365d, unit: USD, horizon_days: 365}
    weight: 2
"""


@pytest.fixture(scope="module")
def rich_rulebook(tmp_path_factory: pytest.TempPathFactory) -> Rulebook:
    import shutil
    from pathlib import Path

    import rules
    from rules import load_rulebook

    folder = tmp_path_factory.mktemp("rich-rules")
    for item in (Path(rules.__file__).parent / "default").glob("*.yaml"):
        if item.name not in ("actions.yaml", "tests.yaml"):
            shutil.copy(item, folder / item.name)
    (folder / "actions.yaml").write_text(RICH_ACTIONS)
    return load_rulebook(folder)


def test_one_and_frame_agree_on_every_kind_of_condition_and_number(
    feature_frame: Frame,
    loaded: Loaded,
    rich_rulebook: Rulebook,
    previous: pd.DataFrame,
    history: pd.DataFrame,
) -> None:
    frame, as_of = feature_frame
    frame = frame.copy()
    rng = np.random.default_rng(3)
    n = len(frame)
    amounts = np.array([0.5, -0.0, 0.0, 0.004, 1234567.891, np.nan, 999.5])
    pick = rng.random(n) < 0.5
    deal = frame["avg_deal_value_365d"].to_numpy(dtype=np.float64, copy=True)
    deal[pick] = rng.choice(amounts, int(pick.sum()))
    frame["avg_deal_value_365d"] = deal
    for name, every in (("days_since_last_manager_contact", 5), ("manager_contacts_365d", 7)):
        column = frame[name].astype("float64")
        column.iloc[::every] = np.nan  # missing: never listed as a reason
        frame[name] = column
    share = frame["market_share"].astype("float64")
    share.iloc[1::4] = 1.0  # an integer-valued ratio is shown without decimals
    frame["market_share"] = share
    history = history.assign(
        action_id=rng.choice([a.id for a in rich_rulebook.actions], len(history))
    )
    recs = recommend_frame(
        frame,
        rulebook=rich_rulebook,
        models=loaded.models,
        previous=previous,
        history=history,
        as_of=as_of,
    )
    compared = assert_one_and_frame_agree(
        frame, rich_rulebook, loaded.models, recs, previous, history, as_of
    )
    lines = [line for r in compared for line in r]
    # the edge cases above were really shown, so the comparison covered them
    assert any("× value $-0 (avg_deal_value_365d)" in line for line in lines)
    assert any("(market_share * revenue_won_365d) × weight 1.5" in line for line in lines)
    assert any("× value $0.50 (avg_deal_value_365d)" in line for line in lines)
    assert any("partner_type not in [referral, nobody] (actual " in line for line in lines)
    assert any(line.startswith("exited == false (actual False)") for line in lines)
    assert "market_share >= 0.01 (actual 1)" in lines  # a ratio of exactly 1: no decimals
    sentences = list(recs.actions["sentence"])
    assert any("averages $1,234,568; worth" in t for t in sentences)
    assert any("averages unknown; worth" in t for t in sentences)
    assert "Negated" in sentences  # no template: the title
    by_action = recs.actions.groupby(recs.actions["action_id"].astype(str))["reasons"]
    sizes = by_action.apply(lambda rs: sorted({len(r) for r in rs}))
    assert sizes["negated"] == [1]  # no condition of a negated any passed
    assert len(sizes["any_of_many"]) > 1  # different rows passed different alternatives


def test_frame_actions_have_the_documented_columns(recs: Recommendations) -> None:
    assert tuple(recs.actions.columns) == ACTION_COLUMNS
    assert recs.actions["reasons"].map(lambda r: isinstance(r, list) and len(r) >= 1).all()


def test_at_most_k_actions_per_partner_ranked_from_one(
    recs: Recommendations, loaded: Loaded
) -> None:
    k = loaded.rulebook.max_actions_per_partner
    per_partner = recs.actions.groupby("partner_id")["rank"]
    assert per_partner.max().max() <= k
    assert (per_partner.min() == 1).all()
    assert per_partner.apply(lambda r: list(r) == list(range(1, len(r) + 1))).all()


def test_priority_is_propensity_times_value_times_weight(recs: Recommendations) -> None:
    a = recs.actions
    expected = a["propensity"] * a["value"] * a["weight"]
    assert np.allclose(a["priority"], expected)
    ordered = a.groupby("partner_id")["priority"].apply(lambda p: p.is_monotonic_decreasing)
    assert ordered.all()


def test_actions_in_cooldown_are_suppressed(
    recs: Recommendations, history: pd.DataFrame, feature_frame: Frame, loaded: Loaded
) -> None:
    _, as_of = feature_frame
    cooldown = {a.id: a.cooldown_days for a in loaded.rulebook.actions}
    days = (pd.Timestamp(as_of) - history["last_done_or_dismissed_at"]).dt.days
    cooling = history[days < history["action_id"].map(cooldown)]
    keys = set(zip(recs.actions["partner_id"], recs.actions["action_id"].astype(str), strict=True))
    assert len(cooling) > 0
    assert not keys & set(zip(cooling["partner_id"], cooling["action_id"], strict=True))
    assert len(recs.suppressed) > 0


def test_versions_name_the_rulebook_the_models_and_as_of(
    recs: Recommendations, loaded: Loaded, feature_frame: Frame
) -> None:
    v = recs.versions
    assert v["rulebook_hash"] == loaded.rulebook.content_hash
    assert [m["name"] for m in v["models"]] == ["tierwise-churn", "tierwise-deal-acceptance"]
    assert all(m["version"] for m in v["models"])
    assert v["as_of"] == feature_frame[1]


def test_recommend_one_builds_no_pandas_objects(
    feature_frame: Frame, loaded: Loaded, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame, as_of = feature_frame
    features = row_features(frame, 1)

    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("pandas object built on the per-request path")

    monkeypatch.setattr(pd.DataFrame, "__init__", forbidden)
    monkeypatch.setattr(pd.Series, "__init__", forbidden)
    rec = recommend_one(features, rulebook=loaded.rulebook, models=loaded.models, as_of=as_of)
    assert 0 < rec.churn_risk < 1


def test_a_missing_needed_feature_is_an_error_not_a_default(
    feature_frame: Frame, loaded: Loaded
) -> None:
    from tierwise.errors import InvalidInput

    frame, as_of = feature_frame
    features = row_features(frame, 0)
    needed = sorted(loaded.rulebook.features_needed)[0]
    del features[needed]
    with pytest.raises(InvalidInput, match=needed):
        recommend_one(features, rulebook=loaded.rulebook, models=loaded.models, as_of=as_of)


def test_typical_deal_one_and_frame_agree(feature_frame: Frame) -> None:
    frame, _ = feature_frame
    deals = typical_deal_frame(frame)
    for i in (0, 1, 2):
        one = typical_deal(row_features(frame, i))
        for name, value in one.items():
            got = deals[name].iloc[i]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                assert got is None or pd.isna(got)
            else:
                assert got == pytest.approx(value)


# --- arbitration on its own --------------------------------------------------------------

AS_OF = datetime(2026, 11, 23, tzinfo=UTC)


def test_ties_keep_rulebook_order_and_missing_value_counts_as_zero() -> None:
    cands = [("a", 1.0, 2.0, 1.0, 0), ("b", 1.0, 2.0, 1.0, 0), ("c", 1.0, math.nan, 5.0, 0)]
    ranked, suppressed = arbitrate_one(cands, history={}, as_of=AS_OF, k=3)
    assert [(r.action_id, r.rank, r.priority) for r in ranked] == [
        ("a", 1, 2.0),
        ("b", 2, 2.0),
        ("c", 3, 0.0),
    ]
    assert suppressed == []


def test_cooldown_boundary_is_exclusive() -> None:
    cands = [("a", 1.0, 1.0, 1.0, 30)]
    inside, _ = arbitrate_one(
        cands, history={"a": AS_OF - timedelta(days=29, hours=23)}, as_of=AS_OF, k=3
    )
    at_end, _ = arbitrate_one(cands, history={"a": AS_OF - timedelta(days=30)}, as_of=AS_OF, k=3)
    assert inside == []
    assert [r.action_id for r in at_end] == ["a"]


def test_frame_arbitration_matches_one_partner_arbitration() -> None:
    rng = np.random.default_rng(1)
    n = 400
    cand = pd.DataFrame(
        {
            "partner_id": rng.choice([f"P{i}" for i in range(60)], n),
            "action_id": rng.choice(list("abcdef"), n),
            "propensity": rng.choice([0.2, 0.5, 1.0], n),
            "value": rng.choice([0.0, 1.0, 10.0, np.nan], n),
            "weight": rng.choice([0.5, 1.0, 2.0], n),
            "cooldown_days": rng.choice([0, 14, 30], n),
        }
    ).drop_duplicates(["partner_id", "action_id"])
    cand = cand.sort_values(["partner_id", "action_id"], ignore_index=True)
    hist = cand.sample(50, random_state=2)[["partner_id", "action_id"]].assign(
        last_done_or_dismissed_at=pd.Timestamp(AS_OF)
        - pd.to_timedelta(rng.integers(0, 40, 50), unit="D")
    )
    ranked, _ = arbitrate_frame(cand, history=hist, as_of=AS_OF, k=2, action_order=list("abcdef"))
    for pid, group in cand.groupby("partner_id"):
        mine = hist[hist["partner_id"] == pid]
        one, _ = arbitrate_one(
            list(
                group[["action_id", "propensity", "value", "weight", "cooldown_days"]].itertuples(
                    index=False
                )
            ),
            history=dict(
                zip(
                    mine["action_id"],
                    mine["last_done_or_dismissed_at"].dt.to_pydatetime(),
                    strict=True,
                )
            ),
            as_of=AS_OF,
            k=2,
        )
        got = ranked[ranked["partner_id"] == pid]
        assert [r.action_id for r in one] == list(got["action_id"])
        assert [r.priority for r in one] == list(got["priority"])
