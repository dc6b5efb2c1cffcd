"""Shared fixtures: one small simulated program per test session.

The frames are shared by every test in the session: copy before you modify
(`tables.deals.copy()`), never change them in place.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from features.tables import Tables
from simulation.program import Simulation, simulate, write_simulation

SIM_PARTNERS = 300
SIM_YEARS = 2.0
SIM_SEED = 7
SIM_END = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday, 00:00 UTC


@pytest.fixture(scope="session")
def sim() -> Simulation:
    """300 partners x 2 years ending Monday 2026-11-23 (seed 7), with its ground truth."""
    return simulate(partners=SIM_PARTNERS, years=SIM_YEARS, seed=SIM_SEED, end=SIM_END)


@pytest.fixture(scope="session")
def tables(sim: Simulation) -> Tables:
    """The five tables of `sim` (shared: do not modify in place)."""
    return sim.tables


@pytest.fixture(scope="session")
def sim_dir(sim: Simulation, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sim` written once as Parquet (+ `_truth/`) to a temporary directory."""
    return write_simulation(sim, tmp_path_factory.mktemp("sim"))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make `--dist loadgroup` group again: pytest-xdist tags a grouped test's id with
    `@<group>` by setting `item._nodeid`, which pytest 9.2 no longer reads (its id is the
    structured `item._id`), so `xdist_group` tests were spread over every worker."""
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodeid import NodeId

    for item in items:
        marks = item.iter_markers("xdist_group")
        names = sorted(
            {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in marks}
        )
        suffix = "@" + "_".join(names)
        if names and not item.nodeid.endswith(suffix):
            item._id = NodeId.parse(item.nodeid + suffix)  # type: ignore[attr-defined]


def missing(component: str, why: str) -> None:
    """Skip a test whose component is absent, or fail it when CI requires the component.

    `.ci/run` sets TIERWISE_REQUIRE_PG=1 and TIERWISE_REQUIRE_BROWSER=1: there a missing
    PostgreSQL server or Chromium is a failure, never a silent skip.
    """
    import os

    if os.environ.get(f"TIERWISE_REQUIRE_{component}", "") not in ("", "0"):
        pytest.fail(f"{why} (TIERWISE_REQUIRE_{component} is set)", pytrace=False)
    pytest.skip(why)
