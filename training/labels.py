"""Labels: which partner churned within the horizon, which deal registration was accepted.

Churn, per (partner, as_of, horizon h): the partner formally exits in [as_of, as_of + h), or
goes quiet — no deal registration and no partner activity in [as_of, as_of + h). Manager
contacts are made *by* the channel manager, so they do not count as the partner being active.

Examples (who gets a label at as_of) are every partner **in the program at as_of**: joined
before as_of and not formally exited before it — lapsed partners included, since some come
back (their `lifecycle_status`, from `features.lifecycle`, is a feature and the segment the
metrics are reported on). Exited partners are out: nothing is left to predict.

A label needs its whole window observed: as_of + h must not pass the end of the data.
Deal acceptance: every decided (accepted or rejected) partner deal registration is an example;
the label is 1 when accepted. Undecided (`submitted`) and direct deals are not examples.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

import pandas as pd

from features.schema import is_scheduled
from features.tables import Tables
from tierwise.errors import InvalidInput

# Activity kinds that are the manager's doing, not a sign of life from the partner.
NOT_PARTNER_ACTIVITY = ("manager_contact",)
TIME: Final = "datetime64[ns, UTC]"


def _ts(value: datetime | pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def data_window(tables: Tables) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(first deal registration, last timestamp anywhere in the tables)."""
    deals = tables.deals
    if deals.empty:
        raise InvalidInput("no deal registrations: cannot place training examples in time")
    ends: list[pd.Timestamp] = []
    for name, frame in tables.items():
        for col in frame.columns:
            if is_scheduled(name, col):
                continue  # an expiry planned ahead is not where the data ends
            if isinstance(frame[col].dtype, pd.DatetimeTZDtype) and frame[col].notna().any():
                ends.append(_ts(frame[col].max()))
    return _ts(deals["registered_at"].min()), max(ends)


def monthly_as_ofs(
    tables: Tables, *, horizon_days: int, warmup_days: int = 90
) -> list[pd.Timestamp]:
    """Month starts from `warmup_days` after the first registration to data end − horizon."""
    start, end = data_window(tables)
    first = (start + pd.Timedelta(days=warmup_days)).ceil("D")
    last = end - pd.Timedelta(days=horizon_days)
    months = pd.date_range(
        first.tz_localize(None).to_period("M").to_timestamp(how="start"),
        last.tz_localize(None),
        freq="MS",
        tz="UTC",
    )
    return [m for m in months if first <= m <= last]


MIN_MONTHLY_CUTOFFS = 7  # train, validation and test a full horizon apart, monthly
SHORT_WARMUP_DAYS = 28
WEEK = pd.Timedelta(days=7)


def weekly_as_ofs(
    tables: Tables, *, horizon_days: int, warmup_days: int = SHORT_WARMUP_DAYS
) -> list[pd.Timestamp]:
    """Every 7 days back from the last day whose label is observed, to `warmup_days` after
    the first registration."""
    start, end = data_window(tables)
    first = (start + pd.Timedelta(days=warmup_days)).ceil("D")
    last = (end - pd.Timedelta(days=horizon_days)).floor("D")
    if last < first:
        return []
    periods = (last - first) // WEEK + 1
    return list(pd.date_range(end=last, periods=periods, freq="7D"))


def cutoffs(tables: Tables, *, horizon_days: int) -> tuple[list[pd.Timestamp], str]:
    """The as_ofs training uses and their cadence: monthly when the history holds enough
    month starts for a time split (MIN_MONTHLY_CUTOFFS), else weekly with a shorter warm-up
    (a short history gets more, closer cut-offs rather than none)."""
    monthly = monthly_as_ofs(tables, horizon_days=horizon_days)
    if len(monthly) >= MIN_MONTHLY_CUTOFFS:
        return monthly, "monthly"
    return weekly_as_ofs(tables, horizon_days=horizon_days), "weekly"


def history_needed_days(horizon_days: int, cutoffs: int = 2) -> int:
    """The least history training can work from: a warm-up, `cutoffs` weekly cut-offs and
    one horizon to observe the last label."""
    return SHORT_WARMUP_DAYS + 7 * (cutoffs - 1) + horizon_days


