import io
from typing import Any

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from features.tables import Tables
from features.validate import MAX_EXAMPLES, validate_tables
from tierwise.errors import DataValidationError, Problem


def program() -> dict[str, pd.DataFrame]:
    """A tiny valid program as a CSV export would arrive: every cell text, as written."""
    partners = pd.DataFrame(
        {
            "partner_id": ["P1", "P2", "P3"],
            "name": ["Acme", "Globex", "Initech"],
            "partner_type": ["VAR", "referral", "MSP"],
            "region": ["EMEA", "NA", "APAC"],
            "manager_id": ["M1", "M1", "M2"],
            "joined_at": [
                "2023-01-01T00:00:00Z",
                "2023-06-01 09:30:00+02:00",
                "2024-01-01T00:00+00:00",
            ],
            "onboarded_at": ["2023-02-01T00:00:00Z", None, None],
            "exited_at": [None, None, "2024-06-01T00:00:00+00:00"],
            "company_size": ["50", "7", "1200"],
            "market_share": ["0.1", "0", "1"],
            "verticals": ["health|retail", "retail", None],
            "customer_count": ["12", "0", "300"],
            "portfolio_fit": ["0.5", "0.25", "0.9"],
            "recruited_via": ["event", "referral", "inbound"],
            "recruit_cost": ["1000", "0", "2500.5"],
        },
        dtype="str",
    )
    deals = pd.DataFrame(
        {
            "deal_id": ["D1", "D2", "D3", "D4"],
            "partner_id": ["P1", "P1", "P2", None],
            "customer_id": ["C1", "C2", "C3", "C4"],
            "product": ["core", "core", "addon", "core"],
            "deal_kind": ["new", "upsell", "new", "renewal"],
            "amount": ["1000", "250.5", "0", "900"],
            "registered_at": ["2024-01-01T00:00:00Z"] * 4,
            "status": ["accepted", "submitted", "rejected", "accepted"],
            "decided_at": ["2024-01-05T00:00:00Z", None, "2024-01-01T00:00:00Z", None],
            "outcome": ["won", "open", "open", "open"],
            "closed_at": ["2024-02-01T00:00:00Z", None, None, None],
        },
        dtype="str",
    )
    activities = pd.DataFrame(
        {
            "partner_id": ["P1", "P2", "P3"],
            "occurred_at": ["2024-01-02T00:00:00Z"] * 3,
            "kind": ["training", "event", "cert_pass"],
        },
        dtype="str",
    )
    return {"partners": partners, "deals": deals, "activities": activities}


def with_cell(
    raw: dict[str, pd.DataFrame], table: str, row: int, column: str, value: Any
) -> dict[str, pd.DataFrame]:
    """A copy of `raw` with one cell changed (text columns stay text, as read from CSV)."""
    out = {name: frame.copy() for name, frame in raw.items()}
    if not (value is None or isinstance(value, str)):
        out[table][column] = out[table][column].astype(object)
    out[table].loc[row, column] = value
    return out


def only(problems: list[Problem], column: str) -> Problem:
    found = [p for p in problems if p.column == column]
    assert len(found) == 1, problems
    return found[0]


def test_a_valid_program_passes_with_canonical_dtypes() -> None:
    report = validate_tables(program())
    assert report.ok, report.problems
    tables = report.raise_for_problems()
    p = tables.partners
    assert p["partner_id"].dtype == "str"
    assert str(p["joined_at"].dtype) == "datetime64[ns, UTC]"
    assert p["company_size"].dtype == "int64"
    assert p["market_share"].dtype == "float64"
    assert p["verticals"].tolist() == ["health|retail", "retail", ""]
    assert tables.surveys is None


def test_aware_timestamps_are_converted_to_utc() -> None:
    tables = validate_tables(program()).raise_for_problems()
    assert tables.partners["joined_at"][1] == pd.Timestamp("2023-06-01 07:30", tz="UTC")


def test_wrong_type_names_row_column_and_value() -> None:
    report = validate_tables(with_cell(program(), "deals", 1, "amount", "lots"))
    problem = only(report.problems, "amount")
    assert (problem.table, problem.row, problem.value) == ("deals", 2, "lots")
    assert "not a number" in problem.message
    assert "'lots'" in str(problem)


def test_integer_column_rejects_fractions() -> None:
    report = validate_tables(with_cell(program(), "partners", 0, "company_size", "2.5"))
    problem = only(report.problems, "company_size")
    assert "whole number" in problem.message
    assert problem.row == 1


def test_unknown_partner_type_lists_the_allowed_ones() -> None:
    report = validate_tables(with_cell(program(), "partners", 2, "partner_type", "wizard"))
    problem = only(report.problems, "partner_type")
    assert problem.value == "wizard"
    assert "VAR" in problem.message and "distributor" in problem.message


def test_deal_of_a_missing_partner_is_a_problem() -> None:
    report = validate_tables(with_cell(program(), "deals", 2, "partner_id", "P404"))
    problem = only(report.problems, "partner_id")
    assert (problem.table, problem.row, problem.value) == ("deals", 3, "P404")
    assert "no such partner_id in partners" in problem.message


