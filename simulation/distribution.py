"""Two-tier distribution in the simulator: resellers (and some VARs) buy through a
distributor of their region that was in the program before them (`parent_partner_id`).

A distributor's sub-resellers and their sell-through are then what the tables say: the
children's own joins, exits and won deals.
"""

from __future__ import annotations

import numpy as np

from features.schema import PARTNER_TYPES
from simulation.partners import Profiles

# share of each type that buys through a distributor (when one is there to buy through)
UNDER_DISTRIBUTOR = {"reseller": 0.75, "VAR": 0.30}
DISTRIBUTOR = PARTNER_TYPES.index("distributor")


def assign_parents(prof: Profiles, rng: np.random.Generator) -> np.ndarray:
    """Each partner's parent index (-1: none): a distributor of its region that joined
    earlier, by preference a larger one."""
    parent = np.full(prof.n, -1, dtype=np.int64)
    distributors = np.flatnonzero(prof.type_idx == DISTRIBUTOR)
    share = np.zeros(prof.n)
    for name, p in UNDER_DISTRIBUTOR.items():
        share[prof.type_idx == PARTNER_TYPES.index(name)] = p
    wants = rng.random(prof.n) < share
    u = rng.random(prof.n)
    for region in np.unique(prof.region_idx):
        mine = distributors[prof.region_idx[distributors] == region]
        mine = mine[np.argsort(prof.joined_ns[mine], kind="stable")]
        children = np.flatnonzero(wants & (prof.region_idx == region))
        if not (mine.size and children.size):
            continue
        earlier = np.searchsorted(prof.joined_ns[mine], prof.joined_ns[children], "left")
        cum = np.cumsum(np.sqrt(prof.size[mine].astype(np.float64)))
        ok = earlier > 0
        target = u[children[ok]] * cum[earlier[ok] - 1]
        pick = np.minimum(np.searchsorted(cum, target, "right"), earlier[ok] - 1)
        parent[children[ok]] = mine[pick]
    return parent
