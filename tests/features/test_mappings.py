"""Import mappings: checked like a rulebook (file:line, did-you-mean, all at once); applied."""

from pathlib import Path

import pandas as pd
import pytest

from features.importer import import_source
from features.mapping_apply import apply_mapping, timestamps
from features.mappings import LoadedMapping, load_mapping, shipped
from tierwise.errors import MappingError, Problem

LOG = """partner_id,occurred_at,amount,customer_id
P1,2024-01-05 10:00:00,100,C1
P1,2024-02-01,250.5,
P2,2024-01-20T08:00:00+02:00,80,C9
P2,2024-03-01,-5,C9
"""

MAPPING = """\
timezone: UTC
sources:
  log: {file: log.csv}
tables:
  partners:
    from: log
    group_by: partner_id
    columns:
      partner_id: {column: partner_id, prefix: "x-"}
      joined_at: {column: occurred_at, agg: min}
      partner_type: {const: VAR}
      manager_id: {const: M1}
  deals:
    from: log
    filter: [{column: amount, min: 0.01}]
    columns:
      deal_id: {sequence: true, prefix: T}
      partner_id: {column: partner_id, prefix: "x-"}
      customer_id: {column: customer_id, fallback: partner_id}
      amount: {column: amount, scale: 0.01}
      registered_at: occurred_at
      status: {const: accepted}
      outcome: {const: won}
"""


def write(tmp_path: Path, mapping: str, log: str = LOG) -> tuple[Path, Path]:
    (tmp_path / "log.csv").write_text(log, encoding="utf-8")
    path = tmp_path / "mapping.yaml"
    path.write_text(mapping, encoding="utf-8")
    return path, tmp_path


def problems_of(exc: pytest.ExceptionInfo[MappingError]) -> list[Problem]:
    return exc.value.problems


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize("name", ["transactions", "salesforce-prm"])
def test_shipped_mappings_are_valid(name: str) -> None:
    assert name in shipped()
    assert isinstance(load_mapping(name), LoadedMapping)


def test_a_typo_in_a_source_column_names_file_line_and_the_right_column(tmp_path: Path) -> None:
    text = MAPPING.replace("registered_at: occurred_at", "registered_at: occured_at")
    mapping, source = write(tmp_path, text)
    with pytest.raises(MappingError) as exc:
        import_source(mapping, source)
    [problem] = problems_of(exc)
    assert problem.file == str(mapping)
    assert problem.line == line_of(text, "occured_at")
    assert problem.message == "no column 'occured_at' in log.csv (did you mean 'occurred_at'?)"


def test_every_problem_of_the_yaml_in_one_pass(tmp_path: Path) -> None:
    text = (
        MAPPING.replace("registered_at: occurred_at", "registerd_at: occurred_at")
        .replace("outcome: {const: won}", "outcome: {const: wonn}")
        .replace("status: {const: accepted}", "status: {colum: accepted}")
        .replace("from: log\n    group_by", "from: logs\n    group_by")
    )
    mapping, _ = write(tmp_path, text)
    with pytest.raises(MappingError) as exc:
        load_mapping(mapping)
    found = {(p.line, p.message) for p in problems_of(exc)}
    assert found == {
        (line_of(text, "colum:"), "unknown key 'colum'"),
        (
            line_of(text, "registerd_at"),
            "'registerd_at' is not a column of deals (did you mean 'registered_at'?)",
        ),
        (line_of(text, "wonn"), "'wonn' is not one of open, won, lost (did you mean 'won'?)"),
        (line_of(text, "from: logs"), "unknown source 'logs' (did you mean 'log'?)"),
        (line_of(text, "  deals:") + 3, "deals.registered_at is required: map it"),
    }
    assert all(p.file == str(mapping) for p in problems_of(exc))


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    mapping, _ = write(tmp_path, MAPPING.replace("group_by: partner_id", "group_by: [partner_id"))
    with pytest.raises(MappingError) as exc:
        load_mapping(mapping)
    [problem] = problems_of(exc)
    assert problem.message.startswith("YAML syntax error") and problem.line is not None


def test_unknown_shipped_name_suggests_one() -> None:
    with pytest.raises(MappingError, match="did you mean 'transactions'"):
        load_mapping("transaction")


def test_bad_time_zone_and_misplaced_options(tmp_path: Path) -> None:
    text = MAPPING.replace("timezone: UTC", "timezone: Mars/Olympus").replace(
        "status: {const: accepted}", "status: {const: accepted, scale: 2}"
    )
    mapping, _ = write(tmp_path, text)
    with pytest.raises(MappingError) as exc:
        load_mapping(mapping)
    messages = {p.message for p in problems_of(exc)}
    assert "unknown time zone 'Mars/Olympus' (use an IANA name such as UTC)" in messages
    assert "'scale' applies to number or integer" in messages