def test_direct_deal_without_partner_is_fine() -> None:
    report = validate_tables(program())
    assert report.tables is not None
    assert report.tables.deals["partner_id"].isna().sum() == 1


def test_timestamp_without_time_zone_is_a_problem() -> None:
    raw = with_cell(program(), "deals", 0, "registered_at", "2024-01-01 10:00:00")
    problem = only(validate_tables(raw).problems, "registered_at")
    assert "no time zone" in problem.message
    assert problem.value == "2024-01-01 10:00:00"


def test_date_without_time_zone_is_a_problem() -> None:
    raw = with_cell(program(), "activities", 1, "occurred_at", "2024-01-02")
    problem = only(validate_tables(raw).problems, "occurred_at")
    assert "no time zone" in problem.message


def test_naive_datetime_column_is_flagged_on_every_row() -> None:
    raw = program()
    raw["activities"]["occurred_at"] = pd.to_datetime(
        raw["activities"]["occurred_at"]
    ).dt.tz_localize(None)
    report = validate_tables(raw)
    assert [p.row for p in report.problems] == [1, 2, 3]
    assert {p.column for p in report.problems} == {"occurred_at"}


def test_unparsable_timestamp_is_a_problem() -> None:
    raw = with_cell(program(), "deals", 3, "registered_at", "last tuesday")
    problem = only(validate_tables(raw).problems, "registered_at")
    assert "ISO 8601" in problem.message


def test_negative_amount_is_a_problem() -> None:
    report = validate_tables(with_cell(program(), "deals", 0, "amount", "-5"))
    problem = only(report.problems, "amount")
    assert problem.message.startswith("must be >= 0")
    assert problem.value == "-5"


def test_share_above_one_is_a_problem() -> None:
    report = validate_tables(with_cell(program(), "partners", 1, "market_share", "1.5"))
    assert only(report.problems, "market_share").message.startswith("must be <= 1")


def test_duplicated_ids_mark_every_copy() -> None:
    report = validate_tables(with_cell(program(), "deals", 3, "deal_id", "D1"))
    found = [p for p in report.problems if p.column == "deal_id"]
    assert [(p.row, p.value) for p in found] == [(1, "D1"), (4, "D1")]
    assert report.bad["deals"]["row"].tolist() == [1, 4]


def test_missing_value_in_a_required_column() -> None:
    report = validate_tables(with_cell(program(), "partners", 0, "manager_id", None))
    problem = only(report.problems, "manager_id")
    assert (problem.message, problem.row, problem.value) == ("missing value", 1, None)


def test_missing_required_column_sets_the_whole_table_aside() -> None:
    raw = program()
    raw["activities"] = raw["activities"].drop(columns="kind")
    report = validate_tables(raw)
    problem = only(report.problems, "kind")
    assert "required column is missing" in problem.message
    assert problem.row is None
    assert len(report.bad["activities"]) == 3
    assert report.tables is not None and report.tables.activities is not None
    assert report.tables.activities.empty


def test_absent_optional_column_is_filled_and_warned() -> None:
    raw = program()
    raw["partners"] = raw["partners"].drop(columns="exited_at")
    report = validate_tables(raw)
    assert report.ok
    assert report.tables is not None and report.tables.partners["exited_at"].isna().all()
    assert any("exited_at" in w and "feature exited" in w for w in report.warnings)


def test_missing_required_table() -> None:
    raw = program()
    del raw["deals"]
    report = validate_tables(raw)
    assert not report.ok
    assert report.tables is None
    assert [p.message for p in report.problems] == ["required table deals is missing"]


def test_time_order_decided_before_registered() -> None:
    report = validate_tables(with_cell(program(), "deals", 0, "decided_at", "2023-12-31T23:59:59Z"))
    problem = only(report.problems, "decided_at")
    assert "before registered_at" in problem.message
    assert problem.row == 1


def test_time_order_equal_times_are_fine() -> None:
    assert validate_tables(program()).ok  # D3 is decided the moment it is registered


def test_every_problem_is_found_in_one_pass() -> None:
    raw = with_cell(program(), "deals", 0, "amount", "-1")
    raw = with_cell(raw, "deals", 1, "deal_kind", "barter")
    raw = with_cell(raw, "partners", 2, "recruited_via", "carrier pigeon")
    report = validate_tables(raw)
    assert {(p.table, p.column) for p in report.problems} >= {
        ("deals", "amount"),
        ("deals", "deal_kind"),
        ("partners", "recruited_via"),
    }


def test_rows_of_a_bad_partner_are_set_aside_with_the_reason() -> None:
    report = validate_tables(with_cell(program(), "partners", 0, "partner_type", "wizard"))
    assert report.tables is not None
    assert "P1" not in set(report.tables.partners["partner_id"])
    assert "P1" not in set(report.tables.deals["partner_id"].dropna())
    bad_deals = report.bad["deals"]
    assert bad_deals["deal_id"].tolist() == ["D1", "D2"]
    assert bad_deals["problem"].str.contains("refers to a bad row of partners").all()
    assert report.bad["activities"]["partner_id"].tolist() == ["P1"]


