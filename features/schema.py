"""The data contract: the five tables a partner program exports from its PRM/CRM.

Only `partners` and `deals` are required. In memory every table is a pandas DataFrame with
string ids, tz-aware UTC timestamps (`datetime64[ns, UTC]`), float64 numbers and plain string
categories. `partners.verticals` is a list in the contract; in memory and in CSV it is one
string with the verticals joined by `|` (Parquet may store a real list; loaders normalise it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["id", "string", "category", "number", "integer", "timestamp", "list"]

PARTNER_TYPES = ("VAR", "MSP", "SI", "referral", "reseller", "distributor")
RESELL_TYPES = ("VAR", "MSP", "SI", "reseller", "distributor")
RECRUITMENT_CHANNELS = ("event", "content", "social", "webinar", "referral", "outbound", "inbound")
DEAL_KINDS = ("new", "cross_sell", "upsell", "renewal")
DEAL_STATUSES = ("submitted", "accepted", "rejected")
DEAL_OUTCOMES = ("open", "won", "lost")
ACTIVITY_KINDS = (
    "training",
    "event",
    "material_download",
    "cert_attempt",
    "cert_pass",
    "lead_registered",
    "business_review",
    "manager_contact",
)
CUSTOMER_SOURCES = ("partner", "direct")
LIST_SEPARATOR = "|"


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    references: tuple[str, str] | None = None  # (table, column) this column points to
    description: str = ""


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: tuple[Column, ...]
    key: str | None = None  # unique id column
    required: bool = False  # table must be present
    time_order: tuple[tuple[str, str], ...] = ()  # (earlier, later): later >= earlier when both set

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


PARTNERS = TableSchema(
    name="partners",
    key="partner_id",
    required=True,
    columns=(
        Column("partner_id", "id"),
        Column("name", "string"),
        Column("partner_type", "category", allowed=PARTNER_TYPES),
        Column("region", "category"),
        Column("manager_id", "id", description="the channel manager who owns the partner"),
        Column("joined_at", "timestamp"),
        Column("onboarded_at", "timestamp", nullable=True),
        Column("exited_at", "timestamp", nullable=True),
        Column("company_size", "integer", min=1, description="employees"),
        Column("market_share", "number", min=0, max=1),
        Column("verticals", "list", description="verticals served, joined by '|'"),
        Column("customer_count", "integer", min=0),
        Column("portfolio_fit", "number", min=0, max=1),
        Column("recruited_via", "category", allowed=RECRUITMENT_CHANNELS),
        Column("recruit_cost", "number", min=0),
    ),
    time_order=(("joined_at", "onboarded_at"), ("joined_at", "exited_at")),
)

DEALS = TableSchema(
    name="deals",
    key="deal_id",
    required=True,
    columns=(
        Column("deal_id", "id"),
        Column(
            "partner_id",
            "id",
            nullable=True,
            references=("partners", "partner_id"),
            description="null = direct sale",
        ),
        Column("customer_id", "id"),
        Column("product", "category"),
        Column("deal_kind", "category", allowed=DEAL_KINDS),
        Column("amount", "number", min=0),
        Column("registered_at", "timestamp"),
        Column("status", "category", allowed=DEAL_STATUSES),
        Column("decided_at", "timestamp", nullable=True),
        Column("outcome", "category", allowed=DEAL_OUTCOMES),
        Column("closed_at", "timestamp", nullable=True),
    ),
    time_order=(("registered_at", "decided_at"), ("registered_at", "closed_at")),
)

ACTIVITIES = TableSchema(
    name="activities",
    columns=(
        Column("partner_id", "id", references=("partners", "partner_id")),
        Column("occurred_at", "timestamp"),
        Column("kind", "category", allowed=ACTIVITY_KINDS),
    ),
)

SURVEYS = TableSchema(
    name="surveys",
    columns=(
        Column("partner_id", "id", references=("partners", "partner_id")),
        Column("answered_at", "timestamp"),
        Column("score", "number", min=0, max=10),
    ),
)

CUSTOMERS = TableSchema(
    name="customers",
    key="customer_id",
    columns=(
        Column("customer_id", "id"),
        Column("source", "category", allowed=CUSTOMER_SOURCES),
        Column("partner_id", "id", nullable=True, references=("partners", "partner_id")),
        Column("acquired_at", "timestamp"),
        Column("acquisition_cost", "number", min=0),
        Column("churned_at", "timestamp", nullable=True),
    ),
    time_order=(("acquired_at", "churned_at"),),
)

SCHEMAS: dict[str, TableSchema] = {
    s.name: s for s in (PARTNERS, DEALS, ACTIVITIES, SURVEYS, CUSTOMERS)
}
TABLE_NAMES = tuple(SCHEMAS)