def partner_events(tables: Tables) -> pd.DataFrame:
    """Every sign of life from a partner: (partner_id, at), sorted by time."""
    parts = [
        tables.deals.loc[
            tables.deals["partner_id"].notna(), ["partner_id", "registered_at"]
        ].rename(columns={"registered_at": "at"})
    ]
    if tables.activities is not None:
        acts = tables.activities
        own = acts.loc[~acts["kind"].isin(NOT_PARTNER_ACTIVITY), ["partner_id", "occurred_at"]]
        parts.append(own.rename(columns={"occurred_at": "at"}))
    events = pd.concat(parts, ignore_index=True)
    events["partner_id"] = events["partner_id"].astype("str")
    events["at"] = events["at"].astype(TIME)
    return events.dropna(subset=["at"]).sort_values("at", kind="stable", ignore_index=True)


def churn_labels(
    tables: Tables, as_ofs: Sequence[datetime | pd.Timestamp], *, horizon_days: int
) -> pd.DataFrame:
    """One row per partner in the program at each as_of: partner_id, as_of, churned (0/1), why.

    Raises InvalidInput when an as_of leaves less than the horizon before the data end.
    """
    if horizon_days < 1:
        raise InvalidInput(f"horizon_days must be at least 1, got {horizon_days}")
    stamps = sorted({_ts(a) for a in as_ofs})
    horizon = pd.Timedelta(days=horizon_days)
    _, end = data_window(tables)
    late = [a for a in stamps if a + horizon > end]
    if late:
        raise InvalidInput(
            f"as_of {late[0].date()} + {horizon_days} days passes the end of the data "
            f"({end.date()}): its churn label would not be fully observed"
        )
    spine = _spine(tables.partners, stamps)
    events = partner_events(tables)
    spine = spine.sort_values("as_of", kind="stable")
    nxt = pd.merge_asof(
        spine,
        events.rename(columns={"at": "next_event"}),
        left_on="as_of",
        right_on="next_event",
        by="partner_id",
        direction="forward",
    )
    end_of_window = nxt["as_of"] + horizon
    exits = (nxt["exited_at"] >= nxt["as_of"]) & (nxt["exited_at"] < end_of_window)
    quiet = ~(nxt["next_event"] < end_of_window)
    out = pd.DataFrame(
        {
            "partner_id": nxt["partner_id"],
            "as_of": nxt["as_of"],
            "churned": (exits | quiet).astype("int64"),
            "exits_in_horizon": exits.to_numpy(),
            "quiet_in_horizon": quiet.to_numpy(),
        }
    )
    return out.sort_values(["as_of", "partner_id"], kind="stable", ignore_index=True)


def _spine(partners: pd.DataFrame, stamps: list[pd.Timestamp]) -> pd.DataFrame:
    """(partner_id, as_of, joined_at, exited_at) for partners joined and not exited at as_of."""
    base = pd.DataFrame(
        {
            "partner_id": partners["partner_id"].astype("str"),
            "joined_at": partners["joined_at"].astype(TIME),
            "exited_at": partners["exited_at"].astype(TIME),
        }
    )
    frames = []
    for as_of in stamps:
        alive = (base["joined_at"] < as_of) & ~(base["exited_at"] < as_of)
        frames.append(base.loc[alive].assign(as_of=as_of))
    if not frames:
        return base.iloc[:0].assign(as_of=pd.Series(dtype=TIME))
    spine = pd.concat(frames, ignore_index=True)
    spine["as_of"] = spine["as_of"].astype(TIME)
    return spine


def deal_labels(deals: pd.DataFrame) -> pd.DataFrame:
    """Decided partner deal registrations: deal_id, partner_id, registered_at, accepted (0/1)."""
    decided = deals.loc[
        deals["partner_id"].notna() & deals["status"].isin(["accepted", "rejected"])
    ]
    return pd.DataFrame(
        {
            "deal_id": decided["deal_id"],
            "partner_id": decided["partner_id"],
            "registered_at": decided["registered_at"],
            "accepted": (decided["status"] == "accepted").astype("int64"),
        }
    )
