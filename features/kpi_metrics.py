"""The program metrics, declared once (`KPIS`) and computed for one window of time.

Definitions (every window is half-open, `[start, end)`, and `end` is the report's as_of):

- *in the program at t*: joined before t and not exited before t.
- *went quiet*: in the program at the window start, not exited during it, registered a deal or
  did an activity (manager contacts do not count; activities only when that table is present)
  in the window of the same length just before, and nothing during the window.
- *partner churn rate*: (exited during the window + went quiet) / in the program at its start
  = the *exit rate* (exited / at start) + the *dormancy rate* (went quiet / at start): a
  partner that left and one that stopped selling call for different actions.
- *time to recruit*: joining → first deal registration (when a recruit starts selling), for the
  partners whose first registration fell in the window. *Time to onboard*: joining →
  onboarded, for the partners onboarded in the window.
- success metrics are on partner deals (partner_id set), each counted by the date of the fact:
  registrations by registered_at, acceptance by decided_at, wins and losses by closed_at.
  The win rate is on accepted registrations: a rejected registration closed as lost was never
  the partner's to win, so it is not a loss.
- enablement shares divide by the partners in the program at the window end.
- profitability compares the partner channel with direct sales: customers by `source`, deals
  by whether `partner_id` is set. CAC is the customers' recorded `acquisition_cost` (partner
  recruit costs are reported under recruitment, not spread over customers). CAC with program
  costs adds what the program itself paid in the window (commissions, MDF and other incentives
  from the incentive ledger: `program_costs`, passed in by the caller — features do not read
  the ledger) to the partner customers' acquisition costs. Retention: of the customers at the
  window start, the share not churned by its end.
- break-downs (partner type, region) compute every metric on one group's partners; direct
  deals and customers belong to no group, so their metrics are None there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from features.kpi_frames import ALL_TABLES, DAY_NS, Flags, Floats, Frames, Ints, Window, kind_of

Family = Literal["recruitment", "success", "enablement", "profitability"]
Value = float | int | None
FAMILIES: tuple[Family, ...] = ("recruitment", "success", "enablement", "profitability")
DEFAULT_EXPIRY_DAYS = 90  # a registration with no outcome this long after it expires
_P, _D, _A, _S, _C = ALL_TABLES


@dataclass(frozen=True)
class ProgramCosts:
    """What the program itself paid (commissions, MDF, bonuses), dated: ``at`` (UTC, ns) and
    ``amount`` per row — e.g. the incentive ledger's weekly accruals at their week's Monday."""

    at: np.ndarray  # int64 ns since the epoch
    amount: np.ndarray  # float64

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> ProgramCosts:
        at = pd.to_datetime(frame["at"], utc=True)
        return cls(
            at.to_numpy(dtype="datetime64[ns]").astype(np.int64),
            pd.to_numeric(frame["amount"]).to_numpy(dtype=np.float64),
        )

    def within(self, w: Window) -> float:
        return float(self.amount[w.holds(self.at)].sum())


@dataclass(frozen=True)
class Kpi:
    name: str
    family: Family
    unit: str  # count, ratio, USD, days, score
    tables: tuple[str, ...]  # the tables it needs; any of them absent → the value is None
    description: str


_CATALOG = [
    Kpi(
        "total_partners",
        "recruitment",
        "count",
        (_P,),
        "Partners in the program at as_of (joined before it, not exited)",
    ),
    Kpi("new_partners", "recruitment", "count", (_P,), "Partners who joined during the period"),
    Kpi(
        "quota_attainment",
        "recruitment",
        "ratio",
        (_P,),
        "New partners / the recruitment quota (n/a without a quota)",
    ),
    Kpi(
        "partner_churn_rate",
        "recruitment",
        "ratio",
        (_P, _D),
        "(Exited + went quiet during the period) / partners in the program at its start "
        "= exit rate + dormancy rate",
    ),
    Kpi(
        "partner_exit_rate",
        "recruitment",
        "ratio",
        (_P,),
        "Partners who exited during the period / partners in the program at its start",
    ),
    Kpi(
        "partner_dormancy_rate",
        "recruitment",
        "ratio",
        (_P, _D),
        "Partners who went quiet during the period / partners in the program at its start",
    ),
    Kpi("partners_exited", "recruitment", "count", (_P,), "Partners who exited during the period"),
    Kpi(
        "partners_went_quiet",
        "recruitment",
        "count",
        (_P, _D),
        "Partners with a deal or an activity in the previous period and none in this one "
        "(manager contacts do not count: a partner only the manager talks to went quiet)",
    ),
    Kpi(
        "avg_recruit_cost",
        "recruitment",
        "USD",
        (_P,),
        "Average recruit cost of the partners who joined during the period",
    ),
    Kpi(
        "avg_days_to_recruit",
        "recruitment",
        "days",
        (_P, _D),
        "Average days from joining to the first deal registration, for first registrations "
        "in the period",
    ),
    Kpi(
        "avg_days_to_onboard",
        "recruitment",
        "days",
        (_P,),
        "Average days from joining to onboarded, for partners onboarded in the period",
    ),
    Kpi(
        "registered_deals",
        "success",
        "count",
        (_D,),
        "Partner deal registrations submitted during the period",
    ),
    Kpi(
        "avg_deal_value",
        "success",
        "USD",
        (_D,),
        "Average amount of the partner registrations submitted during the period",
    ),
    Kpi(
        "acceptance_rate",
        "success",
        "ratio",
        (_D,),
        "Accepted / decided, for partner registrations decided during the period",
    ),
    Kpi(
        "win_rate",
        "success",
        "ratio",
        (_D,),
        "% closed won: won / (won + lost), for accepted partner registrations closed during "
        "the period (a rejected registration is not a loss)",
    ),
    Kpi(
        "avg_sales_cycle_days",
        "success",
        "days",
        (_D,),
        "Average days from registration to close, for partner deals won during the period",
    ),
    Kpi(
        "partner_revenue_won",
        "success",
        "USD",
        (_D,),
        "Amount of the partner deals won during the period",
    ),
    Kpi(
        "registrations_expired_unworked",
        "success",
        "count",
        (_D,),
        "Accepted partner registrations whose expiry (registered + the rulebook's expiry "
        "days) fell in the period with no outcome by then: protected, never worked",
    ),
    Kpi(
        "expired_unworked_rate",
        "success",
        "ratio",
        (_D,),
        "Registrations expired unworked / accepted registrations whose expiry fell in the period",
    ),
    Kpi(
        "partners_registering_leads_30d",
        "success",
        "ratio",
        (_P, _D),
        "Share of partners in the program with a deal registration or a registered lead "
        "in the 30 days before as_of",
    ),
    Kpi(
        "partners_registering_leads_90d",
        "success",
        "ratio",
        (_P, _D),
        "Share of partners in the program with a deal registration or a registered lead "
        "in the 90 days before as_of",
    ),
    Kpi(
        "partners_using_materials",
        "enablement",
        "ratio",
        (_P, _A),
        "Share of partners in the program who downloaded materials during the period",
    ),
    Kpi(
        "partners_attending_training",
        "enablement",
        "ratio",
        (_P, _A),
        "Share of partners in the program who attended a training or an event",
    ),
    Kpi(
        "avg_satisfaction",
        "enablement",
        "score",
        (_S,),
        "Average score (0-10) of the surveys answered during the period",
    ),
    Kpi(
        "partners_attempting_certification",
        "enablement",
        "ratio",
        (_P, _A),
        "Share of partners in the program who attempted a certification during the period",
    ),
    Kpi(
        "partners_completing_certification",
        "enablement",
        "ratio",
        (_P, _A),
        "Share of partners in the program who passed a certification during the period",
    ),
    Kpi(
        "cac_partner",
        "profitability",
        "USD",
        (_C,),
        "Average acquisition cost of partner-sourced customers acquired during the period",
    ),
    Kpi(
        "cac_partner_with_program",
        "profitability",
        "USD",
        (_C,),
        "(Acquisition cost of the partner-sourced customers acquired during the period + the "
        "program's own costs in it: commissions, MDF, bonuses from the incentive ledger) / "
        "those customers; n/a without program costs",
    ),
    Kpi(
        "cac_direct",
        "profitability",
        "USD",
        (_C,),
        "Average acquisition cost of direct customers acquired during the period",
    ),
    Kpi(
        "retention_partner",
        "profitability",
        "ratio",
        (_C,),
        "Partner-sourced customers at the period start still customers at as_of",
    ),
    Kpi(
        "retention_direct",
        "profitability",
        "ratio",
        (_C,),
        "Direct customers at the period start still customers at as_of",
    ),
    Kpi(
        "expansion_rate_partner",
        "profitability",
        "ratio",
        (_D,),
        "Cross-sell + upsell share of the partner deals won during the period",
    ),
    Kpi(
        "expansion_rate_direct",
        "profitability",
        "ratio",
        (_D,),
        "Cross-sell + upsell share of the direct deals won during the period",
    ),
]
KPIS: dict[str, Kpi] = {k.name: k for k in _CATALOG}


def compute(
    frames: Frames,
    window: Window,
    *,
    quota: int | None,
    expiry_days: int = DEFAULT_EXPIRY_DAYS,
    program_costs: ProgramCosts | None = None,
) -> dict[str, Value]:
    """Every KPI for one window, in catalog order; None where a needed table is absent.
    ``program_costs``: what the program paid, dated (`ProgramCosts`); None → CAC with
    program costs is None."""
    values: dict[str, Value] = {
        **_recruitment(frames, window, quota),
        **_success(frames, window),
        **_expired_unworked(frames, window, expiry_days),
        **_enablement(frames, window),
        **_profitability(frames, window, program_costs),
    }
    for kpi in _CATALOG:
        if not frames.present.issuperset(kpi.tables):
            values[kpi.name] = None
    return {name: values[name] for name in KPIS}


def channel_breakdown(frames: Frames, window: Window) -> pd.DataFrame:
    """Per recruitment channel: partners in the program, their share, new partners, cost."""
    p = frames.partner_frame
    members = p[frames.partners.in_program(window.end)]
    new = p[window.holds(frames.partners.joined)]
    out = pd.DataFrame(
        {
            "partners": members.groupby("recruited_via").size(),
            "new_partners": new.groupby("recruited_via").size(),
            "avg_recruit_cost": new.groupby("recruited_via")["recruit_cost"].mean(),
        },
        columns=["partners", "new_partners", "avg_recruit_cost"],
    )
    out[["partners", "new_partners"]] = out[["partners", "new_partners"]].fillna(0).astype(int)
    total = int(out["partners"].sum())
    out.insert(1, "share", out["partners"] / total if total else float("nan"))
    out.index.name = "channel"
    return out.sort_values(["partners", "new_partners"], ascending=False, kind="stable")


def _recruitment(f: Frames, w: Window, quota: int | None) -> dict[str, Value]:
    p = f.partners
    at_start = p.in_program(w.start)
    new = w.holds(p.joined)
    exited = at_start & w.holds(p.exited)
    quiet = at_start & ~exited & _busy(f, w.previous) & ~_busy(f, w)
    onboarded = w.holds(p.onboarded)
    first_deal = w.holds(p.first_deal)
    return {
        "total_partners": int(p.in_program(w.end).sum()),
        "new_partners": int(new.sum()),
        "quota_attainment": None if quota is None else _ratio(int(new.sum()), quota),
        "partner_churn_rate": _ratio(int(exited.sum() + quiet.sum()), int(at_start.sum())),
        "partner_exit_rate": _ratio(int(exited.sum()), int(at_start.sum())),
        "partner_dormancy_rate": _ratio(int(quiet.sum()), int(at_start.sum())),
        "partners_exited": int(exited.sum()),
        "partners_went_quiet": int(quiet.sum()),
        "avg_recruit_cost": _mean(p.recruit_cost[new]),
        "avg_days_to_recruit": _mean((p.first_deal - p.joined)[first_deal] / DAY_NS),
        "avg_days_to_onboard": _mean((p.onboarded - p.joined)[onboarded] / DAY_NS),
    }


def _success(f: Frames, w: Window) -> dict[str, Value]:
    d = f.deals
    ours = d.pid >= 0
    registered = w.span(d.registered)
    amounts = d.amount[registered][ours[registered]]
    decided = ours & w.holds(d.decided) & (d.accepted | d.rejected)
    closed = ours & w.holds(d.closed) & (d.won | d.lost) & ~d.rejected  # rejected: no loss
    won = closed & d.won
    return {
        "registered_deals": len(amounts),
        "avg_deal_value": _mean(amounts),
        "acceptance_rate": _ratio(int((decided & d.accepted).sum()), int(decided.sum())),
        "win_rate": _ratio(int(won.sum()), int(closed.sum())),
        "avg_sales_cycle_days": _mean((d.closed - d.registered)[won] / DAY_NS),
        "partner_revenue_won": float(d.amount[won].sum()),
        "partners_registering_leads_30d": _lead_share(f, w.end, days=30),
        "partners_registering_leads_90d": _lead_share(f, w.end, days=90),
    }


def _expired_unworked(f: Frames, w: Window, expiry_days: int) -> dict[str, Value]:
    """Accepted registrations reaching their expiry in the window, and those with no outcome
    by then. Only facts before each expiry count (decided and closed before it)."""
    d = f.deals
    expiry = d.registered + expiry_days * DAY_NS
    due = (d.pid >= 0) & d.accepted & w.holds(expiry) & (d.decided < expiry)
    unworked = due & ~(d.closed < expiry)
    return {
        "registrations_expired_unworked": int(unworked.sum()),
        "expired_unworked_rate": _ratio(int(unworked.sum()), int(due.sum())),
    }


def _enablement(f: Frames, w: Window) -> dict[str, Value]:
    members = f.partners.in_program(w.end)
    a, s = f.activities, f.surveys
    recent = w.span(a.occurred)
    pids, kinds = a.pid[recent], a.kind[recent]

    def share(*names: str) -> Value:
        doers = _flag(f.n_partners, pids[kind_of(kinds, *names)])
        return _ratio(int((members & doers).sum()), int(members.sum()))

    return {
        "partners_using_materials": share("material_download"),
        "partners_attending_training": share("training", "event"),
        "avg_satisfaction": _mean(s.score[w.span(s.answered)]),
        "partners_attempting_certification": share("cert_attempt"),
        "partners_completing_certification": share("cert_pass"),
    }


def _profitability(f: Frames, w: Window, costs: ProgramCosts | None) -> dict[str, Value]:
    c, d = f.customers, f.deals
    acquired = w.holds(c.acquired)
    cohort = (c.acquired < w.start.value) & ~(c.churned < w.start.value)
    retained = cohort & ~(c.churned < w.end.value)
    won = w.holds(d.closed) & d.won
    via_partner = d.pid >= 0
    out: dict[str, Value] = {}
    for channel, customers_of, deals_of in (
        ("partner", c.via_partner, via_partner),
        ("direct", c.direct, ~via_partner),
    ):
        out[f"cac_{channel}"] = _mean(c.cost[acquired & customers_of])
        out[f"retention_{channel}"] = _ratio(
            int((retained & customers_of).sum()), int((cohort & customers_of).sum())
        )
        out[f"expansion_rate_{channel}"] = _ratio(
            int((won & deals_of & d.expansion).sum()), int((won & deals_of).sum())
        )
    partner_customers = acquired & c.via_partner
    out["cac_partner_with_program"] = (
        None
        if costs is None or not partner_customers.any()
        else (float(np.nansum(c.cost[partner_customers])) + costs.within(w))
        / int(partner_customers.sum())
    )
    return out


def _busy(f: Frames, w: Window) -> Flags:
    """Per partner: registered a deal or did something (not a manager contact) in the window."""
    d, a = f.deals, f.activities
    done = w.span(a.occurred)
    doers = a.pid[done][~kind_of(a.kind[done], "manager_contact")]
    return _flag(f.n_partners, d.pid[w.span(d.registered)]) | _flag(f.n_partners, doers)


def _lead_share(f: Frames, end: pd.Timestamp, *, days: int) -> Value:
    """Share of partners in the program at `end` with a registration/lead in the `days` before."""
    w = Window(end - pd.Timedelta(days=days), end)
    d, a = f.deals, f.activities
    done = w.span(a.occurred)
    leads = _flag(f.n_partners, d.pid[w.span(d.registered)]) | _flag(
        f.n_partners, a.pid[done][kind_of(a.kind[done], "lead_registered")]
    )
    members = f.partners.in_program(end)
    return _ratio(int((members & leads).sum()), int(members.sum()))


def _flag(n: int, pids: Ints) -> Flags:
    """A per-partner flag: True for the partners among `pids` (-1 = no partner, ignored)."""
    out = np.zeros(n, dtype=bool)
    out[pids[pids >= 0]] = True
    return out


def _ratio(num: int, den: int) -> float | None:
    return None if not den else num / den


def _mean(values: Floats) -> float | None:
    values = values[~np.isnan(values)]
    return None if values.size == 0 else float(values.mean())
