"""The incentive ledger (pure): once is once, per-period accrual, pools never exceeded."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from rules import Rulebook, evaluate_frame, load_rulebook
from rules.budgets import Pool, allocate
from rules.ledger import LedgerUpdate, accrue, empty_accruals, empty_rows, without_week

from .conftest import DEFAULT_DIR, base_features

W48, W49 = datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC)
W01 = datetime(2027, 1, 4, tzinfo=UTC)
GOLD = dict(revenue_won_365d=300_000.0, deals_won_365d=6.0, certified_people=3.0)
PLATINUM = dict(GOLD, revenue_won_365d=900_000.0, deals_won_365d=9.0, certified_people=5.0,
                satisfaction_avg_365d=8.2)  # fmt: skip


class Ledger:
    """Rows and accruals as the weekly job keeps them, week after week."""

    def __init__(self, book: Rulebook) -> None:
        self.book = book
        self.rows = empty_rows()
        self.accruals = empty_accruals()

    def run(self, partners: list[dict[str, object]], as_of: datetime, week: str) -> LedgerUpdate:
        frame = pd.DataFrame([base_features(**p) for p in partners])
        fd = evaluate_frame(self.book, frame, previous=None, as_of=as_of)
        decided = frame.drop(columns=["tier", "track"], errors="ignore").merge(
            fd.tiers[["partner_id", "tier", "track"]].astype(str), on="partner_id"
        )
        prior = without_week(self.rows, self.accruals, week)
        update = accrue(self.book, fd.incentives, decided, prior=prior, as_of=as_of, week=week)
        keep = self.accruals.loc[self.accruals["week"] != week]
        self.accruals = pd.concat([keep, update.accruals], ignore_index=True)
        index = pd.MultiIndex.from_frame(update.rows[["partner_id", "incentive_id", "period"]])
        old = pd.MultiIndex.from_frame(self.rows[["partner_id", "incentive_id", "period"]])
        self.rows = pd.concat([self.rows.loc[~old.isin(index)], update.rows], ignore_index=True)
        return update

    def row(self, partner: str, incentive: str, period: str) -> pd.Series:
        hit = self.rows.loc[
            (self.rows["partner_id"] == partner)
            & (self.rows["incentive_id"] == incentive)
            & (self.rows["period"] == period)
        ]
        assert len(hit) == 1, hit
        return hit.iloc[0]


@pytest.fixture
def ledger(book: Rulebook) -> Ledger:
    return Ledger(book)


def gold(pid: str, qtd: float, **more: object) -> dict[str, object]:
    return dict(partner_id=pid, revenue_won_qtd=qtd, deals_won_total=3.0, **GOLD, **more)


def test_two_weeks_accrue_the_quarter_and_grant_once_incentives_once(ledger: Ledger) -> None:
    first = ledger.run([gold("A", 100_000, business_reviews_365d=1.0)], W48, "2026-W48")
    assert sorted(first.accruals["incentive_id"]) == [
        "commission_gold",
        "first_deal_bonus",
        "mdf_grant",
        "priority_listing",
    ]
    assert first.cost == pytest.approx(15_000 + 500 + 15_000 + 500)  # MDF capped for Gold
    second = ledger.run([gold("A", 120_000, business_reviews_365d=1.0)], W49, "2026-W49")
    assert second.accruals[["incentive_id", "amount"]].values.tolist() == [
        ["commission_gold", pytest.approx(0.15 * 20_000)]
    ]
    row = ledger.row("A", "commission_gold", "2026-Q4")
    assert (row["amount"], row["status"], row["measure"]) == (0.15 * 120_000, "accruing", 120_000)
    assert (row["first_week"], row["last_week"]) == ("2026-W48", "2026-W49")
    assert ledger.row("A", "first_deal_bonus", "once")["status"] == "earned"
    assert row["evidence"]["values"]["tier"] == "Gold"
    assert row["evidence"]["when"] == "tier == Gold"


def test_a_week_rerun_gives_the_same_movements(ledger: Ledger) -> None:
    ledger.run([gold("A", 100_000)], W48, "2026-W48")
    once = ledger.run([gold("A", 120_000)], W49, "2026-W49")
    rows = ledger.rows.copy()
    again = ledger.run([gold("A", 120_000)], W49, "2026-W49")
    assert again.cost == once.cost == pytest.approx(3_000)
    pd.testing.assert_frame_equal(ledger.rows, rows)
    assert len(ledger.accruals) == 4 and ledger.accruals["amount"].sum() == pytest.approx(
        15_000 + 500 + 500 + 3_000
    )


def test_a_promotion_mid_quarter_pays_the_new_rate_on_new_revenue_only(ledger: Ledger) -> None:
    silver = dict(partner_id="B", revenue_won_qtd=50_000.0, revenue_won_365d=60_000.0,
                  deals_won_365d=2.0, certified_people=1.0)  # fmt: skip
    ledger.run([silver], W48, "2026-W48")
    assert ledger.row("B", "commission_standard", "2026-Q4")["amount"] == pytest.approx(5_000)
    update = ledger.run([gold("B", 80_000)], W49, "2026-W49")
    paid = dict(update.accruals[["incentive_id", "amount"]].values.tolist())
    assert paid["commission_gold"] == pytest.approx(0.15 * 30_000)
    assert "commission_standard" not in paid


def test_a_new_quarter_earns_the_last_one_and_opens_a_new_row(ledger: Ledger) -> None:
    ledger.run([gold("A", 100_000)], W48, "2026-W48")
    update = ledger.run([gold("A", 10_000)], W01, "2027-W01")
    assert ledger.row("A", "commission_gold", "2026-Q4")["status"] == "earned"
    assert ledger.row("A", "commission_gold", "2027-Q1")["amount"] == pytest.approx(1_500)
    assert "priority_listing" in set(update.accruals["incentive_id"])  # once per quarter


def test_the_pool_is_never_exceeded_and_every_refusal_says_why(ledger: Ledger) -> None:
    partners = [
        dict(
            partner_id=f"P{i}",
            revenue_won_qtd=0.0,
            business_reviews_365d=1.0,
            churn_risk=0.1 + i / 100,
            **PLATINUM,
        )
        for i in range(8)
    ]
    update = ledger.run(partners, W48, "2026-W48")
    mdf = update.accruals.loc[update.accruals["incentive_id"] == "mdf_grant"]
    assert mdf["amount"].sum() == pytest.approx(250_000)
    assert sorted(mdf["partner_id"]) == ["P0", "P1", "P2", "P3", "P4"]  # least churn risk
    refused = update.refusals.set_index("partner_id")
    assert sorted(refused.index) == ["P5", "P6", "P7"]
    assert refused.loc["P7", "reason"].startswith(
        "pool mdf exhausted: 7 partner(s) ahead of you (by expected return)"
    )
    assert ledger.row("P7", "mdf_grant", "2026-Q4")["status"] == "forfeited"
    later = ledger.run([dict(partners[0], partner_id="P9")], W49, "2026-W49")
    assert "mdf_grant" not in set(later.accruals["incentive_id"])  # drawn earlier this quarter
    assert "250,000 drawn earlier" in later.refusals["reason"].iloc[0]


def test_a_rulebook_change_mid_quarter_is_recorded_not_rewritten(
    ledger: Ledger, tmp_path: Path
) -> None:
    ledger.run([gold("A", 100_000)], W48, "2026-W48")
    book_dir = tmp_path / "book"
    book_dir.mkdir()
    for f in DEFAULT_DIR.glob("*.yaml"):
        text = f.read_text().replace("amount: 0.15, basis", "amount: 0.18, basis")
        (book_dir / f.name).write_text(text)
    ledger.book = load_rulebook(book_dir)
    ledger.run([gold("A", 120_000)], W49, "2026-W49")
    gold_accruals = ledger.accruals.loc[ledger.accruals["incentive_id"] == "commission_gold"]
    assert gold_accruals["amount"].tolist() == pytest.approx([15_000, 0.18 * 20_000])
    assert gold_accruals["rulebook_hash"].nunique() == 2
    assert ledger.row("A", "commission_gold", "2026-Q4")["amount"] == pytest.approx(18_600)


def test_split_pool_serves_each_region_from_its_own_budget() -> None:
    pool = Pool("mdf", "MDF", 100, "USD", "quarter", "region", {"NA": 60, "EMEA": 40})
    claims = pd.DataFrame(
        {
            "partner_id": ["a", "b", "c", "d"],
            "claim": [30.0, 30.0, 30.0, 30.0],
            "tier": ["Gold"] * 4,
            "region": ["NA", "NA", "EMEA", "EMEA"],
        }
    )
    out = allocate(pool, claims, pd.Series({"EMEA": 20.0})).set_index("partner_id")
    assert out["granted"].to_dict() == {"a": 30.0, "b": 30.0, "c": 20.0, "d": 0.0}
    assert out.loc["c", "status"] == "partial" and out.loc["d", "status"] == "refused"
    assert "(region EMEA) exhausted: 1 partner(s) ahead of you" in out.loc["d", "reason"]


def test_a_rerun_grants_again_what_the_week_granted_after_an_earlier_refusal(
    ledger: Ledger, tmp_path: Path
) -> None:
    partners = [
        dict(partner_id=f"P{i}", revenue_won_qtd=0.0, business_reviews_365d=1.0,
             churn_risk=0.1 + i / 100, **PLATINUM)
        for i in range(6)
    ]  # fmt: skip
    ledger.run(partners, W48, "2026-W48")  # P5 refused: the 250,000 are spent
    assert ledger.row("P5", "mdf_grant", "2026-Q4")["status"] == "forfeited"
    book_dir = tmp_path / "bigger"
    book_dir.mkdir()
    for f in DEFAULT_DIR.glob("*.yaml"):
        (book_dir / f.name).write_text(f.read_text().replace("amount: 250000", "amount: 400000"))
    ledger.book = load_rulebook(book_dir)
    for _ in range(2):  # W49, then a re-run of W49: P5 is granted both times
        update = ledger.run(partners, W49, "2026-W49")
        mdf = update.accruals.loc[update.accruals["incentive_id"] == "mdf_grant"]
        assert mdf["partner_id"].tolist() == ["P5"]
        row = ledger.row("P5", "mdf_grant", "2026-Q4")
        assert (row["status"], row["amount"], row["first_week"]) == ("earned", 50_000, "2026-W48")
