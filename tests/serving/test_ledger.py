"""The incentive ledger in the database: two weeks of a simulated program, real rulebook."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from features.snapshot import build_features
from features.tables import Tables
from rules import Rulebook, evaluate_frame, load_rulebook
from rules.ledger import OPENING_WEEK, LedgerUpdate
from serving.db import get_engine, session_scope
from serving.db.ledger import accruals, entries, record_week
from serving.db.models import Accrual, LedgerEntry
from tests.serving._db import BACKENDS, database_url

WEEKS = [
    ("2026-W47", datetime(2026, 11, 16, tzinfo=UTC)),
    ("2026-W48", datetime(2026, 11, 23, tzinfo=UTC)),
]


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    from serving.db import upgrade

    with database_url(request.param, tmp_path) as url:
        engine = get_engine(url)
        upgrade(engine)
        yield engine


@pytest.fixture(scope="module")
def book() -> Rulebook:
    return load_rulebook()


def plan(
    engine: Engine,
    tables: Tables,
    book: Rulebook,
    week: str,
    as_of: datetime,
    *,
    opening: bool = False,
) -> LedgerUpdate:
    frame = build_features(tables, as_of=as_of)
    frame["churn_risk"] = np.linspace(0.05, 0.9, len(frame))
    frame["deal_acceptance"] = 0.5
    fd = evaluate_frame(book, frame, previous=None, as_of=as_of)
    decided = frame.merge(fd.tiers[["partner_id", "tier", "track"]].astype(str), on="partner_id")
    with session_scope(engine) as session:
        return record_week(
            session,
            book=book,
            awards=fd.incentives,
            frame=decided,
            as_of=as_of,
            week=week,
            opening=opening,
        )


def test_two_weeks_once_is_once_cost_is_the_accruals_and_reruns_change_nothing(
    engine: Engine, tables: Tables, book: Rulebook
) -> None:
    costs = [plan(engine, tables, book, week, as_of).cost for week, as_of in WEEKS]
    with session_scope(engine) as s:
        rows = entries(s)
        moves = accruals(s)
        count = s.scalar(select(func.count()).select_from(LedgerEntry))
    assert len(rows) == count > 0
    once = rows.loc[rows["period"] == "once"]
    assert not once.duplicated(["partner_id", "incentive_id"]).any()
    for (week, _), cost in zip(WEEKS, costs, strict=True):
        assert cost == pytest.approx(moves.loc[moves["week"] == week, "amount"].sum())
    assert costs[1] < costs[0]  # the second week adds what is new only
    per_entry = moves.groupby(["partner_id", "incentive_id", "period"])["amount"].sum()
    ledger = rows.set_index(["partner_id", "incentive_id", "period"])["amount"]
    assert np.allclose(per_entry.reindex(ledger.index).fillna(0.0), ledger)
    mdf = rows.loc[(rows["incentive_id"] == "mdf_grant") & (rows["period"] == "2026-Q4")]
    assert mdf["amount"].sum() <= 250_000
    again = plan(engine, tables, book, *WEEKS[1]).cost
    with session_scope(engine) as s:
        assert again == pytest.approx(costs[1])
        assert entries(s).equals(rows)
        assert s.scalar(select(func.count()).select_from(Accrual)) == len(moves)


def test_a_first_run_opens_the_ledger_with_what_was_reached_before_not_as_its_cost(
    engine: Engine, tables: Tables, book: Rulebook, tmp_path: Path
) -> None:
    # the same two weeks without an opening balance, in a database of their own
    plain = get_engine(f"sqlite:///{tmp_path / 'plain.sqlite'}")
    from serving.db import upgrade

    upgrade(plain)
    without = [plan(plain, tables, book, week, as_of) for week, as_of in WEEKS]
    with_opening = [plan(engine, tables, book, w, a, opening=True) for w, a in WEEKS]
    first, second = with_opening
    assert first.opening == pytest.approx(without[0].cost) and first.opening > 0
    assert first.cost == 0.0 and first.summary()["incentive_opening_balance"] == first.opening
    # later weeks move exactly as they would have: the opening is history, not a week
    assert second.opening == 0.0 and second.cost == pytest.approx(without[1].cost)
    with session_scope(engine) as s:
        rows = entries(s)
        moves = accruals(s)
    once = rows.loc[rows["period"] == "once"]
    opened = once["first_week"] == OPENING_WEEK
    assert opened.any() and (once.loc[opened, "status"] == "paid").all()  # never paid twice
    assert (once.loc[~opened, "status"] == "earned").all()
    quarter = rows.loc[(rows["period"] == "2026-Q4") & (rows["first_week"] == OPENING_WEEK)]
    refused = quarter["status"] == "forfeited"
    assert len(quarter) and set(quarter.loc[~refused, "status"]) <= {"accruing", "earned"}  # owed
    # forfeited: only claims the budget pool refused (with five tracks' top tiers claiming
    # MDF the quarter's pool runs out): nothing was granted, so nothing is owed
    assert (quarter.loc[refused, "pool"] == "mdf").all()
    assert (quarter.loc[refused, "amount"] == 0).all()
    assert moves.loc[moves["week"] == OPENING_WEEK, "amount"].sum() == pytest.approx(first.opening)
    # a re-run of the first week neither re-opens nor counts the opening again
    again = plan(engine, tables, book, *WEEKS[0], opening=True)
    assert again.opening == 0.0 and again.cost == 0.0


def test_the_cli_lists_the_ledger_as_json(
    engine: Engine, tables: Tables, book: Rulebook, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tierwise.settings import get_settings
    from tierwise.shell.cli import app

    for week, as_of in WEEKS:
        plan(engine, tables, book, week, as_of)
    monkeypatch.setenv("TIERWISE_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["incentives", "ledger", "--period", "once", "--json"])
        table = CliRunner().invoke(app, ["incentives", "ledger", "--period", "2026-Q4"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    docs = json.loads(result.output)["entries"]
    assert docs and {d["period"] for d in docs} == {"once"}
    assert all(len(d["accruals"]) == 1 and d["status"] == "earned" for d in docs)
    assert all(d["evidence"]["when"] for d in docs)
    assert table.exit_code == 0 and "commission_" in table.output


def test_the_api_serves_a_partners_ledger_to_its_manager_only(
    tables: Tables,
    book: Rulebook,
    tmp_path: Path,
    make_client,
    a_manager: str,  # type: ignore[no-untyped-def]
) -> None:
    from serving.db import upgrade
    from serving.db.week import save_partners
    from tests.serving.conftest import headers

    url = f"sqlite:///{tmp_path / 'api.db'}"
    engine = get_engine(url)
    upgrade(engine)
    for week, as_of in WEEKS:
        plan(engine, tables, book, week, as_of)
    partners = tables.partners[["partner_id", "name", "partner_type", "region", "manager_id"]]
    with session_scope(engine) as s:
        save_partners(s, partners, now=WEEKS[1][1])
        mine = entries(
            s, partner_ids=list(partners.loc[partners["manager_id"] == a_manager, "partner_id"])
        )
    pid = str(mine["partner_id"].iloc[0])
    client = make_client(database_url=url)
    answer = client.get(f"/v1/partners/{pid}/incentives", headers=headers("manager"))
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert doc["partner_id"] == pid and doc["entries"]
    assert sum(doc["totals"].values()) == pytest.approx(sum(e["amount"] for e in doc["entries"]))
    assert all(e["accruals"] or e["status"] == "forfeited" for e in doc["entries"])
    period = client.get(
        f"/v1/partners/{pid}/incentives", params={"period": "once"}, headers=headers("admin")
    )
    assert {e["period"] for e in period.json()["entries"]} <= {"once"}
    other = client.get(f"/v1/partners/{pid}/incentives", headers=headers("other_manager"))
    assert other.status_code == 403
    unknown = client.get("/v1/partners/NOPE/incentives", headers=headers("scorer"))
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