def test_no_row_is_lost() -> None:
    raw = with_cell(program(), "deals", 2, "amount", "x")
    raw = with_cell(raw, "partners", 1, "name", None)
    report = validate_tables(raw)
    assert report.tables is not None
    for name, frame in raw.items():
        good = getattr(report.tables, name)
        assert len(good) + len(report.bad.get(name, [])) == len(frame)
        assert report.bad_mask(name).sum() == len(report.bad.get(name, []))


def test_bad_rows_keep_raw_values_and_say_what_is_wrong() -> None:
    report = validate_tables(with_cell(program(), "deals", 1, "amount", "lots"))
    row = report.bad["deals"].iloc[0]
    assert (row["row"], row["deal_id"], row["amount"]) == (2, "D2", "lots")
    assert row["problem"] == "amount: not a number: 'lots'"


def test_several_problems_on_one_row_are_all_in_its_problem_column() -> None:
    raw = with_cell(program(), "deals", 1, "amount", "-3")
    raw = with_cell(raw, "deals", 1, "status", "maybe")
    problem = validate_tables(raw).bad["deals"]["problem"].iloc[0]
    assert "amount: must be >= 0" in problem and "status: not one of" in problem


def test_line_numbers_only_for_csv_files() -> None:
    raw = with_cell(program(), "deals", 1, "amount", "x")
    csv = only(validate_tables(raw, origin={"deals": "d/deals.csv"}).problems, "amount")
    parquet = only(validate_tables(raw, origin={"deals": "d/deals.parquet"}).problems, "amount")
    assert (csv.file, csv.row, csv.line) == ("d/deals.csv", 2, 3)
    assert (parquet.row, parquet.line) == (2, None)


def test_typed_input_from_parquet_is_accepted() -> None:
    tables = validate_tables(program()).raise_for_problems()
    again = validate_tables(dict(tables.items()))
    assert again.ok
    pd.testing.assert_frame_equal(again.raise_for_problems().deals, tables.deals)


def test_parquet_list_column_is_joined() -> None:
    raw = program()
    raw["partners"] = raw["partners"].astype(object)
    raw["partners"]["verticals"] = pd.Series(
        [np.array(["health", "retail"]), [], None], dtype=object
    )
    tables = validate_tables(raw).raise_for_problems()
    assert tables.partners["verticals"].tolist() == ["health|retail", "", ""]


def test_numeric_ids_become_text() -> None:
    raw = program()
    raw["deals"]["customer_id"] = [101, 102, 103, 104]
    tables = validate_tables(raw).raise_for_problems()
    assert tables.deals["customer_id"].tolist() == ["101", "102", "103", "104"]


def test_unknown_columns_and_tables_are_noted_not_kept() -> None:
    raw = program()
    raw["deals"]["colour"] = "red"
    raw["leads"] = pd.DataFrame({"x": [1]})
    report = validate_tables(raw)
    assert report.ok
    assert report.tables is not None and "colour" not in report.tables.deals
    assert any("colour" in n for n in report.notes) and any("leads" in n for n in report.notes)


def test_error_carries_count_and_problems() -> None:
    raw = with_cell(program(), "deals", 0, "amount", "-1")
    report = validate_tables(raw, source="data/")
    with pytest.raises(DataValidationError) as caught:
        report.raise_for_problems()
    assert caught.value.status == 422
    assert "data/: 1 data problem" in caught.value.detail
    assert caught.value.problems == report.problems


def render(report: object) -> str:
    out = io.StringIO()
    report.print(Console(file=out, width=200, color_system=None))  # type: ignore[attr-defined]
    return out.getvalue()


def test_print_groups_identical_problems_and_counts_all() -> None:
    raw = program()
    n = MAX_EXAMPLES + 3
    raw["activities"] = pd.DataFrame(
        {
            "partner_id": ["P9"] * n,
            "occurred_at": ["2024-01-02T00:00:00Z"] * n,
            "kind": ["event"] * n,
        }
    )
    text = render(validate_tables(raw, origin={"activities": "x/activities.csv"}))
    assert text.count("no such partner_id in partners") == 1
    assert f"({n} rows)" in text
    assert "line 2 (row 1): 'P9'" in text
    assert "and 3 more" in text
    assert f"{n} problems" in text


def test_print_of_a_valid_program_says_so() -> None:
    text = render(validate_tables(program(), source="data/"))
    assert "✓ data/: valid" in text


def test_tables_match_the_contract_columns() -> None:
    tables = validate_tables(program()).raise_for_problems()
    assert isinstance(tables, Tables)
    from features.schema import SCHEMAS

    for name, frame in tables.items():
        assert list(frame.columns) == SCHEMAS[name].column_names


def test_naive_datetime_values_are_shown_as_iso_text() -> None:
    raw = program()
    raw["deals"]["registered_at"] = pd.Timestamp("2024-01-01 10:00")
    problem = validate_tables(raw).problems[0]
    assert problem.value == "2024-01-01T10:00:00"
