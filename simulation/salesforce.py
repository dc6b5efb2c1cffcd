"""The simulated program as standard Salesforce object exports (`simulate --format salesforce`).

    Account.csv      partner accounts (IsPartner true) and the customer accounts of deals
    Opportunity.csv  every deal: AccountId = customer, PartnerAccountId = partner (empty: direct)
    Lead.csv         lead registrations (PartnerAccountId)
    Task.csv         calls, content downloads, certification attempts and passes (WhatId)
    Event.csv        trainings, partner events, business reviews (WhatId)
    Certification__c.csv  certifications held by partner contacts (a custom object)

The picklist values (Type, StageName, AccountSource, Industry) are the ones
`mappings/salesforce-prm.yaml` maps back; importing these files with it gives the simulated
tables again, except what Salesforce's standard fields cannot hold (the mapping's comments
list it). Surveys and customers have no standard object here and are not written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from features.tables import Tables

ACCOUNT_TYPES = {
    "VAR": "Value Added Reseller",
    "MSP": "Managed Service Provider",
    "SI": "System Integrator",
    "referral": "Referral Partner",
    "reseller": "Reseller",
    "distributor": "Distributor",
}
COUNTRIES = {"AMER": "United States", "EMEA": "Germany", "APAC": "Singapore", "LATAM": "Brazil"}
INDUSTRIES = {
    "healthcare": "Healthcare",
    "finance": "Finance",
    "retail": "Retail",
    "manufacturing": "Manufacturing",
    "public_sector": "Government",
    "education": "Education",
    "technology": "Technology",
    "energy": "Energy",
}
ACCOUNT_SOURCES = {
    "event": "Trade Show",
    "content": "Web",
    "social": "Social Media",
    "webinar": "Webinar",
    "referral": "Partner Referral",
    "outbound": "Outbound",
    "inbound": "Phone Inquiry",
}
OPPORTUNITY_TYPES = {
    "new": "New Business",
    "cross_sell": "Existing Customer - Cross-Sell",
    "upsell": "Existing Customer - Upgrade",
    "renewal": "Renewal",
}
TASK_TYPES = {
    "manager_contact": "Call",
    "material_download": "Content Download",
    "cert_attempt": "Certification Exam",
    "cert_pass": "Certification Passed",
}
EVENT_TYPES = {
    "training": "Training",
    "event": "Partner Event",
    "business_review": "Business Review",
}
REVENUE_TYPES = {"one_time": "One-Time", "recurring": "Recurring"}
ATTRIBUTIONS = {"sourced": "Partner Sourced", "influenced": "Partner Influenced"}
OPEN_STAGE = "Negotiation/Review"
EXPECTED_CLOSE_DAYS = 90  # CloseDate of an open opportunity: its expected close


def salesforce_objects(tables: Tables) -> dict[str, pd.DataFrame]:
    """The object exports, as Salesforce's data export writes them (text cells)."""
    objects = {"Account": accounts(tables), "Opportunity": opportunities(tables.deals)}
    if tables.activities is not None:
        objects.update(activity_objects(tables.activities))
    if tables.certifications is not None:
        objects["Certification__c"] = certification_objects(tables.certifications)
    return objects


def write_salesforce(tables: Tables, directory: str | Path) -> list[Path]:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in salesforce_objects(tables).items():
        path = out / f"{name}.csv"
        frame.to_csv(path, index=False)
        written.append(path)
    return written


def datetime_text(values: pd.Series) -> pd.Series:
    """Salesforce's export format: 2026-01-31T09:15:00.000Z (milliseconds, UTC)."""
    return values.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"


def date_text(values: pd.Series) -> pd.Series:
    return values.dt.tz_convert("UTC").dt.strftime("%Y-%m-%d")


def _flag(values: pd.Series | np.ndarray) -> np.ndarray:
    return np.where(np.asarray(values, dtype=bool), "true", "false")


