"""Which registry features a program's data cannot provide: its table is absent, or the
column the feature is built from is empty (an export without the optional profile columns).

    unavailable_features(tables)  # {"company_size": "partners.company_size is empty", ...}

`tierwise rules check --data DIR` warns about every rule that reads one of them.
"""

from __future__ import annotations

from fnmatch import fnmatch

import pandas as pd

from features import registry
from features.schema import SCHEMAS
from features.tables import Tables

# feature name (pattern) -> the contract column it is built from, when that column is optional
FEATURE_COLUMNS = {
    "region": ("partners", "region"),
    "recruited_via": ("partners", "recruited_via"),
    "onboarded": ("partners", "onboarded_at"),
    "days_to_onboard": ("partners", "onboarded_at"),
    "exited": ("partners", "exited_at"),
    "company_size": ("partners", "company_size"),
    "market_share": ("partners", "market_share"),
    "verticals_count": ("partners", "verticals"),
    "customer_count": ("partners", "customer_count"),
    "portfolio_fit": ("partners", "portfolio_fit"),
    "deals_accepted_*": ("deals", "decided_at"),
    "acceptance_rate_*": ("deals", "decided_at"),
    "open_pipeline": ("deals", "decided_at"),
    "deals_won_*": ("deals", "closed_at"),
    "revenue_won_*": ("deals", "closed_at"),
    "win_rate_*": ("deals", "closed_at"),
    "avg_sales_cycle_days_*": ("deals", "closed_at"),
    "expansion_share_*": ("deals", "deal_kind"),
    "arr_*": ("deals", "arr"),
    "recurring_share_365d": ("deals", "revenue_type"),
    "sourced_revenue_365d": ("deals", "attribution"),
    "influenced_revenue_365d": ("deals", "attribution"),
    "sub_resellers": ("partners", "parent_partner_id"),
    "sell_through_365d": ("partners", "parent_partner_id"),
    "specialisations": ("certifications", "specialisation"),
}


def empty_columns(tables: Tables) -> set[tuple[str, str]]:
    """(table, column) of every optional column with no value (or only its default)."""
    out = set()
    for name, frame in tables.items():
        for col in SCHEMAS[name].columns:
            if col.optional and col.name in frame.columns and _empty(frame[col.name], col.default):
                out.add((name, col.name))
    return out


def _empty(values: pd.Series, default: str | None) -> bool:
    blank = values.isna()
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        text = values.astype("str").str.strip()
        blank |= text == ""
        if default is not None and not default.startswith("="):
            blank |= text == default
    return bool(blank.all())


def unavailable_features(tables: Tables) -> dict[str, str]:
    """Feature name -> why the data cannot provide it."""
    present, empty = tables.present(), empty_columns(tables)
    out = {}
    for feature in registry.FEATURES.values():
        if feature.table not in present:
            out[feature.name] = f"the data has no {feature.table} table"
            continue
        for pattern, (table, column) in FEATURE_COLUMNS.items():
            if fnmatch(feature.name, pattern) and (table, column) in empty:
                out[feature.name] = f"{table}.{column} is empty"
                break
    return out
