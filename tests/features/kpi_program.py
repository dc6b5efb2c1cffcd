"""A tiny hand-built partner program for the KPI tests, with answers worked out by hand.


as_of = 2024-07-01, so the default period is [2024-04-02, 2024-07-01) (90 days: Jun 30 + May 31
+ Apr 29) and the window before it is [2024-01-03, 2024-04-02).

Partners (joined, onboarded, exited, channel, recruit cost):
  P1 VAR/EMEA      2023-01-10 2023-02-09 -          event     1000
  P2 MSP/EMEA      2024-04-10 2024-05-10 -          webinar   2000   new in the period
  P3 referral/NA   2024-05-01 2024-05-21 -          event      500   new in the period
  P4 VAR/NA        2023-06-01 2023-07-01 2024-05-15 referral   800   exits in the period
  P5 SI/NA         2023-03-01 2023-04-01 -          outbound  1200   goes quiet
  P6 reseller/APAC 2024-08-01 -          -          event     9999   joins after as_of
  P7 VAR/EMEA      2022-01-01 2022-02-01 2023-12-01 inbound    700   exited before the period
Deals, activities, surveys and customers are listed below with what each is there to test.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

import pandas as pd

from features.kpi_metrics import KPIS
from features.tables import Tables

AS_OF = datetime(2024, 7, 1, tzinfo=UTC)

PARTNER_COLS = [
    "partner_id",
    "partner_type",
    "region",
    "joined_at",
    "onboarded_at",
    "exited_at",
    "recruited_via",
    "recruit_cost",
]
PARTNERS = [
    ("P1", "VAR", "EMEA", "2023-01-10", "2023-02-09", None, "event", 1000.0),
    ("P2", "MSP", "EMEA", "2024-04-10", "2024-05-10", None, "webinar", 2000.0),
    ("P3", "referral", "NA", "2024-05-01", "2024-05-21", None, "event", 500.0),
    ("P4", "VAR", "NA", "2023-06-01", "2023-07-01", "2024-05-15", "referral", 800.0),
    ("P5", "SI", "NA", "2023-03-01", "2023-04-01", None, "outbound", 1200.0),
    ("P6", "reseller", "APAC", "2024-08-01", None, None, "event", 9999.0),
    ("P7", "VAR", "EMEA", "2022-01-01", "2022-02-01", "2023-12-01", "inbound", 700.0),
]
DEAL_COLS = [
    "deal_id",
    "partner_id",
    "customer_id",
    "deal_kind",
    "amount",
    "registered_at",
    "status",
    "decided_at",
    "outcome",
    "closed_at",
]
DEALS = [
    ("D0", "P1", "C3", "new", 3000.0, "2023-03-01", "accepted", "2023-03-05", "won", "2023-04-01"),
    ("D1", "P1", "C1", "new", 10000.0, "2024-04-05", "accepted", "2024-04-10", "won", "2024-05-05"),
    (
        "D2",
        "P1",
        "C3",
        "cross_sell",
        20000.0,
        "2024-05-01",
        "accepted",
        "2024-05-03",
        "won",
        "2024-06-01",
    ),
    (
        "D3",
        "P2",
        "C2",
        "upsell",
        6000.0,
        "2024-04-25",
        "rejected",
        "2024-04-28",
        "lost",
        "2024-04-28",
    ),
    ("D4", "P3", "C20", "new", 4000.0, "2024-06-10", "submitted", None, "open", None),
    # won on 07-10, after as_of: at as_of it is accepted and still open
    ("D5", "P1", "C21", "new", 8000.0, "2024-06-20", "accepted", "2024-06-25", "won", "2024-07-10"),
    ("D6", "P4", "C4", "new", 5000.0, "2024-01-15", "accepted", "2024-01-20", "won", "2024-03-01"),
    ("D7", "P1", "C22", "new", 99999.0, "2024-07-05", "submitted", None, "open", None),
    # decided on 07-02, after as_of: undecided at as_of
    ("D8", "P1", "C23", "new", 2000.0, "2024-06-28", "accepted", "2024-07-02", "open", None),
    (
        "X1",
        None,
        "C6",
        "upsell",
        15000.0,
        "2024-04-15",
        "accepted",
        "2024-04-15",
        "won",
        "2024-05-15",
    ),
    ("X2", None, "C7", "new", 9000.0, "2024-05-01", "accepted", "2024-05-01", "won", "2024-06-01"),
    (
        "X3",
        None,
        "C9",
        "cross_sell",
        7000.0,
        "2024-03-01",
        "accepted",
        "2024-03-01",
        "lost",
        "2024-04-10",
    ),
    (
        "X4",
        None,
        "C9",
        "upsell",
        3000.0,
        "2024-06-01",
        "accepted",
        "2024-06-01",
        "won",
        "2024-06-20",
    ),
]
ACTIVITIES = [
    ("P1", "2024-04-20", "material_download"),
    ("P1", "2024-05-10", "training"),
    ("P1", "2024-05-11", "cert_attempt"),
    ("P1", "2024-05-12", "cert_pass"),
    ("P2", "2024-05-20", "lead_registered"),
    ("P2", "2024-06-05", "event"),
    ("P2", "2024-06-06", "cert_attempt"),
    ("P2", "2024-07-03", "material_download"),  # after as_of
    ("P3", "2024-05-05", "manager_contact"),
    ("P4", "2024-04-10", "material_download"),  # P4 has left by as_of
    ("P5", "2024-02-15", "training"),  # the window before the period
    ("P5", "2024-05-01", "manager_contact"),  # the manager's doing, not the partner's
]
SURVEYS = [
    ("P1", "2024-01-01", 2.0),  # before the period
    ("P1", "2024-05-01", 8.0),
    ("P2", "2024-06-01", 6.0),
    ("P4", "2024-04-05", 1.0),
    ("P3", "2024-07-02", 10.0),  # after as_of
]
CUSTOMER_COLS = [
    "customer_id",
    "source",
    "partner_id",
    "acquired_at",
    "acquisition_cost",
    "churned_at",
]
CUSTOMERS = [
    ("C1", "partner", "P1", "2024-04-20", 300.0, None),
    ("C2", "partner", "P2", "2024-05-15", 500.0, None),
    ("C3", "partner", "P1", "2023-06-01", 200.0, None),
    ("C4", "partner", "P4", "2023-09-01", 250.0, "2024-05-20"),
    ("C5", "partner", "P1", "2023-10-01", 150.0, "2024-01-01"),
    ("C6", "direct", None, "2024-04-15", 900.0, None),
    ("C7", "direct", None, "2024-06-01", 1500.0, None),
    ("C8", "direct", None, "2024-08-01", 5000.0, None),  # after as_of
    ("C9", "direct", None, "2023-01-01", 1000.0, None),
    ("C10", "direct", None, "2023-02-01", 1100.0, "2024-08-01"),  # churns after as_of
    ("C11", "direct", None, "2023-03-01", 1200.0, "2024-06-15"),
]


def frame(rows: Sequence[tuple[object, ...]], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    for col in columns:
        if col.endswith("_at"):
            frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


def program() -> Tables:
    """The hand-built program with every column of the data contract."""
    partners = frame(PARTNERS, PARTNER_COLS)
    n = len(partners)
    partners = partners.assign(
        name=[f"Partner {i}" for i in range(n)],
        manager_id="M1",
        company_size=50,
        market_share=0.1,
        verticals="retail|health",
        customer_count=10,
        portfolio_fit=0.5,
    )
    deals = frame(DEALS, DEAL_COLS).assign(product="core")
    activities = frame(ACTIVITIES, ["partner_id", "occurred_at", "kind"])
    surveys = frame(SURVEYS, ["partner_id", "answered_at", "score"])
    customers = frame(CUSTOMERS, CUSTOMER_COLS)
    return Tables(partners, deals, activities, surveys, customers)


TREND_METRICS = len(KPIS) - 1  # every metric but quota_attainment has a monthly trend


def svgs(html: str, cls: str) -> list[str]:
    """The inline SVG charts of one class ("trend" or "bars") in a rendered report."""
    return re.findall(rf'<svg class="{cls}".*?</svg>', html, flags=re.S)
