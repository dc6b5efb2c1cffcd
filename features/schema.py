"""The data contract: the six tables a partner program exports from its PRM/CRM.

Only `partners` and `deals` are required, and in them only what is essential: identities, the
partner's type, manager and joined date; the deal's ids, partner, customer, amount, dates and
status/outcome. Profile attributes (size, share, verticals, customer count, fit, recruitment)
are optional columns: absent ones load as nulls and `validate` says which features and KPIs
will be empty (`Column.feeds`). Ids, names and categories have bounded lengths.

In memory every table is a pandas DataFrame with string ids, tz-aware UTC timestamps
(`datetime64[ns, UTC]`), float64 numbers and plain string categories. `partners.verticals` is
a list in the contract; in memory and in CSV it is one string with the verticals joined by `|`
(Parquet may store a real list; loaders normalise it).
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
REVENUE_TYPES = ("one_time", "recurring")
ATTRIBUTIONS = ("sourced", "influenced")
LIST_SEPARATOR = "|"
# where an imported row came from (`features.mapping_apply`): kept beside bad rows, not loaded
PROVENANCE_COLUMNS = ("source", "source_row")


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
    optional: bool = False  # the column may be absent from an export (loads as nulls)
    feeds: tuple[str, ...] = ()  # features / KPIs that are empty without it
    default: str | None = None  # fills null cells: a constant, or "=<column>" to copy one
    scheduled: bool = False  # a date planned ahead (an expiry): may lie after the data's end

    @property
    def max_length(self) -> int | None:
        """Longest text accepted (ids and categories are keys in the service database)."""
        return {"id": 64, "category": 64, "string": 200, "list": 2000}.get(self.kind)


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


def _profile(
    name: str,
    kind: Kind,
    *,
    min: float | None = None,
    max: float | None = None,
    allowed: tuple[str, ...] | None = None,
    description: str = "",
    feeds: tuple[str, ...] | None = None,
) -> Column:
    """An optional profile attribute: feeds the feature of the same name unless told otherwise."""
    return Column(
        name,
        kind,
        nullable=True,
        optional=True,
        allowed=allowed,
        min=min,
        max=max,
        description=description,
        feeds=feeds if feeds is not None else (f"feature {name}",),
    )


PARTNERS = TableSchema(
    name="partners",
    key="partner_id",
    required=True,
    columns=(
        Column("partner_id", "id"),
        Column("name", "string", optional=True, default="=partner_id"),
        Column("partner_type", "category", allowed=PARTNER_TYPES),
        Column(
            "region",
            "category",
            optional=True,
            default="unknown",
            feeds=("feature region", "KPI breakdowns by region"),
        ),
        Column("manager_id", "id", description="the channel manager who owns the partner"),
        Column("joined_at", "timestamp"),
        Column(
            "onboarded_at",
            "timestamp",
            nullable=True,
            optional=True,
            feeds=("features onboarded, days_to_onboard", "KPI avg_days_to_onboard"),
        ),
        Column(
            "exited_at",
            "timestamp",
            nullable=True,
            optional=True,
            feeds=("feature exited", "KPI partners_exited"),
        ),
        _profile("company_size", "integer", min=1, description="employees"),
        _profile("market_share", "number", min=0, max=1),
        _profile(
            "verticals",
            "list",
            description="verticals served, joined by '|'",
            feeds=("feature verticals_count",),
        ),
        _profile("customer_count", "integer", min=0),
        _profile("portfolio_fit", "number", min=0, max=1),
        _profile(
            "recruited_via",
            "category",
            allowed=RECRUITMENT_CHANNELS,
            feeds=("feature recruited_via", "KPI recruitment by channel"),
        ),
        _profile("recruit_cost", "number", min=0, feeds=("KPI avg_recruit_cost",)),
        Column(
            "parent_partner_id",
            "id",
            nullable=True,
            optional=True,
            description="the distributor a reseller buys through (two-tier distribution)",
            feeds=("features sub_resellers, sell_through_*",),
        ),
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
        Column(
            "product", "category", nullable=True, optional=True, feeds=("deal feature product",)
        ),
        Column(
            "deal_kind",
            "category",
            nullable=True,
            optional=True,
            allowed=DEAL_KINDS,
            feeds=("features expansion_share_*", "KPIs expansion_rate_*", "deal feature deal_kind"),
        ),
        Column("amount", "number", min=0),
        Column("registered_at", "timestamp"),
        Column("status", "category", allowed=DEAL_STATUSES),
        Column(
            "decided_at",
            "timestamp",
            nullable=True,
            optional=True,
            feeds=("features deals_accepted_*, acceptance_rate_*, open_pipeline",),
        ),
        Column("outcome", "category", allowed=DEAL_OUTCOMES),
        Column(
            "closed_at",
            "timestamp",
            nullable=True,
            optional=True,
            feeds=("features deals_won_*, revenue_won_*, win_rate_*", "the churn label"),
        ),
        Column(
            "revenue_type",
            "category",
            nullable=True,
            optional=True,
            allowed=REVENUE_TYPES,
            feeds=("features recurring_share_365d",),
        ),
        Column(
            "arr",
            "number",
            nullable=True,
            optional=True,
            min=0,
            description="annual recurring revenue the deal brings (0 for one-time revenue)",
            feeds=("features arr_won_365d, arr_trend",),
        ),
        Column(
            "attribution",
            "category",
            nullable=True,
            optional=True,
            allowed=ATTRIBUTIONS,
            description="sourced (the partner found the deal) or influenced (it helped close it)",
            feeds=("features sourced_revenue_365d, influenced_revenue_365d",),
        ),
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
        Column("churned_at", "timestamp", nullable=True, optional=True),
    ),
    time_order=(("acquired_at", "churned_at"),),
)

CERTIFICATIONS = TableSchema(
    name="certifications",
    columns=(
        Column("person_id", "id", description="the certified person (staff of the partner)"),
        Column("partner_id", "id", references=("partners", "partner_id")),
        Column("certification", "category", description="what was passed, e.g. admin-pro"),
        Column(
            "specialisation",
            "category",
            nullable=True,
            optional=True,
            description="the specialisation it counts toward, e.g. security",
            feeds=("feature specialisations",),
        ),
        Column("passed_at", "timestamp"),
        Column(
            "expires_at",
            "timestamp",
            nullable=True,
            optional=True,
            scheduled=True,
            description="null = never expires",
            feeds=("expiry of features certified_people, specialisations",),
        ),
    ),
    time_order=(("passed_at", "expires_at"),),
)

SCHEMAS: dict[str, TableSchema] = {
    s.name: s for s in (PARTNERS, DEALS, ACTIVITIES, SURVEYS, CUSTOMERS, CERTIFICATIONS)
}
TABLE_NAMES = tuple(SCHEMAS)


def is_scheduled(table: str, column: str) -> bool:
    """A date planned ahead (an expiry): it says nothing about where the data ends."""
    schema = SCHEMAS.get(table)
    return bool(schema and column in schema.column_names and schema.column(column).scheduled)
