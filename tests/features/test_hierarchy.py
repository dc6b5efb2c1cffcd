"""The new contract parts, validated row by row: parents (two-tier distribution),
certifications, and the deal revenue columns; older data without them still loads."""

from __future__ import annotations

import pandas as pd
import pytest

from features.hierarchy import in_cycle
from features.tables import Tables
from features.validate import validate_tables


def raw(tables: Tables, **changed: pd.DataFrame) -> dict[str, pd.DataFrame]:
    out = {name: frame.copy() for name, frame in tables.items()}
    out.update(changed)
    return out


def with_parents(tables: Tables, parents: dict[int, object]) -> pd.DataFrame:
    p = tables.partners.copy()
    p["parent_partner_id"] = p["parent_partner_id"].astype(object)
    for row, parent in parents.items():
        p.loc[row, "parent_partner_id"] = parent
    return p


def problems(report, column: str) -> list[tuple[int | None, str]]:  # type: ignore[no-untyped-def]
    return sorted((p.row, p.message) for p in report.problems if p.column == column)


def test_the_simulated_program_is_valid(tables: Tables) -> None:
    report = validate_tables(raw(tables))
    assert report.ok, report.problems[:5]
    assert report.tables is not None and report.tables.certifications is not None


def test_a_partner_cannot_be_its_own_parent(tables: Tables) -> None:
    pid = tables.partners["partner_id"].iloc[4]
    report = validate_tables(raw(tables, partners=with_parents(tables, {4: pid})))
    assert problems(report, "parent_partner_id") == [(5, f"is the partner itself: {pid!r}")]


def test_an_unknown_parent_is_refused_with_its_value(tables: Tables) -> None:
    report = validate_tables(raw(tables, partners=with_parents(tables, {2: "NOPE"})))
    assert problems(report, "parent_partner_id") == [(3, "no such partner_id in partners: 'NOPE'")]


def test_a_cycle_is_refused_on_every_partner_in_it(tables: Tables) -> None:
    ids = tables.partners["partner_id"]
    p = with_parents(tables, {10: ids[11], 11: ids[12], 12: ids[10]})
    report = validate_tables(raw(tables, partners=p))
    rows = problems(report, "parent_partner_id")
    assert [r for r, _ in rows] == [11, 12, 13]
    assert all(m.startswith("parent chain loops back") for _, m in rows)
    assert (
        report.tables is not None
        and not report.tables.partners["partner_id"].isin(ids[10:13]).any()
    )


def test_children_of_a_partner_set_aside_follow_it(tables: Tables) -> None:
    p = tables.partners.copy()
    parent = p["parent_partner_id"].dropna().iloc[0]
    children = int((p["parent_partner_id"] == parent).sum())
    p.loc[p["partner_id"] == parent, "partner_type"] = "wholesaler"
    report = validate_tables(raw(tables, partners=p))
    follows = [m for _, m in problems(report, "parent_partner_id")]
    assert follows == [f"refers to a bad row of partners (set aside): {parent!r}"] * children
    # and their deals follow them: nothing half-loaded
    assert report.tables is not None
    kept = set(report.tables.partners["partner_id"])
    assert set(report.tables.deals["partner_id"].dropna()) <= kept


def test_in_cycle_finds_only_the_loop() -> None:
    import numpy as np

    ids = np.array(["A", "B", "C", "D", "E"], dtype=object)
    parents = np.array(["B", "C", "B", "A", None], dtype=object)  # D → A → B ↔ C
    assert in_cycle(ids, parents).tolist() == [False, True, True, False, False]


def test_a_certification_expiring_before_it_was_passed_is_refused(tables: Tables) -> None:
    assert tables.certifications is not None
    c = tables.certifications.copy()
    c.loc[3, "expires_at"] = c.loc[3, "passed_at"] - pd.Timedelta(days=1)
    c.loc[5, "partner_id"] = "P999999"
    report = validate_tables(raw(tables, certifications=c))
    found = sorted((p.row, p.column, p.message.split(":")[0]) for p in report.problems)
    assert found == [(4, "expires_at", "is before passed_at"),
                     (6, "partner_id", "no such partner_id in partners")]  # fmt: skip
    assert report.tables is not None
    assert report.tables.certifications is not None
    assert len(report.tables.certifications) == len(c) - 2


def test_expiries_years_ahead_are_not_later_than_the_data(tables: Tables) -> None:
    assert tables.certifications is not None
    end = tables.deals["registered_at"].max()
    assert (tables.certifications["expires_at"] > end + pd.Timedelta(days=366)).any()
    assert validate_tables(raw(tables)).ok


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("revenue_type", "subscription", "not one of one_time, recurring"),
        ("attribution", "co-sell", "not one of sourced, influenced"),
        ("arr", -5.0, "must be >= 0"),
    ],
)
def test_bad_deal_revenue_columns_are_refused(
    tables: Tables, column: str, value: object, message: str
) -> None:
    d = tables.deals.copy()
    d[column] = d[column].astype(object)
    d.loc[7, column] = value
    report = validate_tables(raw(tables, deals=d))
    assert [(p.row, p.column, p.message) for p in report.problems] == [
        (8, column, f"{message}: {value!r}")
    ]


def test_older_data_without_the_new_columns_validates_and_warns(tables: Tables) -> None:
    older = raw(
        tables,
        partners=tables.partners.drop(columns=["parent_partner_id"]),
        deals=tables.deals.drop(columns=["revenue_type", "arr", "attribution"]),
    )
    del older["certifications"]
    report = validate_tables(older)
    assert report.ok and report.tables is not None
    assert report.tables.certifications is None
    assert report.tables.partners["parent_partner_id"].isna().all()
    warned = " ".join(report.warnings)
    for column in ("parent_partner_id", "revenue_type", "arr", "attribution"):
        assert column in warned
