"""Certifications held by people, point in time: expired or later passes do not count."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from features.snapshot import build_features
from features.tables import Tables

AS_OF = pd.Timestamp("2026-03-02", tz="UTC")
DAY = pd.Timedelta(days=1)


Row = tuple[str, str, str | None, pd.Timestamp, object]


def planted(tables: Tables, rows: list[Row]) -> Tables:
    """The simulated program with one partner's certifications replaced by `rows`
    (person, certification, specialisation, passed_at, expires_at)."""
    assert tables.certifications is not None
    pid = partner(tables)
    others = tables.certifications[tables.certifications["partner_id"] != pid]
    mine = pd.DataFrame(
        [(p, pid, c, s, at, until) for p, c, s, at, until in rows],
        columns=["person_id", "partner_id", "certification", "specialisation", "passed_at",
                 "expires_at"],
    )  # fmt: skip
    mine["passed_at"] = pd.to_datetime(mine["passed_at"], utc=True).dt.as_unit("ns")
    mine["expires_at"] = pd.to_datetime(mine["expires_at"], utc=True).dt.as_unit("ns")
    return replace(tables, certifications=pd.concat([others, mine], ignore_index=True))


def partner(tables: Tables) -> str:
    """A partner in the program well before AS_OF."""
    joined = tables.partners["joined_at"] < AS_OF - 400 * DAY
    return str(tables.partners.loc[joined, "partner_id"].iloc[0])


def row(tables: Tables) -> pd.Series:
    frame = build_features(tables, as_of=AS_OF)
    return frame.set_index("partner_id").loc[partner(tables)]


def test_expired_before_as_of_does_not_count(tables: Tables) -> None:
    t = planted(tables, [("A", "core-admin", "core", AS_OF - 800 * DAY, AS_OF - 70 * DAY)])
    assert (row(t)["certified_people"], row(t)["specialisations"]) == (0, 0)


def test_passed_at_or_after_as_of_does_not_count(tables: Tables) -> None:
    t = planted(tables, [("A", "core-admin", "core", AS_OF, AS_OF + 700 * DAY),
                         ("B", "core-admin", "core", AS_OF + DAY, AS_OF + 700 * DAY)])  # fmt: skip
    assert row(t)["certified_people"] == 0


def test_in_force_counts_and_expiring_at_as_of_is_over(tables: Tables) -> None:
    t = planted(tables, [
        ("A", "core-admin", "core", AS_OF - 10 * DAY, AS_OF + 700 * DAY),
        ("B", "core-admin", "core", AS_OF - 700 * DAY, AS_OF),  # ends exactly at as_of
        ("C", "sales-foundations", None, AS_OF - 3000 * DAY, None),  # never expires
    ])  # fmt: skip
    r = row(t)
    assert (r["certified_people"], r["specialisations"], r["certifications_active"]) == (2, 1, 2)


def test_a_person_and_a_specialisation_count_once(tables: Tables) -> None:
    t = planted(tables, [
        ("A", "core-admin", "core", AS_OF - 100 * DAY, AS_OF + 600 * DAY),
        ("A", "security-specialist", "security", AS_OF - 50 * DAY, AS_OF + 600 * DAY),
        ("B", "security-specialist", "security", AS_OF - 40 * DAY, AS_OF + 600 * DAY),
    ])  # fmt: skip
    r = row(t)
    assert (r["certified_people"], r["specialisations"], r["certifications_active"]) == (2, 2, 3)


def test_a_renewal_before_expiry_keeps_the_person_certified(tables: Tables) -> None:
    t = planted(tables, [
        ("A", "core-admin", "core", AS_OF - 800 * DAY, AS_OF - 70 * DAY),
        ("A", "core-admin", "core", AS_OF - 90 * DAY, AS_OF + 640 * DAY),  # renewed in time
    ])  # fmt: skip
    assert row(t)["certified_people"] == 1
    lapsed = planted(tables, [
        ("A", "core-admin", "core", AS_OF - 800 * DAY, AS_OF - 70 * DAY),
        ("A", "core-admin", "core", AS_OF + 5 * DAY, AS_OF + 735 * DAY),  # renewed too late
    ])  # fmt: skip
    assert row(lapsed)["certified_people"] == 0


def test_simulated_counts_match_a_direct_count(tables: Tables) -> None:
    certs = tables.certifications
    assert certs is not None
    for as_of in (AS_OF, AS_OF - 200 * DAY):
        in_force = certs[(certs["passed_at"] < as_of) &
                         (certs["expires_at"].isna() | (certs["expires_at"] > as_of))]  # fmt: skip
        frame = build_features(tables, as_of=as_of).set_index("partner_id")
        people = in_force.groupby("partner_id")["person_id"].nunique()
        special = (
            in_force.dropna(subset=["specialisation"])
            .groupby("partner_id")["specialisation"]
            .nunique()
        )
        expected = people.reindex(frame.index, fill_value=0).astype(float)
        pd.testing.assert_series_equal(frame["certified_people"], expected, check_names=False)
        got = frame["specialisations"]
        assert (got == special.reindex(frame.index, fill_value=0)).all()
        assert frame["certified_people"].max() >= 2  # a real spread, not all zeros


def test_lifetime_passes_are_not_people_in_force(tables: Tables) -> None:
    """`certified_staff` keeps its meaning (lifetime passes); `certified_people` lapses."""
    frame = build_features(tables, as_of=AS_OF)
    assert (frame["certified_people"] <= frame["certified_staff"]).all()
    assert (frame["certified_people"] < frame["certified_staff"]).any()


def test_without_a_certifications_table_the_features_are_missing(tables: Tables) -> None:
    frame = build_features(replace(tables, certifications=None), as_of=AS_OF)
    cols = ["certified_people", "specialisations", "certifications_active"]
    assert frame[cols].isna().all().all()
    assert frame["certified_staff"].notna().all()


@pytest.mark.parametrize("column", ["certified_people", "specialisations"])
def test_certifications_lapse_in_the_simulated_program(tables: Tables, column: str) -> None:
    """Over a year some partners lose certified people or specialisations: expiry is real."""
    early = build_features(tables, as_of=AS_OF - 365 * DAY).set_index("partner_id")[column]
    late = build_features(tables, as_of=AS_OF).set_index("partner_id")[column]
    both = early.index.intersection(late.index)
    assert np.any(late[both] < early[both])