def test_apply_groups_filters_scales_prefixes_and_numbers(tmp_path: Path) -> None:
    mapping, source = write(tmp_path, MAPPING)
    result = import_source(mapping, source)
    assert result.report.ok, result.report.problems
    tables = result.report.tables
    assert tables is not None
    partners = tables.partners.set_index("partner_id")
    assert partners["joined_at"].to_dict() == {
        "x-P1": pd.Timestamp("2024-01-05 10:00", tz="UTC"),
        "x-P2": pd.Timestamp("2024-01-20 06:00", tz="UTC"),
    }
    deals = tables.deals
    assert deals["deal_id"].tolist() == ["T1", "T2", "T3"]  # the refund is filtered out
    assert "deals: 1 of 4 rows of log left out by its filter" in result.report.notes
    assert deals["amount"].tolist() == [1.0, 2.505, 0.8]
    assert deals["customer_id"].tolist() == ["C1", "P1", "C9"]


def test_value_maps_when_and_not_before() -> None:
    spec = load_mapping("salesforce-prm").spec
    opportunity = pd.DataFrame(
        {
            "Id": ["O1", "O2", "O3"],
            "AccountId": ["A1", "A2", "A3"],
            "PartnerAccountId": ["P1", None, "P1"],
            "Amount": ["10", "20", "30"],
            "StageName": ["Closed Won", "Registration Submitted", "Prospecting"],
            "IsClosed": ["true", "false", "FALSE"],
            "Type": ["Renewal", "Something Else", None],
            "CreatedDate": ["2024-01-01T15:00:00.000Z"] * 3,
            "CloseDate": ["2024-01-01", "2024-03-01", "2024-04-01"],
        }
    )
    deals = apply_mapping(spec, {"Opportunity": opportunity})["deals"]
    assert deals["status"].tolist() == ["accepted", "submitted", "accepted"]
    assert deals["outcome"].tolist() == ["won", "open", "open"]
    assert deals["deal_kind"].tolist() == ["renewal", None, None]
    assert deals["decided_at"].notna().tolist() == [True, False, True]
    closed = deals["closed_at"]
    assert closed[0] == pd.Timestamp("2024-01-01 15:00", tz="UTC")  # raised to CreatedDate
    assert closed[1:].isna().all()
    assert deals["source_row"].tolist() == [1, 2, 3]


def test_timestamps_with_a_format_and_a_zone() -> None:
    values = pd.Series(["03/10/2024 01:30", "07/04/2024 12:00", "not a date", None])
    out = timestamps(values, fmt="%m/%d/%Y %H:%M", zone="America/New_York")
    assert out[0] == pd.Timestamp("2024-03-10 06:30", tz="UTC")
    assert out[1] == pd.Timestamp("2024-07-04 16:00", tz="UTC")
    assert out[2] == "not a date" and pd.isna(out[3])  # left for validation to name


def test_naive_timestamps_without_a_zone_are_named_by_validation(tmp_path: Path) -> None:
    mapping, source = write(tmp_path, MAPPING.replace("timezone: UTC\n", ""))
    report = import_source(mapping, source).report
    assert not report.ok
    assert any("has no time zone" in p.message for p in report.problems)


def test_amounts_in_several_currencies(tmp_path: Path) -> None:
    log = LOG.replace("customer_id\n", "customer_id,currency\n").replace(",C1\n", ",C1,EUR\n")
    log = log.replace("250.5,\n", "250.5,,usd\n").replace("80,C9\n", "80,C9,JPY\n")
    text = MAPPING.replace(
        "amount: {column: amount, scale: 0.01}",
        "amount: {column: amount, currency: currency, rates: {USD: 1, EUR: 1.1}}",
    )
    mapping, source = write(tmp_path, text, log.replace("-5,C9\n", "-5,C9,USD\n"))
    report = import_source(mapping, source).report
    [problem] = [p for p in report.problems if p.table == "deals"]
    assert (problem.row, problem.value) == (3, "80 (no rate for JPY)")
    assert report.tables is not None
    assert report.tables.deals["amount"].tolist() == pytest.approx([110.0, 250.5])


def test_currency_needs_its_rates(tmp_path: Path) -> None:
    text = MAPPING.replace(
        "amount: {column: amount, scale: 0.01}", "amount: {column: amount, currency: c}"
    )
    mapping, _ = write(tmp_path, text)
    with pytest.raises(MappingError, match="go together"):
        load_mapping(mapping)
