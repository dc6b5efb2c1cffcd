"""A transaction-only program: partners and deal registrations, nothing else.

What a retailer's purchase log or a young PRM export looks like once reshaped into Tierwise's
contract — no activities, surveys or customers. The partners live the same simulated lives
(activities still lift their engagement); the tables just do not show them. The churn label
then counts registrations only, which the simulator's churn truth (it counts activities) does
not match, so training evaluates no churn oracle on such a program; the deal truth holds.
"""

from __future__ import annotations

from dataclasses import replace

from features.tables import Tables
from simulation.program import Simulation


def transactions_only(sim: Simulation) -> Simulation:
    """The same simulation with only the partners and deals tables."""
    tables = Tables(partners=sim.tables.partners, deals=sim.tables.deals)
    return replace(sim, tables=tables)
