"""The service's stored registrations and decisions as labelled deal-model examples.

The service stores every scored registration (`deal_registrations`: the deal's attributes,
what it answered) and PRM systems report the vendor's decisions (`deal_decisions`). Training
with `--registrations-db URL` joins them by deal id into the deals table before the deal
examples are built:

- a deal already in the data takes the reported decision as its label (`status`,
  `decided_at`): a registration still `submitted` in the export becomes a labelled example,
  and a decision the PRM corrected wins over the export;
- a decided registration the data does not have is appended as a deal row (its stored
  attributes, registered_at, partner and customer), so the one deal-feature builder computes
  its features point in time like any other;
- scored registrations without a decision are no label and are left out; an appended one
  needs its partner_id and customer_id (else it is skipped and counted).

What the service *said* (eligibility, likelihood) is not made a feature: the model would then
learn from its own past answers. `load_stored(url)` reads the two tables (I/O);
`with_stored_decisions(deals, stored)` is pure.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa

from tierwise.errors import InvalidInput

log = logging.getLogger(__name__)

STORED_COLUMNS = (
    "deal_id",
    "partner_id",
    "customer_id",
    "registered_at",
    "amount",
    "product",
    "deal_kind",
    "decision",
    "decided_at",
)
_QUERY = """
SELECT d.deal_id, r.partner_id, r.customer_id, r.registered_at, r.deal, r.scored_at,
       d.decision, d.decided_at, d.partner_id AS decision_partner_id
FROM deal_decisions d
LEFT JOIN deal_registrations r ON r.deal_id = d.deal_id
"""


@dataclass(frozen=True)
class StoredJoin:
    deals: pd.DataFrame
    relabelled: int  # deals of the data whose label the stored decision set or changed
    appended: int  # decided registrations the data did not have
    skipped: int  # decided but unusable (no stored registration, partner or customer)

    def params(self) -> dict[str, int]:
        return {
            "stored_relabelled": self.relabelled,
            "stored_appended": self.appended,
            "stored_skipped": self.skipped,
        }


def load_stored(url: str) -> pd.DataFrame:
    """Every reported decision with its latest stored registration (`STORED_COLUMNS`)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = set(sa.inspect(conn).get_table_names())
            missing = {"deal_decisions", "deal_registrations"} - names
            if missing:
                raise InvalidInput(
                    f"{_safe(url)} has no {', '.join(sorted(missing))} table: is it the "
                    "service database, migrated (`tierwise db upgrade`)?"
                )
            rows = conn.execute(sa.text(_QUERY)).mappings().all()
    finally:
        engine.dispose()
    return _frame([dict(r) for r in rows])


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    raw = pd.DataFrame(rows, columns=[*_QUERY_COLUMNS])
    raw = raw.sort_values("scored_at", na_position="first").drop_duplicates("deal_id", keep="last")
    deal = raw["deal"].map(_attributes)
    out = pd.DataFrame(
        {
            "deal_id": raw["deal_id"].astype("string"),
            "partner_id": raw["partner_id"].fillna(raw["decision_partner_id"]).astype("string"),
            "customer_id": raw["customer_id"].astype("string"),
            "registered_at": pd.to_datetime(raw["registered_at"], utc=True),
            "amount": pd.to_numeric(deal.map(lambda d: d.get("amount")), errors="coerce"),
            "product": deal.map(lambda d: d.get("product")).astype("string"),
            "deal_kind": deal.map(lambda d: d.get("deal_kind")).astype("string"),
            "decision": raw["decision"].astype("string"),
            "decided_at": pd.to_datetime(raw["decided_at"], utc=True),
        }
    )
    return out.reset_index(drop=True)


def _attributes(value: object) -> dict[str, Any]:
    """The stored deal attributes: JSON text (SQLite) or already a dict (PostgreSQL JSONB)."""
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, dict) else {}


_QUERY_COLUMNS = (
    "deal_id",
    "partner_id",
    "customer_id",
    "registered_at",
    "deal",
    "scored_at",
    "decision",
    "decided_at",
    "decision_partner_id",
)


def with_stored_decisions(deals: pd.DataFrame, stored: pd.DataFrame) -> StoredJoin:
    """The deals table with the stored decisions as labels and the missing decided
    registrations appended (pure; `deals` is not changed)."""
    stored = stored[stored["decision"].isin(["accepted", "rejected"])]
    known = stored["deal_id"].isin(deals["deal_id"])
    out = deals.copy()
    label = stored[known].set_index("deal_id")
    rows = out["deal_id"].isin(label.index)
    at = out.loc[rows, "deal_id"]
    before = out.loc[rows, "status"].astype("string").to_numpy()
    out.loc[rows, "status"] = at.map(label["decision"]).to_numpy()
    if "decided_at" in out.columns:
        decided = at.map(label["decided_at"])
        out.loc[rows, "decided_at"] = decided.astype(out["decided_at"].dtype).to_numpy()
    relabelled = int((before != out.loc[rows, "status"].astype("string").to_numpy()).sum())
    new = stored[~known]
    usable = new["partner_id"].notna() & new["customer_id"].notna() & new["registered_at"].notna()
    usable &= new["amount"].notna()
    appended = _as_deals(new[usable], out)
    skipped = int((~usable).sum())
    if skipped:
        log.warning("%d stored decisions have no usable stored registration: skipped", skipped)
    frame = pd.concat([out, appended], ignore_index=True) if len(appended) else out
    return StoredJoin(frame, relabelled, len(appended), skipped)


def _as_deals(new: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """Decided registrations as rows of the deals table (its columns and dtypes)."""
    rejected = new["decision"] == "rejected"
    rows = pd.DataFrame(
        {
            "deal_id": new["deal_id"],
            "partner_id": new["partner_id"],
            "customer_id": new["customer_id"],
            "product": new["product"],
            "deal_kind": new["deal_kind"],
            "amount": new["amount"],
            "registered_at": new["registered_at"],
            "status": new["decision"],
            "decided_at": new["decided_at"],
            "outcome": rejected.map({True: "lost", False: "open"}),
            "closed_at": new["decided_at"].where(rejected),
        }
    )
    rows = rows.reindex(columns=like.columns)
    return rows.astype(like.dtypes.to_dict()).reset_index(drop=True)


def _safe(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)
