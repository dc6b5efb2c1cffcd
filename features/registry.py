"""The feature registry: every feature the feature frame carries, declared once.

The rules engine asks it whether a feature exists and what type it is; the CLI
(`tierwise features list`) and the docs list it; models record its version.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Literal

FeatureKind = Literal["number", "category", "boolean"]
WINDOWS = (30, 90, 365)

# Columns of every feature frame that identify a row; they are not features.
KEY_COLUMNS = ("partner_id", "as_of", "manager_id")


@dataclass(frozen=True)
class Feature:
    name: str
    kind: FeatureKind
    unit: str  # "days", "count", "USD", "ratio", "score", "employees", "" …
    table: str  # the table it needs; absent table → the feature is missing (NaN)
    description: str

    @property
    def numeric(self) -> bool:
        return self.kind == "number"


def _windowed(base: str, unit: str, table: str, text: str) -> list[Feature]:
    return [
        Feature(f"{base}_{w}d", "number", unit, table, f"{text} in the last {w} days")
        for w in WINDOWS
    ]


# The declarations keep one or two lines each: easier to scan than the formatter's layout.
# fmt: off
_PROFILE = [
    Feature("partner_type", "category", "", "partners",
            "VAR, MSP, SI, referral, reseller or distributor"),
    Feature("region", "category", "", "partners", "sales region"),
    Feature("recruited_via", "category", "", "partners", "recruitment channel"),
    Feature("tenure_days", "number", "days", "partners", "days since the partner joined"),
    Feature("onboarded", "boolean", "", "partners", "onboarding finished before as_of"),
    Feature("days_to_onboard", "number", "days", "partners", "days from joining to onboarded"),
    Feature("exited", "boolean", "", "partners", "formally exited the program before as_of"),
    Feature("company_size", "number", "employees", "partners", "employees"),
    Feature("market_share", "number", "ratio", "partners", "share of its market (0-1)"),
    Feature("verticals_count", "number", "count", "partners", "verticals served"),
    Feature("portfolio_fit", "number", "ratio", "partners", "fit of its portfolio with ours (0-1)"),
    Feature("customer_count", "number", "count", "partners", "customers the partner reports"),
]

_DEALS = [
    *_windowed("deals_registered", "count", "deals", "Deal registrations submitted"),
    *_windowed("deals_accepted", "count", "deals", "Registrations accepted (by decision date)"),
    *_windowed("deals_won", "count", "deals", "Deals won (by close date)"),
    *_windowed("revenue_won", "USD", "deals", "Revenue of deals won (by close date)"),
    *_windowed("avg_deal_value", "USD", "deals", "Average amount of registered deals"),
    *_windowed("acceptance_rate", "ratio", "deals",
               "Accepted / decided registrations (missing when none decided)"),
    *_windowed("win_rate", "ratio", "deals", "Won / closed deals (missing when none closed)"),
    *_windowed("avg_sales_cycle_days", "days", "deals",
               "Average days from registration to win, for deals won"),
    *_windowed("expansion_share", "ratio", "deals",
               "Share of registrations that are cross-sell or upsell"),
    Feature("open_pipeline", "number", "USD", "deals",
            "Amount of accepted registrations still open"),
    Feature("deals_won_total", "number", "count", "deals", "Deals won since joining"),
    Feature("arr_won_365d", "number", "USD", "deals",
            "Annual recurring revenue of deals won in the last 365 days"),
    Feature("arr_trend", "number", "ratio", "deals",
            "ARR won in the last 365 days / the 365 before (1 = flat; missing if those had none)"),
    Feature("recurring_share_365d", "number", "ratio", "deals",
            "Share of the revenue won in 365 days that is recurring (missing when none won)"),
    Feature("sourced_revenue_365d", "number", "USD", "deals",
            "Revenue won in 365 days on deals the partner sourced"),
    Feature("influenced_revenue_365d", "number", "USD", "deals",
            "Revenue won in 365 days on deals the partner influenced"),
    Feature("sub_resellers", "number", "count", "partners",
            "Resellers under this partner (parent_partner_id) in the program at as_of"),
    Feature("sell_through_365d", "number", "USD", "deals",
            "Revenue the sub-resellers won in the last 365 days (a distributor's sell-through)"),
    Feature("days_since_last_deal", "number", "days", "deals",
            "Days since the last registration (missing when none)"),
    Feature("deals_registered_trend", "number", "ratio", "deals",
            "Registrations in the last 90 days / the 90 before (missing if those had none)"),
    Feature("revenue_won_trend", "number", "ratio", "deals",
            "Revenue won in the last 90 days / the 90 before (missing if those had none)"),
    *[
        Feature(f"{stem}_{suffix}", "number", unit, "deals",
                f"{text} since the start of the program {period}")
        for suffix, period in (("mtd", "month"), ("qtd", "quarter"), ("ytd", "year"))
        for stem, unit, text in (("revenue_won", "USD", "Revenue of deals won"),
                                 ("deals_won", "count", "Deals won"))
    ],
]

_ACTIVITIES = [
    *_windowed("leads_registered", "count", "activities", "Leads registered"),
    *_windowed("trainings_attended", "count", "activities", "Trainings attended"),
    *_windowed("events_attended", "count", "activities", "Events attended"),
    *_windowed("materials_downloaded", "count", "activities", "Materials downloaded"),
    *_windowed("cert_attempts", "count", "activities", "Certification attempts"),
    *_windowed("cert_passes", "count", "activities", "Certifications passed"),
    *_windowed("manager_contacts", "count", "activities", "Contacts by the channel manager"),
    *_windowed("business_reviews", "count", "activities", "Business reviews held"),
    Feature("certified_staff", "number", "count", "activities",
            "Certifications passed since joining (certified staff to date)"),
    Feature("days_since_last_activity", "number", "days", "activities",
            "Days since the last activity of any kind (missing when none)"),
    Feature("days_since_last_manager_contact", "number", "days", "activities",
            "Days since the channel manager last contacted the partner (missing when never)"),
    Feature("activity_trend", "number", "ratio", "activities",
            "Activities in the last 90 days / the 90 before (missing if those had none)"),
    Feature("leads_trend", "number", "ratio", "activities",
            "Leads in the last 90 days / the 90 before (missing if those had none)"),
]

_CERTIFICATIONS = [
    Feature("certified_people", "number", "count", "certifications",
            "People with a certification in force at as_of (expired ones do not count)"),
    Feature("specialisations", "number", "count", "certifications",
            "Distinct specialisations with a certification in force at as_of"),
    Feature("certifications_active", "number", "count", "certifications",
            "Certifications in force at as_of (one person's two count twice)"),
]

_SURVEYS = [
    Feature("satisfaction_latest", "number", "score", "surveys", "Latest survey score (0-10)"),
    Feature("satisfaction_avg_365d", "number", "score", "surveys",
            "Average survey score in the last 365 days"),
    Feature("surveys_answered_365d", "number", "count", "surveys", "Surveys answered in 365 days"),
]

_CUSTOMERS = [
    Feature("customers_sourced", "number", "count", "customers",
            "Customers the partner brought in, to date"),
    Feature("customers_sourced_365d", "number", "count", "customers",
            "Customers the partner brought in during the last 365 days"),
    Feature("customer_retention", "number", "ratio", "customers",
            "Share of partner-sourced customers not churned (missing when none)"),
]

# Where the partner stands and its recency-frequency summary (`features.lifecycle`).
_LIFECYCLE = [
    Feature("lifecycle_status", "category", "", "partners",
            "new (joined < 90 days ago), active (a sign of life in the last 90 days), "
            "lapsed (in the program 90+ days and quiet for 90+ days) or exited"),
    Feature("days_since_last_sign_of_life", "number", "days", "deals",
            "Days since the last registration or partner activity (missing when none)"),
    Feature("signs_of_life_90d", "number", "count", "deals",
            "Registrations and partner activities in the last 90 days"),
    Feature("rf_frequency", "number", "count", "deals",
            "Repeat signs of life: registrations and partner activities after the first"),
    Feature("rf_recency_days", "number", "days", "deals",
            "Days from the first sign of life to the last (0 when at most one)"),
    Feature("rf_age_days", "number", "days", "deals",
            "Days from the first sign of life to as_of (the tenure when none yet)"),
    Feature("rf_monetary", "number", "USD", "deals",
            "Average amount of the deals registered to date (missing when none)"),
]
# fmt: on

FEATURES: dict[str, Feature] = {
    f.name: f
    for f in (
        *_PROFILE,
        *_LIFECYCLE,
        *_DEALS,
        *_ACTIVITIES,
        *_SURVEYS,
        *_CUSTOMERS,
        *_CERTIFICATIONS,
    )
}


def get(name: str) -> Feature | None:
    return FEATURES.get(name)


def closest(name: str, candidates: list[str] | None = None) -> str | None:
    """The closest known feature name, for "did you mean" messages."""
    pool = candidates if candidates is not None else list(FEATURES)
    match = difflib.get_close_matches(name, pool, n=1, cutoff=0.5)
    return match[0] if match else None


def names(kind: FeatureKind | None = None) -> list[str]:
    return [f.name for f in FEATURES.values() if kind is None or f.kind == kind]


def registry_version() -> str:
    """Content hash of the declarations: changes whenever a feature is added or redefined."""
    payload = json.dumps([asdict(f) for f in FEATURES.values()], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]
