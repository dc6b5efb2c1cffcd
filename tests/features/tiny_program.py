"""A tiny hand-built partner program whose features are worked out by hand in the tests.

AS_OF is 2024-07-01. P1 is the busy partner, P2 joined a month ago, P3 joins exactly at
AS_OF (so it is not in the frame), P4 exited in March. Events marked "future" happen at or
after AS_OF and must not count.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from features.tables import Tables

AS_OF = pd.Timestamp("2024-07-01", tz="UTC")


def ts(value: str | None) -> pd.Timestamp:
    return pd.NaT if value is None else pd.Timestamp(value, tz="UTC")


def _frame(rows: list[dict[str, Any]], times: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in times:
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.as_unit("ns")
    return frame


def partner(pid: str, kind: str, joined: str, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict(
        partner_id=pid,
        name=f"Partner {pid}",
        partner_type=kind,
        region="EMEA",
        manager_id="M1",
        joined_at=ts(joined),
        onboarded_at=pd.NaT,
        exited_at=pd.NaT,
        company_size=50.0,
        market_share=0.1,
        verticals="health|retail",
        customer_count=12.0,
        portfolio_fit=0.5,
        recruited_via="event",
        recruit_cost=1000.0,
    )
    row.update({k: ts(v) if k.endswith("_at") else v for k, v in extra.items()})
    return row


def deal(
    did: str,
    pid: str | None,
    registered: str,
    amount: float,
    kind: str = "new",
    *,
    customer: str = "C9",
    status: str = "submitted",
    decided: str | None = None,
    outcome: str = "open",
    closed: str | None = None,
) -> dict[str, Any]:
    return dict(
        deal_id=did,
        partner_id=pid,
        customer_id=customer,
        product="core",
        deal_kind=kind,
        amount=amount,
        registered_at=ts(registered),
        status=status,
        decided_at=ts(decided),
        outcome=outcome,
        closed_at=ts(closed),
    )


def partners_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return _frame(rows, ("joined_at", "onboarded_at", "exited_at"))


def deals_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return _frame(rows, ("registered_at", "decided_at", "closed_at"))


def activities_frame(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return _frame(
        [dict(partner_id=p, occurred_at=ts(t), kind=k) for p, t, k in rows], ("occurred_at",)
    )


def surveys_frame(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return _frame(
        [dict(partner_id=p, answered_at=ts(t), score=s) for p, t, s in rows], ("answered_at",)
    )


def customers_frame(rows: list[tuple[str, str, str | None, str, str | None]]) -> pd.DataFrame:
    return _frame(
        [
            dict(
                customer_id=c,
                source=s,
                partner_id=p,
                acquired_at=ts(a),
                acquisition_cost=100.0,
                churned_at=ts(ch),
            )
            for c, s, p, a, ch in rows
        ],
        ("acquired_at", "churned_at"),
    )


def tiny_tables() -> Tables:
    partners = partners_frame(
        [
            partner("P1", "VAR", "2023-01-01", onboarded_at="2023-02-01"),
            partner("P2", "referral", "2024-06-01", onboarded_at="2024-08-01", verticals=""),
            partner("P3", "MSP", "2024-07-01"),
            partner("P4", "SI", "2022-01-01", exited_at="2024-03-01", manager_id="M2"),
        ]
    )
    deals = deals_frame(
        [
            deal(
                "D1",
                "P1",
                "2024-06-21",
                1000,
                status="accepted",
                decided="2024-06-25",
                outcome="won",
                closed="2024-06-30",
            ),
            deal(
                "D2",
                "P1",
                "2024-05-02",
                3000,
                "cross_sell",
                status="accepted",
                decided="2024-05-10",
                outcome="lost",
                closed="2024-06-01",
            ),
            deal("D3", "P1", "2024-06-26", 2000, "upsell", status="rejected", decided="2024-06-28"),
            deal("D4", "P1", "2024-06-11", 5000, status="accepted", decided="2024-06-15"),
            deal(
                "D5",
                "P1",
                "2024-06-29",
                500,
                status="accepted",
                decided="2024-07-03",
                outcome="won",
                closed="2024-07-10",
            ),  # decided and won in the future
            deal("D6", "P1", "2024-07-02", 700),  # future registration
            deal(
                "D7",
                "P1",
                "2023-12-01",
                4000,
                status="accepted",
                decided="2023-12-05",
                outcome="won",
                closed="2024-01-10",
            ),
            deal("D8", None, "2024-06-01", 900, customer="C1"),  # direct deal
        ]
    )
    activities = activities_frame(
        [
            ("P1", "2024-06-30", "manager_contact"),
            ("P1", "2024-03-01", "manager_contact"),
            ("P1", "2024-07-01", "manager_contact"),  # at AS_OF: future
            ("P1", "2024-06-15", "training"),
            ("P1", "2024-05-01", "cert_attempt"),
            ("P1", "2024-05-01", "cert_pass"),
            ("P1", "2023-01-15", "cert_pass"),
            ("P1", "2024-06-20", "lead_registered"),
            ("P1", "2024-02-01", "lead_registered"),
            ("P4", "2024-01-01", "event"),
        ]
    )
    surveys = surveys_frame(
        [
            ("P1", "2023-05-01", 3.0),
            ("P1", "2024-01-01", 6.0),
            ("P1", "2024-06-01", 8.0),
            ("P1", "2024-07-05", 2.0),  # future
        ]
    )
    customers = customers_frame(
        [
            ("C1", "partner", "P1", "2023-06-01", None),
            ("C2", "partner", "P1", "2024-01-01", "2024-05-01"),
            ("C3", "partner", "P1", "2024-03-01", "2024-08-01"),  # churns in the future
            ("C4", "partner", "P1", "2024-07-15", None),  # acquired in the future
            ("C5", "direct", None, "2024-01-01", None),
        ]
    )
    return Tables(partners, deals, activities, surveys, customers)


def random_tables(seed: int, partners: int = 12, events: int = 120) -> Tables:
    """A small random program around 2024 (for property tests), every table present."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2023-01-01", tz="UTC")

    def when(n: int, lo_days: float = 0, span: float = 600) -> pd.Series:
        offsets = pd.to_timedelta(rng.uniform(lo_days, lo_days + span, n) * 86400, unit="s")
        return pd.Series((start + offsets).round("s")).dt.as_unit("ns")

    pids = [f"P{i}" for i in range(partners)]
    joined = when(partners, 0, 400)
    p_rows = [partner(pid, "VAR", "2023-01-01") for pid in pids]
    p = partners_frame(p_rows)
    p["joined_at"] = joined
    p["onboarded_at"] = joined + pd.Timedelta(days=30)
    p["exited_at"] = (joined + pd.Timedelta(days=300)).where(rng.random(partners) < 0.3)
    registered = when(events)
    decided = registered + pd.to_timedelta(rng.integers(1, 20, events), unit="D")
    closed = decided + pd.to_timedelta(rng.integers(1, 90, events), unit="D")
    status = rng.choice(["submitted", "accepted", "rejected"], events)
    outcome = np.where(status == "accepted", rng.choice(["open", "won", "lost"], events), "open")
    d = pd.DataFrame(
        dict(
            deal_id=[f"D{i}" for i in range(events)],
            partner_id=pd.Series(rng.choice(pids, events)).where(rng.random(events) > 0.1),
            customer_id=rng.choice([f"C{i}" for i in range(15)], events),
            product="core",
            deal_kind=rng.choice(["new", "cross_sell", "upsell", "renewal"], events),
            amount=rng.integers(100, 10_000, events).astype(float),
            registered_at=registered,
            status=status,
            decided_at=decided.where(status != "submitted"),
            outcome=outcome,
            closed_at=closed.where(outcome != "open"),
        )
    )
    a = pd.DataFrame(
        dict(
            partner_id=rng.choice(pids, events),
            occurred_at=when(events),
            kind=rng.choice(
                ["training", "event", "lead_registered", "manager_contact", "cert_pass"], events
            ),
        )
    )
    s = pd.DataFrame(
        dict(
            partner_id=rng.choice(pids, events // 4),
            answered_at=when(events // 4),
            score=rng.integers(0, 11, events // 4).astype(float),
        )
    )
    acquired = when(events // 2)
    churned = acquired + pd.to_timedelta(rng.integers(10, 400, events // 2), unit="D")
    c = pd.DataFrame(
        dict(
            customer_id=[f"K{i}" for i in range(events // 2)],
            source=rng.choice(["partner", "direct"], events // 2),
            partner_id=rng.choice(pids, events // 2),
            acquired_at=acquired,
            acquisition_cost=100.0,
            churned_at=churned.where(rng.random(events // 2) < 0.5),
        )
    )
    return Tables(p, d, a, s, c)


# --- planting facts dated at or after a cut-off ----------------------------------------


def _future(times: pd.Series, as_of: pd.Timestamp) -> np.ndarray:
    return (times >= as_of).to_numpy(dtype=bool, na_value=False)


def _later(n: int, as_of: pd.Timestamp, rng: np.random.Generator) -> pd.Series:
    """n times at or after as_of (some exactly at it)."""
    offsets = pd.to_timedelta(rng.integers(0, 200 * 86400, n), unit="s")
    offsets = offsets.where(rng.random(n) > 0.2, pd.Timedelta(0))
    return pd.Series(as_of + offsets).dt.as_unit("ns")


def _replan(times: pd.Series, as_of: pd.Timestamp, rng: np.random.Generator) -> pd.Series:
    """Move or erase every time at/after as_of; earlier ones stay."""
    future = _future(times, as_of)
    moved = _later(len(times), as_of, rng).where(rng.random(len(times)) > 0.3)
    moved.index = times.index
    return times.where(~future, moved)


def plant_future(tables: Tables, as_of: pd.Timestamp, seed: int) -> Tables:
    """Add, change and delete facts dated at or after as_of in every table."""
    rng = np.random.default_rng(seed)
    pids = tables.partners["partner_id"].to_numpy()

    p = tables.partners.copy()
    p = p[~_future(p["joined_at"], as_of)].reset_index(drop=True)
    for col in ("onboarded_at", "exited_at"):
        p[col] = _replan(p[col], as_of, rng)

    d = tables.deals.copy()
    d = d[~(_future(d["registered_at"], as_of) & (rng.random(len(d)) < 0.5))]
    future_decision = _future(d["decided_at"], as_of)
    d.loc[future_decision, "status"] = rng.choice(["accepted", "rejected"], future_decision.sum())
    d["decided_at"] = _replan(d["decided_at"], as_of, rng)
    d.loc[d["decided_at"].isna(), "status"] = "submitted"
    future_close = _future(d["closed_at"], as_of)
    d.loc[future_close, "outcome"] = rng.choice(["won", "lost"], future_close.sum())
    d["closed_at"] = _replan(d["closed_at"], as_of, rng)
    d.loc[d["closed_at"].isna(), "outcome"] = "open"
    late = _future(d["registered_at"], as_of)
    d.loc[late, "amount"] = d.loc[late, "amount"] * 3 + 1
    n = 15
    new_deals = pd.DataFrame(dict(
        deal_id=[f"F{i}" for i in range(n)], partner_id=rng.choice(pids, n),
        customer_id=rng.choice(d["customer_id"].to_numpy(), n), product="core",
        deal_kind="upsell", amount=5000.0, registered_at=_later(n, as_of, rng),
        status="accepted", decided_at=_later(n, as_of, rng) + pd.Timedelta(days=300),
        outcome="won", closed_at=_later(n, as_of, rng) + pd.Timedelta(days=400),
    ))  # fmt: skip
    d = pd.concat([d, new_deals], ignore_index=True)

    def events(frame: pd.DataFrame, time_col: str, extra: dict[str, object]) -> pd.DataFrame:
        kept = frame[~(_future(frame[time_col], as_of) & (rng.random(len(frame)) < 0.5))]
        new = pd.DataFrame({"partner_id": rng.choice(pids, n), time_col: _later(n, as_of, rng),
                            **extra})  # fmt: skip
        return pd.concat([kept, new], ignore_index=True)

    assert tables.activities is not None and tables.surveys is not None
    a = events(tables.activities, "occurred_at", {"kind": rng.choice(["training", "cert_pass"], n)})
    s = events(tables.surveys, "answered_at", {"score": rng.integers(0, 11, n).astype(float)})

    assert tables.customers is not None
    c = tables.customers.copy()
    c = c[~_future(c["acquired_at"], as_of)]
    c["churned_at"] = _replan(c["churned_at"], as_of, rng)
    new_customers = pd.DataFrame(dict(
        customer_id=[f"N{i}" for i in range(n)], source="partner", partner_id=rng.choice(pids, n),
        acquired_at=_later(n, as_of, rng), acquisition_cost=1.0,
    ))  # fmt: skip
    no_churn = pd.Series(pd.NaT, index=new_customers.index, dtype=c["churned_at"].dtype)
    new_customers["churned_at"] = no_churn
    c = pd.concat([c, new_customers], ignore_index=True)
    if "arr" in d.columns:  # the revenue mix of late deals changes too
        later = _future(d["registered_at"], as_of)
        d.loc[later, "arr"] = d.loc[later, "arr"] * 3 + 1
        d.loc[d["deal_id"].str.startswith("F"), ["revenue_type", "arr", "attribution"]] = [
            "recurring",
            5000.0,
            "influenced",
        ]
    if "parent_partner_id" in p.columns:  # resellers joining later under existing partners
        late_joiners = p.iloc[rng.integers(0, len(p), 3)].copy()
        late_joiners["partner_id"] = [f"LATE{i}" for i in range(3)]
        late_joiners["parent_partner_id"] = rng.choice(pids, 3)
        late_joiners["joined_at"] = _later(3, as_of, rng).to_numpy()
        p = pd.concat([p, late_joiners], ignore_index=True)
    return Tables(p, d, a, s, c, _plant_certifications(tables.certifications, pids, as_of, rng))


def _plant_certifications(
    certs: pd.DataFrame | None, pids: np.ndarray, as_of: pd.Timestamp, rng: np.random.Generator
) -> pd.DataFrame | None:
    """Passes at or after as_of dropped or added (an expiry is known when the pass is)."""
    if certs is None:
        return None
    kept = certs[~(_future(certs["passed_at"], as_of) & (rng.random(len(certs)) < 0.5))]
    n = 15
    passed = _later(n, as_of, rng)
    new = pd.DataFrame(dict(
        person_id=[f"X{i}" for i in range(n)], partner_id=rng.choice(pids, n),
        certification="core-admin", specialisation="planted", passed_at=passed,
        expires_at=passed + pd.Timedelta(days=365),
    ))  # fmt: skip
    return pd.concat([kept, new], ignore_index=True)
