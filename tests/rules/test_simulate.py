import shutil

import pytest

from rules import Rulebook, load_rulebook
from rules.simulate import simulate_change

from .conftest import AS_OF, DEFAULT_DIR, base_features, random_frame


@pytest.fixture(scope="module")
def candidate(tmp_path_factory: pytest.TempPathFactory) -> Rulebook:
    """Gold at $40,000 instead of $60,000."""
    path = tmp_path_factory.mktemp("cand") / "book"
    shutil.copytree(DEFAULT_DIR, path)
    tiers = path / "tiers.yaml"
    tiers.write_text(
        tiers.read_text().replace("revenue_won_365d >= 60000", "revenue_won_365d >= 40000")
    )
    return load_rulebook(path)


def frame():  # type: ignore[no-untyped-def]
    import pandas as pd

    gold_now = dict(revenue_won_365d=200_000.0, deals_won_365d=6.0, certified_people=3.0)
    gold_later = dict(
        revenue_won_365d=50_000.0,
        revenue_won_qtd=50_000.0,
        deals_won_365d=6.0,
        certified_people=3.0,
    )
    return pd.DataFrame(
        [
            base_features(partner_id="A", **gold_now),
            base_features(partner_id="B", **gold_later),
            base_features(partner_id="C"),
            base_features(partner_id="D", partner_type="referral"),
        ]
    )


def test_identical_rulebooks_move_nobody(book: Rulebook) -> None:
    report = simulate_change(book, book, random_frame(200, seed=2), as_of=AS_OF)
    assert report.movers.empty
    assert report.total_cost[0] == pytest.approx(report.total_cost[1])
    assert int(report.migration.to_numpy().trace()) == 200


def test_lower_gold_threshold_promotes_and_costs_more(book: Rulebook, candidate: Rulebook) -> None:
    report = simulate_change(book, candidate, frame(), as_of=AS_OF)
    assert report.movers.to_dict("records") == [
        {
            "partner_id": "B",
            "track_current": "resell",
            "tier_current": "Silver",
            "track_candidate": "resell",
            "tier_candidate": "Gold",
            "direction": "up",
        }
    ]
    assert report.migration.loc["resell/Silver", "resell/Gold"] == 1
    assert report.migration.loc["resell/Gold", "resell/Gold"] == 1
    cost = report.cost.set_index("incentive_id")
    assert cost.loc["commission_gold", "cost_delta"] == pytest.approx(0.15 * 50_000)
    assert cost.loc["commission_standard", "cost_delta"] == pytest.approx(-0.10 * 50_000)
    assert cost.loc["priority_listing", "partners_candidate"] == 2
    before, after = report.total_cost
    assert after - before == pytest.approx(0.05 * 50_000 + 500)


def test_reverse_direction_is_down(book: Rulebook, candidate: Rulebook) -> None:
    report = simulate_change(candidate, book, frame(), as_of=AS_OF)
    assert report.movers["direction"].tolist() == ["down"]
    assert report.partners == 4
