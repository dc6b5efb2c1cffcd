from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from features.tables import Tables
from tierwise.errors import InvalidInput
from training.labels import churn_labels, deal_labels, monthly_as_ofs

AS_OF = pd.Timestamp("2024-07-01", tz="UTC")


def ts(value: str | None) -> pd.Timestamp:
    return pd.NaT if value is None else pd.Timestamp(value, tz="UTC")


def _times(frame: pd.DataFrame, *cols: str) -> pd.DataFrame:
    for c in cols:
        frame[c] = pd.to_datetime(frame[c], utc=True).astype("datetime64[ns, UTC]")
    return frame


def partners(*rows: tuple[str, str, str | None]) -> pd.DataFrame:
    return _times(
        pd.DataFrame(
            [{"partner_id": p, "joined_at": ts(j), "exited_at": ts(x)} for p, j, x in rows]
        ),
        "joined_at",
        "exited_at",
    )


def deals(*rows: tuple[str, str | None, str, str]) -> pd.DataFrame:
    frame = pd.DataFrame(
        [
            {"deal_id": d, "partner_id": p, "registered_at": ts(r), "status": s}
            for d, p, r, s in rows
        ]
    )
    return _times(frame, "registered_at")


def activities(*rows: tuple[str, str, str]) -> pd.DataFrame:
    frame = pd.DataFrame([{"partner_id": p, "occurred_at": ts(t), "kind": k} for p, t, k in rows])
    return _times(frame, "occurred_at")


# Data run to 2025-01-01 (the last deal), so a 90-day label at 2024-07-01 is fully observed.
END_DEAL = ("D_END", None, "2025-01-01", "submitted")


def program(**extra: Any) -> Tables:
    base: dict[str, Any] = {
        "partners": partners(
            ("busy", "2023-01-01", None),
            ("exits", "2023-01-01", "2024-08-15"),
            ("goes_quiet", "2023-01-01", None),
            ("already_quiet", "2023-01-01", None),
            ("newcomer", "2024-06-20", None),
            ("gone", "2023-01-01", "2024-03-01"),
            ("contacted_only", "2023-01-01", None),
        ),
        "deals": deals(
            ("D1", "busy", "2024-06-10", "accepted"),
            ("D2", "busy", "2024-08-01", "rejected"),
            ("D3", "exits", "2024-06-01", "accepted"),
            ("D4", "exits", "2024-07-20", "submitted"),
            ("D5", "goes_quiet", "2024-06-15", "rejected"),
            ("D6", "goes_quiet", "2024-10-15", "accepted"),
            ("D7", "already_quiet", "2024-01-01", "accepted"),
            ("D8", "contacted_only", "2024-06-01", "accepted"),
            END_DEAL,
        ),
        "activities": activities(
            ("newcomer", "2024-07-10", "training"),
            ("contacted_only", "2024-07-05", "manager_contact"),
        ),
    }
    base.update(extra)
    return Tables(**base)


def labels_at(tables: Tables, horizon: int = 90) -> dict[str, int]:
    frame = churn_labels(tables, [AS_OF], horizon_days=horizon)
    return dict(zip(frame["partner_id"], frame["churned"], strict=True))


def test_busy_partner_does_not_churn() -> None:
    assert labels_at(program())["busy"] == 0


def test_formal_exit_within_horizon_is_churn_even_with_activity() -> None:
    assert labels_at(program())["exits"] == 1


def test_no_registration_or_activity_within_horizon_is_churn() -> None:
    assert labels_at(program())["goes_quiet"] == 1


def test_activity_after_the_horizon_does_not_count() -> None:
    assert labels_at(program(), horizon=150)["goes_quiet"] == 0


def test_partner_already_quiet_at_as_of_is_an_example_labelled_by_what_follows() -> None:
    # lapsed partners are scored too (some come back): quiet before and after -> churned
    assert labels_at(program())["already_quiet"] == 1


def test_young_partner_without_history_is_an_example() -> None:
    assert labels_at(program())["newcomer"] == 0


def test_partner_exited_before_as_of_is_not_an_example() -> None:
    assert "gone" not in labels_at(program())


def test_manager_contact_is_not_partner_activity() -> None:
    assert labels_at(program())["contacted_only"] == 1


def test_partner_joining_at_as_of_is_not_an_example() -> None:
    tables = program(
        partners=pd.concat([program().partners, partners(("late", "2024-07-01", None))])
    )
    assert "late" not in labels_at(tables)


def test_without_activities_only_registrations_show_life() -> None:
    labels = labels_at(program(activities=None))
    assert (labels["busy"], labels["newcomer"]) == (0, 1)


def test_label_window_must_be_observed() -> None:
    with pytest.raises(InvalidInput, match="passes the end of the data"):
        churn_labels(program(), [pd.Timestamp("2024-11-01", tz="UTC")], horizon_days=90)


def test_monthly_as_ofs_leave_room_for_the_horizon() -> None:
    stamps = monthly_as_ofs(program(), horizon_days=90, warmup_days=30)
    assert stamps[-1] == pd.Timestamp("2024-10-01", tz="UTC")
    assert all(s.day == 1 for s in stamps)
    assert stamps == sorted(stamps)


def test_deal_labels_keep_decided_partner_deals_only() -> None:
    labels = deal_labels(program().deals)
    assert dict(zip(labels["deal_id"], labels["accepted"], strict=True)) == {
        "D1": 1,
        "D2": 0,
        "D3": 1,
        "D5": 0,
        "D6": 1,
        "D7": 1,
        "D8": 1,
    }
