"""The simulated program gives the deal-registration lifecycle something to find: accepted
registrations left unworked (more by disengaged partners), and channel conflicts with open
direct deals — in realistic amounts, and seen by the eligibility rules and the KPI."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.deal_features import build_deal_features
from features.kpis import program_kpis
from features.tables import Tables
from rules import load_rulebook
from rules.registrations import assess
from simulation.deals import UNWORKED_CLEANUP
from tests.conftest import SIM_END
from tests.rules.conftest import DEFAULT_DIR

DAY = pd.Timedelta(days=1)


def _accepted(tables: Tables) -> pd.DataFrame:
    d = tables.deals
    return d[d["partner_id"].notna() & (d["status"] == "accepted")]


def test_some_accepted_registrations_go_unworked_until_the_clean_up(tables: Tables) -> None:
    acc = _accepted(tables)
    reg, closed = acc["registered_at"], acc["closed_at"]
    old = reg + 90 * DAY < pd.Timestamp(SIM_END)
    stale = old & (closed.isna() | (closed >= reg + 90 * DAY))
    share = stale.sum() / old.sum()
    assert 0.05 <= share <= 0.30, share  # realistic: a minority, not none
    cleaned = acc[(acc["closed_at"] - acc["decided_at"]) >= UNWORKED_CLEANUP[0] * DAY]
    assert len(cleaned) > 0 and (cleaned["outcome"] == "lost").mean() > 0.8  # the clean-up


def test_channel_conflicts_exist_and_are_refused(tables: Tables) -> None:
    partner = tables.deals[tables.deals["partner_id"].notna()]
    features = build_deal_features(tables, partner)
    conflicts = features["customer_has_open_direct_deal"].astype(bool)
    assert 0.01 <= conflicts.mean() <= 0.08, conflicts.mean()
    rules = load_rulebook(DEFAULT_DIR).registrations
    assert rules is not None
    row = features[conflicts].iloc[0].to_dict()
    verdict = assess(rules, row, registered_at=SIM_END)
    assert "channel_conflict" in verdict.codes
    # the simulator's acceptance knows conflicts too: they are accepted far less often
    accepted = (partner["status"] == "accepted").to_numpy()
    decided = partner["status"].isin(["accepted", "rejected"]).to_numpy()
    rate = [accepted[decided & m].mean() for m in (conflicts.to_numpy(), ~conflicts.to_numpy())]
    assert rate[0] < rate[1] - 0.2, rate


def test_the_kpi_counts_registrations_expiring_unworked(tables: Tables) -> None:
    report = program_kpis(tables, as_of=SIM_END, expiry_days=90)
    unworked = report.value("registrations_expired_unworked")
    rate = report.value("expired_unworked_rate")
    assert isinstance(unworked, int) and unworked > 0
    assert rate is not None and 0 < rate < 0.5
    longer = program_kpis(tables, as_of=SIM_END, expiry_days=150)
    assert np.nan_to_num(longer.value("expired_unworked_rate")) < rate