def accounts(tables: Tables) -> pd.DataFrame:
    p = tables.partners
    partners = pd.DataFrame(
        {
            "Id": p["partner_id"],
            "Name": p["name"],
            "IsPartner": "true",
            "Type": p["partner_type"].map(ACCOUNT_TYPES),
            "Industry": p["verticals"].str.split("|").str[0].map(INDUSTRIES),
            "NumberOfEmployees": p["company_size"].astype("Int64").astype("str"),
            "BillingCountry": p["region"].map(COUNTRIES),
            "AccountSource": p["recruited_via"].map(ACCOUNT_SOURCES),
            "OwnerId": p["manager_id"],
            "CreatedDate": datetime_text(p["joined_at"]),
            "ParentId": p.get("parent_partner_id"),
        }
    )
    d = tables.deals
    first = d.groupby("customer_id", sort=True)["registered_at"].min()
    customers = pd.DataFrame(
        {
            "Id": first.index.astype("str"),
            "Name": "Customer " + first.index.astype("str"),
            "IsPartner": "false",
            "Type": "Customer",
            "CreatedDate": datetime_text(first.reset_index(drop=True)).to_numpy(),
        }
    )
    return pd.concat([partners, customers], ignore_index=True)


def opportunities(deals: pd.DataFrame) -> pd.DataFrame:
    stage = np.select(
        [
            deals["status"] == "submitted",
            deals["status"] == "rejected",
            deals["outcome"] == "won",
            deals["outcome"] == "lost",
        ],
        ["Registration Submitted", "Registration Rejected", "Closed Won", "Closed Lost"],
        default=OPEN_STAGE,
    )
    closed = deals["closed_at"].notna()
    expected = deals["registered_at"] + pd.Timedelta(days=EXPECTED_CLOSE_DAYS)
    return pd.DataFrame(
        {
            "Id": deals["deal_id"],
            "Name": deals["customer_id"] + " - " + deals["product"].fillna("deal"),
            "AccountId": deals["customer_id"],
            "PartnerAccountId": deals["partner_id"],
            "Amount": deals["amount"],
            "StageName": stage,
            "IsClosed": _flag(closed),
            "IsWon": _flag(deals["outcome"] == "won"),
            "Type": deals["deal_kind"].map(OPPORTUNITY_TYPES),
            "CreatedDate": datetime_text(deals["registered_at"]),
            "CloseDate": date_text(deals["closed_at"].where(closed, expected)),
            **_revenue_fields(deals),
        }
    )


def _revenue_fields(deals: pd.DataFrame) -> dict[str, pd.Series]:
    """Custom fields for the revenue mix (no standard Opportunity field holds it)."""
    if "revenue_type" not in deals:
        return {}
    return {
        "Revenue_Type__c": deals["revenue_type"].map(REVENUE_TYPES),
        "ARR__c": deals["arr"],
        "Attribution__c": deals["attribution"].map(ATTRIBUTIONS),
    }


def certification_objects(certs: pd.DataFrame) -> pd.DataFrame:
    """Certification__c: one record per certification a partner contact passed."""
    return pd.DataFrame(
        {
            "Id": [f"a0C{i:012d}" for i in range(1, len(certs) + 1)],
            "Contact__c": certs["person_id"].to_numpy(),
            "Account__c": certs["partner_id"].to_numpy(),
            "Name": certs["certification"].to_numpy(),
            "Specialization__c": certs["specialisation"].to_numpy(),
            "Passed_Date__c": datetime_text(certs["passed_at"]).to_numpy(),
            "Expiration_Date__c": datetime_text(certs["expires_at"]).to_numpy(),
        }
    )


def activity_objects(activities: pd.DataFrame) -> dict[str, pd.DataFrame]:
    a = activities.reset_index(drop=True)
    leads = a.loc[a["kind"] == "lead_registered"]
    out = {
        "Lead": pd.DataFrame(
            {
                "Id": [f"00Q{i:012d}" for i in range(1, len(leads) + 1)],
                "PartnerAccountId": leads["partner_id"].to_numpy(),
                "CreatedDate": datetime_text(leads["occurred_at"]).to_numpy(),
                "Status": "Open - Not Contacted",
            }
        )
    }
    for name, types, prefix in (("Task", TASK_TYPES, "00T"), ("Event", EVENT_TYPES, "00U")):
        rows = a.loc[a["kind"].isin(list(types))]
        out[name] = pd.DataFrame(
            {
                "Id": [f"{prefix}{i:012d}" for i in range(1, len(rows) + 1)],
                "WhatId": rows["partner_id"].to_numpy(),
                "ActivityDate": date_text(rows["occurred_at"]).to_numpy(),
                "Type": rows["kind"].map(types).to_numpy(),
                "Subject": rows["kind"].map(types).to_numpy(),
            }
        )
    return out
