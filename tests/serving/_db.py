"""Test databases for the persistence tests: a SQLite file, or a fresh PostgreSQL database.

Every PostgreSQL test database has a unique name and is dropped afterwards; when the server
on 127.0.0.1:5432 is absent the PostgreSQL variant is skipped (never silently passed), or
fails when TIERWISE_REQUIRE_PG=1 (as in CI).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine

from serving.db import dispose_engine, get_engine, upgrade
from tests.conftest import missing

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def _admin():  # type: ignore[no-untyped-def]
    import psycopg

    try:
        return psycopg.connect(PG_ADMIN, autocommit=True)
    except psycopg.OperationalError as exc:
        missing("PG", f"PostgreSQL server not reachable on 127.0.0.1:5432: {exc}")


@contextmanager
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database of the given backend, removed afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'tierwise.db'}"
        return
    name = f"tierwise_test_{uuid.uuid4().hex[:12]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_URL.format(name=name)
    try:
        yield url
    finally:
        dispose_engine(url)
        with _admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def upgraded_engine(backend: str, tmp_path: Path) -> Iterator[Engine]:
    with database_url(backend, tmp_path) as url:
        engine = get_engine(url)
        upgrade(engine)
        try:
            yield engine
        finally:
            dispose_engine(url)


def make_week(
    week: str = "2026-W48",
    *,
    partners: int = 4,
    managers: tuple[str, ...] = ("m1", "m2"),
    actions_per_partner: int = 2,
):  # type: ignore[no-untyped-def]
    """A small, fully specified WeekData (what a weekly run would have computed)."""
    import pandas as pd

    from serving.db.week import WeekData
    from serving.weeks import week_start

    as_of = week_start(week)
    ids = [f"P{i:03d}" for i in range(partners)]
    owners = [managers[i % len(managers)] for i in range(partners)]
    partner_frame = pd.DataFrame(
        {
            "partner_id": ids,
            "name": [f"Partner {i}" for i in range(partners)],
            "partner_type": ["VAR"] * partners,
            "region": ["EMEA" if i % 2 else "NA" for i in range(partners)],
            "manager_id": owners,
        }
    )
    features = pd.DataFrame(
        {
            "partner_id": ids,
            "as_of": as_of,
            "manager_id": owners,
            "revenue_won_365d": [1000.0 * (i + 1) for i in range(partners)],
            "satisfaction_latest": [float("nan")] + [7.0] * (partners - 1),
        }
    )
    decisions = pd.DataFrame(
        {
            "partner_id": ids,
            "previous_tier": [None] * partners,
            "qualified_tier": ["Silver"] * partners,
            "tier": ["Silver"] * partners,
            "change": ["new"] * partners,
            "missed_evaluations": [0] * partners,
            "override_tier": [None] * partners,
            "override_reason": [None] * partners,
            "override_until": [None] * partners,
            "churn_risk": [0.1 * (i % 10) for i in range(partners)],
            "score": [50.0] * partners,
            "details": [{"gap": []}] * partners,
        }
    )
    awards = pd.DataFrame(
        {
            "partner_id": ids[:2],
            "incentive_id": ["mdf", "bonus"],
            "reward_type": ["mdf", "cash"],
            "amount": [500.0, 250.0],
        }
    )
    rows = [
        {
            "partner_id": pid,
            "manager_id": owner,
            "action_id": f"action_{k}",
            "rank": k + 1,
            "manager_rank": 0,
            "priority": float(100 - i * 10 - k),
            "propensity": 0.5,
            "value": 200.0 - i,
            "weight": 1.0,
            "reasons": [{"condition": "churn_risk >= 0.3", "value": 0.5}],
            "title": f"Title of action {k}",
            "sentence": f"{pid} needs action {k} <b>now</b>",
            "tier": "Silver",
            "churn_risk": 0.5,
            "overflow": False,
        }
        for i, (pid, owner) in enumerate(zip(ids, owners, strict=True))
        for k in range(actions_per_partner)
    ]
    plan = pd.DataFrame(rows)
    plan["manager_rank"] = plan.groupby("manager_id").cumcount() + 1
    return WeekData(
        week=week,
        as_of=as_of,
        partners=partner_frame,
        features=features,
        decisions=decisions,
        awards=awards,
        plan=plan,
        versions={"rulebook_version": "test-1"},
        summary={"partners_scored": partners},
    )


KEYS = {
    "ann": ("manager", "m1"),
    "bob": ("manager", "m2"),
    "root": ("admin", None),
    "prm": ("scorer", None),
}


def key_of(name: str) -> str:
    return f"tw_test_key_{name}"


def review_settings(url: str, data_dir: Path):  # type: ignore[no-untyped-def]
    """Settings with one key per test user (ann, bob: managers; root: admin; prm: scorer)."""
    from serving.auth import hash_key
    from tierwise.settings import ApiKey, Settings

    keys = [
        ApiKey(key_sha256=hash_key(key_of(n)), role=r, manager_id=m, name=n.title())
        for n, (r, m) in KEYS.items()
    ]
    return Settings(
        data_dir=data_dir,
        database_url=url,
        api_keys=keys,
        reload_interval_s=0,
        session_secret="test-secret-0123456789",
        webhook_interval_s=0,
    )


def make_app(settings):  # type: ignore[no-untyped-def]
    """The service app with no models loaded (the review pages do not need them)."""
    from serving.app import create_app
    from serving.service_state import ServiceState
    from tierwise.errors import NotReady

    def no_models(_settings: object) -> object:
        raise NotReady("no models in these tests")

    return create_app(settings, state=ServiceState(settings, loader=no_models))  # type: ignore[arg-type]


def seed_plan(url: str) -> None:
    """Two managers' plans for 2026-W48; partner P000 has a hostile name."""
    from serving.db import get_engine, session_scope, upgrade
    from serving.db.week import save_week

    engine = get_engine(url)
    upgrade(engine)
    week = make_week("2026-W48", partners=6)
    week.partners.loc[0, "name"] = "<script>alert('pwn')</script> Ltd"
    with session_scope(engine) as session:
        save_week(session, week)
