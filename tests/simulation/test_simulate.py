"""The simulator: contract conformance, determinism, realism, and its ground truth."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.schema import SCHEMAS, is_scheduled
from features.tables import Tables
from simulation.dynamics import KINDS, prepare, step
from simulation.program import Simulation, default_end, load_truth, simulate, write_simulation
from simulation.truth import churn_probability
from tests.conftest import SIM_END
from tierwise.errors import InvalidInput

DTYPES = {
    "id": "str",
    "string": "str",
    "category": "str",
    "list": "str",
    "number": "float64",
    "integer": "int64",
    "timestamp": "datetime64[ns, UTC]",
}
ID_PATTERNS = {
    "partner_id": r"P\d{6}",
    "deal_id": r"D\d{7}",
    "customer_id": r"C\d{7}",
    "manager_id": r"M\d{3}",
}
HORIZON = timedelta(days=90)


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    ranks = pd.Series(scores).rank().to_numpy()
    pos = labels == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _partner_events(tables: Tables) -> pd.DataFrame:
    """Signs of life: partner deal registrations and activities other than manager contact."""
    deals = tables.deals.dropna(subset=["partner_id"])
    acts = tables.activities
    assert acts is not None
    acts = acts[acts["kind"] != "manager_contact"]
    return pd.concat(
        [
            pd.DataFrame({"partner_id": deals["partner_id"], "at": deals["registered_at"]}),
            pd.DataFrame({"partner_id": acts["partner_id"], "at": acts["occurred_at"]}),
        ],
        ignore_index=True,
    )


def _churn_labels(tables: Tables, as_of: pd.Timestamp) -> pd.Series:
    """The label: formal exit in [as_of, as_of + 90d) or no sign of life in that window."""
    p = tables.partners.set_index("partner_id")
    active = p[(p["joined_at"] < as_of) & ~(p["exited_at"] < as_of)]
    events = _partner_events(tables)
    inside = events[(events["at"] >= as_of) & (events["at"] < as_of + HORIZON)]
    quiet = ~active.index.isin(inside["partner_id"])
    exits = (active["exited_at"] >= as_of) & (active["exited_at"] < as_of + HORIZON)
    return pd.Series((quiet | exits.to_numpy()).astype(int), index=active.index)


# ---- the data contract ----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_tables_have_exactly_the_schema_columns_and_dtypes(tables: Tables, name: str) -> None:
    frame = getattr(tables, name)
    schema = SCHEMAS[name]
    assert list(frame.columns) == schema.column_names
    for col in schema.columns:
        assert str(frame[col.name].dtype) == DTYPES[col.kind], col.name


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_tables_respect_nullability_allowed_values_and_ranges(tables: Tables, name: str) -> None:
    frame = getattr(tables, name)
    for col in SCHEMAS[name].columns:
        values = frame[col.name]
        if not col.nullable:
            assert values.notna().all(), col.name
        present = values.dropna()
        if col.allowed is not None:
            assert set(present) <= set(col.allowed), col.name
        if col.min is not None:
            assert (present >= col.min).all(), col.name
        if col.max is not None:
            assert (present <= col.max).all(), col.name


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_keys_are_unique_references_resolve_and_time_runs_forward(
    tables: Tables, name: str
) -> None:
    frame = getattr(tables, name)
    schema = SCHEMAS[name]
    if schema.key:
        assert frame[schema.key].is_unique
    for col in schema.columns:
        if col.references:
            table, key = col.references
            assert frame[col.name].dropna().isin(getattr(tables, table)[key]).all(), col.name
    for earlier, later in schema.time_order:
        both = frame[[earlier, later]].dropna()
        assert (both[later] >= both[earlier]).all(), (earlier, later)


def test_ids_have_the_documented_shapes(tables: Tables) -> None:
    for _, frame in tables.items():
        for col, pattern in ID_PATTERNS.items():
            if col in frame.columns:
                assert frame[col].dropna().str.fullmatch(pattern).all(), col


def test_verticals_are_joined_by_the_list_separator(tables: Tables) -> None:
    verticals = tables.partners["verticals"].str.split("|")
    assert verticals.map(len).between(1, 4).all()
    assert (verticals.map(len) == verticals.map(lambda v: len(set(v)))).all()


def test_nothing_happens_at_or_after_the_end(tables: Tables) -> None:
    end = pd.Timestamp(SIM_END)
    for name, frame in tables.items():
        for col in frame.select_dtypes("datetimetz").columns:
            if not is_scheduled(name, col):  # an expiry is planned ahead, at the pass
                assert (frame[col].dropna() < end).all(), col


# ---- determinism and arguments ----------------------------------------------------------------


def test_same_seed_same_program() -> None:
    a = simulate(partners=60, years=1, seed=3, end=SIM_END)
    b = simulate(partners=60, years=1, seed=3, end=SIM_END)
    for (name, left), (_, right) in zip(a.tables.items(), b.tables.items(), strict=True):
        pd.testing.assert_frame_equal(left, right, obj=name)
    pd.testing.assert_series_equal(a.truth.deal_acceptance, b.truth.deal_acceptance)


def test_another_seed_another_program() -> None:
    a = simulate(partners=60, years=1, seed=3, end=SIM_END)
    b = simulate(partners=60, years=1, seed=4, end=SIM_END)
    assert not a.tables.partners["joined_at"].equals(b.tables.partners["joined_at"])


def test_default_end_is_monday_midnight_utc_of_the_current_week() -> None:
    assert default_end(datetime(2026, 11, 26, 15, 30, tzinfo=UTC)) == datetime(
        2026, 11, 23, tzinfo=UTC
    )
    assert default_end(datetime(2026, 11, 23, 0, 0, tzinfo=UTC)) == datetime(
        2026, 11, 23, tzinfo=UTC
    )


def test_window_ends_at_end_and_spans_the_years(sim: Simulation) -> None:
    assert sim.end == pd.Timestamp(SIM_END)
    assert round((sim.end - sim.start).days / 365.25, 1) == 2.0
    assert sim.tables.deals["registered_at"].min() >= sim.start


@pytest.mark.parametrize(
    "kwargs",
    [
        {"partners": 0, "years": 1, "seed": 1},
        {"partners": 10, "years": 0, "seed": 1},
        {"partners": 10, "years": 1, "seed": -1},
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(InvalidInput, match=next(k for k, v in kwargs.items() if v <= 0)):
        simulate(**kwargs, end=SIM_END)


# ---- realism ----------------------------------------------------------------------------------


def test_partners_join_over_the_whole_period_and_onboard_later(sim: Simulation) -> None:
    p = sim.tables.partners
    assert (p["joined_at"] < sim.start).mean() > 0.3
    assert (p["joined_at"] > sim.start + pd.Timedelta(days=365)).sum() > 30
    onboarded = p.dropna(subset=["onboarded_at"])
    assert (onboarded["onboarded_at"] > onboarded["joined_at"]).all()
    assert set(p["partner_type"]) == {"VAR", "MSP", "SI", "referral", "reseller", "distributor"}


def test_each_manager_owns_40_to_80_partners(tables: Tables) -> None:
    assert tables.partners["manager_id"].value_counts().between(40, 80).all()


def test_every_activity_kind_occurs(tables: Tables) -> None:
    assert tables.activities is not None
    assert set(tables.activities["kind"]) == set(SCHEMAS["activities"].column("kind").allowed or ())


def test_referral_partners_register_leads_rather_than_deals(tables: Tables) -> None:
    assert tables.activities is not None
    p = tables.partners.set_index("partner_id")["partner_type"]
    referral = p == "referral"
    leads = tables.activities.loc[tables.activities["kind"] == "lead_registered", "partner_id"]
    deals = tables.deals["partner_id"].dropna()
    leads_per = leads.map(referral).value_counts() / referral.value_counts()
    deals_per = deals.map(referral).value_counts() / referral.value_counts()
    assert leads_per[True] > 3 * leads_per[False]
    assert deals_per[True] < deals_per[False] / 3


def test_direct_deals_and_customers_exist_with_their_own_economics(tables: Tables) -> None:
    assert tables.customers is not None
    d, c = tables.deals, tables.customers
    assert d["partner_id"].isna().mean() > 0.1
    assert (d.loc[d["partner_id"].isna(), "status"] == "accepted").all()
    direct, partner = c[c["source"] == "direct"], c[c["source"] == "partner"]
    assert direct["partner_id"].isna().all() and partner["partner_id"].notna().all()
    assert direct["acquisition_cost"].median() > partner["acquisition_cost"].median()
    assert direct["churned_at"].notna().mean() > partner["churned_at"].notna().mean()
    assert d["customer_id"].isin(c["customer_id"]).any()


def test_deal_lifecycle_is_coherent(tables: Tables) -> None:
    d = tables.deals
    submitted = d["status"] == "submitted"
    assert d.loc[submitted, "decided_at"].isna().all()
    assert (d.loc[submitted, "outcome"] == "open").all()
    assert d.loc[~submitted, "decided_at"].notna().all()
    assert (d.loc[d["status"] == "rejected", "outcome"] == "lost").all()
    closed = d["outcome"] != "open"
    assert d.loc[closed, "closed_at"].notna().all() and d.loc[~closed, "closed_at"].isna().all()
    assert set(d["deal_kind"]) == {"new", "cross_sell", "upsell", "renewal"}


def test_base_rates_are_plausible() -> None:
    s = simulate(partners=1500, years=2, seed=5, end=SIM_END)
    d = s.tables.deals.dropna(subset=["partner_id"])
    decided = d[d["status"] != "submitted"]
    assert 0.6 <= (decided["status"] == "accepted").mean() <= 0.8
    closed = d[(d["status"] == "accepted") & (d["outcome"] != "open")]
    assert 0.25 <= (closed["outcome"] == "won").mean() <= 0.45
    alive = s.truth.latent.history.alive
    joined = s.truth.latent.latent.join_week <= 0
    annual = 1 - alive[52][joined].sum() / alive[0][joined].sum()
    assert 0.15 <= annual <= 0.30


def test_churners_engagement_falls_before_they_churn(sim: Simulation) -> None:
    lh = sim.truth.latent
    week = lh.history.churn_week
    churners = np.nonzero(week >= 26)[0]
    assert churners.size > 10
    before = lh.history.engagement[week[churners] - 26, churners]
    at_churn = lh.history.engagement[week[churners], churners]
    assert at_churn.mean() < before.mean() - 0.2


def test_churners_show_it_in_their_activity(sim: Simulation) -> None:
    events = _partner_events(sim.tables)
    quiet = sim.truth.churned_at.dropna()
    joined = sim.tables.partners.set_index("partner_id")["joined_at"]
    quiet = quiet[(quiet > sim.start + 2 * HORIZON) & (joined[quiet.index] < quiet - 2 * HORIZON)]
    ev = events.merge(quiet.rename("quiet_at").reset_index(), on="partner_id")
    last_90 = (ev["at"] >= ev["quiet_at"] - HORIZON) & (ev["at"] < ev["quiet_at"])
    prior_90 = (ev["at"] >= ev["quiet_at"] - 2 * HORIZON) & (ev["at"] < ev["quiet_at"] - HORIZON)
    assert last_90.sum() < prior_90.sum()
    assert (ev["at"] >= ev["quiet_at"]).sum() == 0  # churned partners go quiet


def test_formal_exits_happen_and_nothing_follows_them(tables: Tables) -> None:
    p = tables.partners.dropna(subset=["exited_at"])
    assert len(p) > 5
    ev = _partner_events(tables).merge(p[["partner_id", "exited_at"]], on="partner_id")
    assert (ev["at"] >= ev["exited_at"]).sum() == 0


def test_acceptance_is_higher_for_certified_partners(tables: Tables) -> None:
    assert tables.activities is not None
    d = tables.deals.dropna(subset=["partner_id"])
    d = d[d["status"] != "submitted"].sort_values("registered_at")
    passes = tables.activities[tables.activities["kind"] == "cert_pass"]
    first = passes.groupby("partner_id")["occurred_at"].min()
    certified = d["registered_at"] > d["partner_id"].map(first)
    accepted = d["status"] == "accepted"
    assert accepted[certified].mean() > accepted[~certified].mean() + 0.05


# ---- ground truth -----------------------------------------------------------------------------


def test_deal_truth_is_aligned_with_the_partner_deals(sim: Simulation) -> None:
    truth = sim.truth.deal_acceptance
    partner_deals = sim.tables.deals.dropna(subset=["partner_id"])["deal_id"]
    assert truth.index.tolist() == partner_deals.tolist()
    assert truth.between(0, 1, inclusive="neither").all()


def test_deal_truth_matches_the_realised_decisions(sim: Simulation) -> None:
    d = sim.tables.deals.set_index("deal_id")
    decided = d.loc[sim.truth.deal_acceptance.index]
    decided = decided[decided["status"] != "submitted"]
    p = sim.truth.deal_acceptance[decided.index]
    accepted = (decided["status"] == "accepted").to_numpy().astype(int)
    assert abs(p.mean() - accepted.mean()) < 0.03
    assert _auc(accepted, p.to_numpy()) > 0.65


def test_truth_stays_out_of_the_tables(sim: Simulation, sim_dir: Path) -> None:
    for name, frame in sim.tables.items():
        assert list(frame.columns) == SCHEMAS[name].column_names
    files = {f.name for f in sim_dir.iterdir()}
    assert files == {f"{name}.parquet" for name in SCHEMAS} | {"_truth"}
    assert {f.name for f in (sim_dir / "_truth").iterdir()} == {
        "deal_acceptance.parquet",
        "latent_state.npz",
        "meta.json",
    }


def test_churn_truth_covers_the_active_partners(sim: Simulation) -> None:
    as_of = pd.Timestamp("2026-03-02", tz="UTC")
    p = sim.truth.churn_probability(as_of, 90, paths=32)
    active = _churn_labels(sim.tables, as_of)
    assert sorted(p.index) == sorted(active.index)
    assert p.between(0, 1).all()


def test_churn_truth_predicts_the_realised_label(sim: Simulation) -> None:
    as_ofs = pd.date_range("2025-09-01", "2026-07-27", freq="10W-MON", tz="UTC")
    truth = pd.concat([sim.truth.churn_probability(a, 90, paths=128) for a in as_ofs])
    labels = pd.concat([_churn_labels(sim.tables, a) for a in as_ofs])
    assert truth.index.tolist() == labels.index.tolist()
    assert labels.sum() > 20
    assert _auc(labels.to_numpy(), truth.to_numpy()) > 0.8
    assert abs(truth.mean() - labels.mean()) < 0.02


def test_churn_truth_is_deterministic(sim: Simulation) -> None:
    as_of = pd.Timestamp("2026-05-04", tz="UTC")
    a = sim.truth.churn_probability(as_of, 60, paths=16)
    b = sim.truth.churn_probability(as_of, 60, paths=16)
    pd.testing.assert_series_equal(a, b)


def test_churn_truth_ignores_everything_after_as_of(sim: Simulation) -> None:
    lh = sim.truth.latent
    as_of = pd.Timestamp("2026-05-06 12:00", tz="UTC")
    week = lh.week_of(as_of.value)
    fields = ("engagement", "satisfaction", "certs", "progress", "alive")
    later = {name: getattr(lh.history, name).copy() for name in fields}
    for values in later.values():
        values[week + 1 :] = values[week + 1 :][::-1]  # rewrite the future
    scrambled = replace(lh.history, **later)
    before = churn_probability(lh, as_of, 30, paths=16)
    after = churn_probability(replace(lh, history=scrambled), as_of, 30, paths=16)
    pd.testing.assert_series_equal(before, after)


def test_step_thins_events_by_level_and_reports_intensity_and_hazard(sim: Simulation) -> None:
    lh = sim.truth.latent
    week = lh.weeks // 2
    rows = np.arange(lh.partner_ids.size)
    latent = lh.latent.take(rows)
    prep = prepare(latent)
    full = step(lh.history.state(week, rows), latent, prep, week, np.random.default_rng(1))
    thinned = step(
        lh.history.state(week, rows),
        latent,
        prep,
        week,
        np.random.default_rng(1),
        level_scale=np.array([0.0, 0.0, 1.0]),
    )
    assert full.partner_events.sum() > 0
    assert thinned.rows.size > 0 and (thinned.kinds == KINDS.index("manager_contact")).all()
    assert thinned.partner_events.sum() == 0
    np.testing.assert_array_equal(thinned.intensity, full.intensity)  # before thinning
    active = lh.history.alive[week] & (latent.join_week <= week)
    assert (full.intensity[~active] == 0).all() and (full.hazard[~active] == 0).all()
    assert (full.hazard[active] > 0).all() and (full.hazard < 1).all()
    assert not full.churned[~active].any()


def test_churn_truth_refuses_dates_outside_the_window(sim: Simulation) -> None:
    with pytest.raises(InvalidInput, match="outside the simulated window"):
        sim.truth.churn_probability(sim.start - pd.Timedelta(days=1), 90)
    with pytest.raises(InvalidInput, match="horizon_days"):
        sim.truth.churn_probability(sim.start + pd.Timedelta(days=100), 0)


def test_truth_round_trips_through_files(sim: Simulation, sim_dir: Path) -> None:
    loaded = load_truth(sim_dir)
    pd.testing.assert_series_equal(loaded.deal_acceptance, sim.truth.deal_acceptance)
    as_of = pd.Timestamp("2026-02-02", tz="UTC")
    pd.testing.assert_series_equal(
        loaded.churn_probability(as_of, 90, paths=16),
        sim.truth.churn_probability(as_of, 90, paths=16),
    )


def test_load_truth_names_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"deal_acceptance\.parquet"):
        load_truth(tmp_path)


def test_write_simulation_as_csv(sim: Simulation, tmp_path: Path) -> None:
    write_simulation(sim, tmp_path, fmt="csv")
    deals = pd.read_csv(tmp_path / "deals.csv")
    assert len(deals) == len(sim.tables.deals)
    assert re.search(r"\+00:00$", str(deals["registered_at"].iloc[0]))


def test_write_simulation_refuses_an_unknown_format(sim: Simulation, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="xlsx"):
        write_simulation(sim, tmp_path / "out", fmt="xlsx")  # type: ignore[arg-type]
    assert not (tmp_path / "out").exists()


def test_a_long_customer_life_does_not_wrap_round_to_a_churn_before_it_began() -> None:
    """A rare exponential draw (one customer in a million, seen at 1,000,000 partners) of
    centuries overflowed int64 nanoseconds: the customer churned in 1727."""
    from types import SimpleNamespace

    from simulation.deals import _churn_times

    class LongDraws:
        def exponential(self, scale: float, size: int) -> np.ndarray:
            return np.array([40.0, 0.01, 60.0])[:size]

    end_ns = int(pd.Timestamp("2026-11-30", tz="UTC").value)
    acquired = np.full(3, end_ns - 300 * 86_400 * 10**9, dtype=np.int64)
    quality = np.array([0.0, 0.0, 3.0])
    ctx = SimpleNamespace(profiles=SimpleNamespace(latent=SimpleNamespace(quality=quality)))
    ctx.rng, ctx.end_ns = LongDraws(), end_ns
    churned = _churn_times(ctx, np.array([0, 1, 2]), acquired)  # type: ignore[arg-type]
    assert churned[0] == churned[2] == np.iinfo(np.int64).min  # NAT: beyond the end
    assert acquired[1] < churned[1] < end_ns
