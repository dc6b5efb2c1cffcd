"""A program written in pieces: one contract-valid program with disjoint, consistent ids."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.io import load_tables, validate_source
from simulation.chunks import piece_seed, piece_sizes, write_chunked
from simulation.program import simulate, write_simulation
from tests.conftest import SIM_END
from tierwise.errors import InvalidInput
from tierwise.shell.cli import app

YEARS = 0.5


@pytest.fixture(scope="module")
def pieces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("chunked")
    write_chunked(out, partners=500, years=YEARS, seed=7, end=SIM_END, chunk=200)
    return out


def test_sizes_are_even_and_bounded() -> None:
    assert piece_sizes(500, 200) == [167, 167, 166]
    assert piece_sizes(10, 10) == [10]
    assert piece_sizes(3, 1) == [1, 1, 1]
    with pytest.raises(InvalidInput, match="chunk must be at least 1"):
        piece_sizes(10, 0)
    with pytest.raises(InvalidInput, match="partners must be at least 1"):
        piece_sizes(0, 10)


def test_seeds_differ_per_piece_and_the_first_keeps_the_seed() -> None:
    assert piece_seed(7, 0) == 7
    seeds = {piece_seed(7, k) for k in range(1, 50)}
    assert len(seeds) == 49 and 7 not in seeds
    assert piece_seed(7, 3) == piece_seed(7, 3) != piece_seed(8, 3)


def test_the_pieces_make_one_valid_program(pieces: Path) -> None:
    report = validate_source(pieces)
    assert report.ok, report.findings[:5]
    tables = load_tables(pieces)
    partners = tables.partners
    assert len(partners) == 500 and partners["partner_id"].is_unique
    ids = set(partners["partner_id"])
    for name, frame in tables.items():
        if "partner_id" in frame:
            known = frame["partner_id"].dropna()
            assert known.isin(ids).all(), name
    parents = partners["parent_partner_id"].dropna()
    assert len(parents) and parents.isin(ids).all()
    assert tables.deals["deal_id"].is_unique
    assert tables.customers is not None and tables.customers["customer_id"].is_unique
    assert tables.certifications is not None
    people = tables.certifications["person_id"].str.split("-").str[0]
    assert (people == tables.certifications["partner_id"]).all()


def test_each_piece_is_one_row_group(pieces: Path) -> None:
    import pyarrow.parquet as pq

    for name in ("partners", "deals", "activities", "customers"):
        groups = pq.ParquetFile(pieces / f"{name}.parquet").metadata.num_row_groups
        assert groups == 3, name
    first = pq.ParquetFile(pieces / "partners.parquet").read_row_group(0)
    assert first.num_rows == 167


def test_pieces_keep_their_own_managers_parents_and_customers(pieces: Path) -> None:
    tables = load_tables(pieces)
    partners = tables.partners.reset_index(drop=True)
    piece = pd.Series([0] * 167 + [1] * 167 + [2] * 166, index=partners.index)
    by_id = dict(zip(partners["partner_id"], piece, strict=True))
    home = partners["partner_id"].map(by_id)
    managers = home.groupby(partners["manager_id"]).agg(["min", "max"])
    assert (managers["min"] == managers["max"]).all()  # no manager spans two pieces
    assert managers["min"].nunique() == 3
    child = partners.dropna(subset=["parent_partner_id"])
    assert (child["partner_id"].map(by_id) == child["parent_partner_id"].map(by_id)).all()
    deals = tables.deals.dropna(subset=["partner_id"])
    owner = deals["partner_id"].map(by_id).groupby(deals["customer_id"]).nunique()
    assert (owner == 1).all()  # no customer buys through two pieces


def test_each_piece_is_the_simulator_with_its_seed(pieces: Path) -> None:
    tables = load_tables(pieces)
    for k, size in enumerate(piece_sizes(500, 200)):
        alone = simulate(partners=size, years=YEARS, seed=piece_seed(7, k), end=SIM_END).tables
        first = sum(piece_sizes(500, 200)[:k])
        mine = tables.partners.iloc[first : first + size]
        assert list(mine["name"]) == list(alone.partners["name"]), k
        pids = set(mine["partner_id"])
        assert (
            tables.deals["partner_id"].isin(pids).sum() == alone.deals["partner_id"].notna().sum()
        )


def test_one_piece_is_exactly_simulate(tmp_path: Path) -> None:
    write_chunked(tmp_path / "chunked", partners=120, years=YEARS, seed=3, end=SIM_END, chunk=500)
    write_simulation(simulate(partners=120, years=YEARS, seed=3, end=SIM_END), tmp_path / "whole")
    for name in ("partners", "deals", "activities", "surveys", "customers", "certifications"):
        chunked = pd.read_parquet(tmp_path / "chunked" / f"{name}.parquet")
        whole = pd.read_parquet(tmp_path / "whole" / f"{name}.parquet")
        pd.testing.assert_frame_equal(chunked, whole, check_dtype=False)


def test_csv_pieces_and_a_transaction_log(tmp_path: Path) -> None:
    rows = write_chunked(
        tmp_path,
        partners=90,
        years=YEARS,
        seed=7,
        end=SIM_END,
        chunk=40,
        fmt="csv",
        tables=("partners", "deals"),
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deals.csv", "partners.csv"]
    partners = pd.read_csv(tmp_path / "partners.csv")
    assert rows["partners"] == len(partners) == 90 and partners["partner_id"].is_unique
    assert rows["deals"] == len(pd.read_csv(tmp_path / "deals.csv"))
    assert validate_source(tmp_path).ok


def test_bad_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown format 'xlsx'"):
        write_chunked(tmp_path, partners=10, years=YEARS, seed=7, chunk=5, fmt="xlsx")  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())


def test_cli_writes_pieces_and_refuses_salesforce(tmp_path: Path) -> None:
    runner = CliRunner()
    end = SIM_END.date().isoformat()
    args = ["simulate", "--partners", "60", "--years", "0.5", "--chunk", "25", "--end", end]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert "pieces of at most 25" in result.output
    assert pd.read_parquet(tmp_path / "p" / "partners.parquet")["partner_id"].nunique() == 60
    assert not (tmp_path / "p" / "_truth").exists()
    refused = runner.invoke(app, [*args, "--format", "salesforce", "--out", str(tmp_path / "s")])
    assert refused.exit_code != 0 and "not salesforce" in refused.output
