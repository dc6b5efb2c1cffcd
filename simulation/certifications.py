"""Simulated certifications: each certification pass (the `cert_pass` activity) is one person
of the partner passing one certification of the catalogue, valid for a while, then lapsing
unless the person passes it again.

    person_id    partner_id  certification          specialisation  passed_at   expires_at
    P000012-S03  P000012     security-specialist    security        2025-03-04  2027-03-04

Staff certify from a pool that grows with the company (√employees, 1–30 people); the
catalogue a partner certifies in follows its type (MSPs in managed services and security,
integrators in integration and architecture, resellers in sales and the core product).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulation.dynamics import DAY_NS
from simulation.partners import Profiles
from simulation.tables import labels, times

# certification, specialisation ("" = none), validity in days
CATALOGUE = (
    ("sales-foundations", "", 730),
    ("core-admin", "core", 730),
    ("security-specialist", "security", 730),
    ("analytics-specialist", "analytics", 730),
    ("integration-architect", "integrations", 1095),
    ("managed-services-operator", "managed_services", 365),
    ("enterprise-architect", "enterprise", 1095),
)
# rows: VAR, MSP, SI, referral, reseller, distributor (PARTNER_TYPES order); columns: CATALOGUE
TYPE_MIX = np.array(
    [
        [0.30, 0.30, 0.15, 0.10, 0.05, 0.05, 0.05],
        [0.05, 0.20, 0.25, 0.05, 0.05, 0.35, 0.05],
        [0.05, 0.10, 0.10, 0.20, 0.30, 0.05, 0.20],
        [0.70, 0.20, 0.05, 0.05, 0.00, 0.00, 0.00],
        [0.45, 0.35, 0.10, 0.05, 0.00, 0.05, 0.00],
        [0.40, 0.25, 0.10, 0.05, 0.05, 0.05, 0.10],
    ]
)


def staff_pool(size: np.ndarray) -> np.ndarray:
    """How many people of each partner ever certify."""
    return np.clip(np.round(np.sqrt(size)), 1, 30).astype(np.int64)


def certifications_frame(
    passes: tuple[np.ndarray, np.ndarray],
    prof: Profiles,
    partner_ids: pd.Series,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """One row per certification pass (`simulation.tables.cert_passes`), ordered by time."""
    partner, at = passes
    order = np.argsort(at, kind="stable")
    partner, at = partner[order], at[order]
    n = partner.size
    pool = staff_pool(prof.size)[partner]
    person = np.minimum((rng.random(n) * pool).astype(np.int64), pool - 1) + 1
    cum = TYPE_MIX.cumsum(axis=1)[prof.type_idx[partner]]
    cert = np.minimum((rng.random(n)[:, None] > cum).sum(axis=1), len(CATALOGUE) - 1)
    valid_days = np.array([days for _, _, days in CATALOGUE], dtype=np.int64)[cert]
    specialisation = labels(tuple(s for _, s, _ in CATALOGUE), cert)
    pid = labels(partner_ids, partner)
    return pd.DataFrame(
        {
            "person_id": pid + "-S" + pd.Series(person).astype("str").str.zfill(2),
            "partner_id": pid,
            "certification": labels(tuple(c for c, _, _ in CATALOGUE), cert),
            "specialisation": specialisation.where(specialisation != "", None),
            "passed_at": times(at),
            "expires_at": times(at + valid_days * DAY_NS),
        }
    )
