"""`load_rulebook`: read, validate (every problem in one pass) and compile a rulebook.

A rulebook with any problem raises `RulebookError` listing all of them, each naming file,
line, rule id and the bad value; nothing is ever half-loaded, and nothing from YAML reaches
eval/exec (conditions go through the closed grammar of `rules.conditions`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import logging
from pathlib import Path

from features import registry
from rules import conditions as cnd
from rules.action_checks import action_reason, action_value, check_plan
from rules.budgets import Pool, build_pools, check_draw
from rules.calendar import ProgramCalendar, build_calendar, check_period_basis
from rules.checks import Checker, duplicates, numeric_feature, reach, section_items
from rules.compile import compile_condition
from rules.model import (
    Action,
    DealRouting,
    Incentive,
    Reward,
    Rulebook,
    ScoreComponent,
    ScorePart,
    Tier,
    Track,
)
from rules.propensity import LEARNED, learned_prior
from rules.registrations import build_registrations
from rules.registrations import content as registrations_content
from rules.source import Source, read_source
from rules.yaml_spec import (
    ActionSpec,
    IncentiveSpec,
    PropensitySpec,
    ScoreComponentSpec,
    SettingsSpec,
    TierPolicySpec,
    TrackSpec,
)
from tierwise.errors import RulebookError

log = logging.getLogger(__name__)

SECTIONS = (
    "version",
    "description",
    "tier_policy",
    "tracks",
    "incentives",
    "scorecard",
    "actions",
    "settings",
    "calendar",
    "budgets",
    "registrations",
)


def load_rulebook(path: str | Path | None = None) -> Rulebook:
    """Load and validate a rulebook directory (or single YAML file); all problems at once."""
    if path is None:
        from tierwise.settings import get_settings

        path = get_settings().rules_dir
    src = read_source(Path(path))
    check = Checker(src)
    if src.problems:  # YAML syntax: nothing reliable to validate further
        raise RulebookError(f"rulebook {path} cannot be read", check.problems)
    book = _build(src, check)
    if check.problems or book is None:
        n = len(check.problems)
        problems = sorted(check.problems, key=lambda p: (p.file or "", p.line or 0))
        raise RulebookError(f"rulebook {path} has {n} problem{'s' * (n != 1)}", problems)
    log.debug("loaded rulebook %s version %s (%s)", path, book.version, book.content_hash[:12])
    return book


def _build(src: Source, check: Checker) -> Rulebook | None:
    data = src.data
    for key in data:
        if key not in SECTIONS:
            hint = registry.closest(str(key), list(SECTIONS))
            check.add(
                (key,),
                f"unknown section '{key}'" + (f" (did you mean '{hint}'?)" if hint else ""),
                value=key,
            )
    version = data.get("version")
    if not isinstance(version, str) or not version.strip():
        check.add(
            ("version",),
            "missing or invalid 'version': write it as a quoted string, e.g. version: \"2025.1\"",
            value=version,
        )
    policy = check.model(TierPolicySpec, data.get("tier_policy") or {}, ("tier_policy",))
    calendar = build_calendar(check, data, policy_given="tier_policy" in data)
    settings = check.model(SettingsSpec, data.get("settings") or {}, ("settings",))
    tracks = section_items(check, TrackSpec, data, "tracks", required=True)
    incentives = section_items(check, IncentiveSpec, data, "incentives")
    scorecard = section_items(check, ScoreComponentSpec, data, "scorecard")
    actions = section_items(check, ActionSpec, data, "actions")

    tier_names = tuple(dict.fromkeys(t.id for _, tr in tracks for t in tr.tiers))
    vocab = cnd.Vocabulary.default(tier_names, tuple(tr.id for _, tr in tracks))
    built_tracks = _tracks(check, tracks, vocab)
    pools = build_pools(check, data, tier_names)
    built_incentives = [_incentive(check, i, spec, vocab) for i, spec in incentives]
    money = settings or SettingsSpec()
    built_actions = [
        _action(check, i, spec, vocab, money.currency, money.value_horizon_days)
        for i, spec in actions
    ]
    if settings is not None:
        check_plan(check, settings, [s.id for _, s in actions])
    for i, spec in incentives:
        path = ("incentives", i)
        check_period_basis(
            check, spec.period, spec.reward.basis, (*path, "reward", "basis"), spec.id
        )
        check_draw(
            check,
            path,
            spec.id,
            pool_id=spec.pool,
            period=spec.period,
            unit=spec.reward.unit,
            pools=pools,
        )
    built_scorecard = [_component(check, i, spec) for i, spec in scorecard]
    registrations = build_registrations(check, data)
    for section, items in (
        ("incentives", incentives),
        ("scorecard", scorecard),
        ("actions", actions),
    ):
        duplicates(check, section, [(i, s.id) for i, s in items])

    if check.problems or policy is None or settings is None or not isinstance(version, str):
        return None
    content = {
        "version": version,
        "description": data.get("description", ""),
        "tier_policy": policy.model_dump(mode="json"),
        "settings": settings.model_dump(mode="json"),
        **{
            name: [s.model_dump(mode="json") for _, s in items]
            for name, items in (
                ("tracks", tracks),
                ("incentives", incentives),
                ("scorecard", scorecard),
                ("actions", actions),
            )
        },
    }
    if "calendar" in data:  # absent sections leave older hashes as they were
        content["calendar"] = dataclasses.asdict(calendar)
    if "budgets" in data:
        content["budgets"] = [dataclasses.asdict(p) for p in pools]
    if registrations is not None:
        content["registrations"] = registrations_content(registrations)
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    book_tracks = tuple(t for t in built_tracks if t is not None)
    book_incentives = tuple(i for i in built_incentives if i is not None)
    book_actions = tuple(a for a in built_actions if a is not None)
    book_scorecard = tuple(c for c in built_scorecard if c is not None)
    return Rulebook(
        version=version,
        content_hash=hashlib.sha256(canonical.encode()).hexdigest(),
        description=str(data.get("description", "")),
        demotion_grace=(
            calendar.grace_reviews + 1 if "calendar" in data else policy.demotion_grace
        ),
        tracks=book_tracks,
        incentives=book_incentives,
        scorecard=book_scorecard,
        actions=book_actions,
        max_actions_per_partner=settings.max_actions_per_partner,
        deal_routing=DealRouting(
            settings.deal_routing.fast_track, settings.deal_routing.likely_reject
        ),
        features_needed=_needed(book_tracks, book_incentives, book_scorecard, book_actions)
        | _calendar_needs(calendar, pools),
        source=str(src.files[0].parent if len(src.files) > 1 else src.files[0]),
        currency=settings.currency,
        value_horizon_days=settings.value_horizon_days,
        slots_per_partner=settings.plan.slots_per_partner,
        action_caps=dict(settings.plan.action_caps),
        calendar=calendar,
        budgets=tuple(pools),
        registrations=registrations,
    )


def _calendar_needs(calendar: ProgramCalendar, pools: list[Pool]) -> frozenset[str]:
    """Features the calendar (anniversary reviews) and the pools' ranking read."""
    names = {"tenure_days"} if calendar.tier_review == "anniversary" else set()
    for pool in pools:
        names |= pool.features()
    return frozenset(names)


def _tracks(
    check: Checker, tracks: list[tuple[int, TrackSpec]], vocab: cnd.Vocabulary
) -> list[Track | None]:
    duplicates(check, "tracks", [(i, t.id) for i, t in tracks])
    track_vocab = vocab.without(cnd.DECIDED, "tracks are decided before tiers")
    tier_vocab = vocab.without(
        ("tier", "tier_change"), "tiers are decided by these conditions"
    ).without(("track",), "a tier already belongs to one track")
    conds = [check.condition(t.when, track_vocab, ("tracks", i), t.id) for i, t in tracks]
    reach(
        check,
        "track",
        [(("tracks", i), t.id, t.when, c) for (i, t), c in zip(tracks, conds, strict=True)],
    )
    out: list[Track | None] = []
    for (i, spec), cond in zip(tracks, conds, strict=True):
        base = ("tracks", i, "tiers")
        duplicates(check, "tiers", [((*base, j), t.id) for j, t in enumerate(spec.tiers)])
        tier_conds = [
            check.condition(t.when, tier_vocab, (*base, j), f"{spec.id}/{t.id}")
            for j, t in enumerate(spec.tiers)
        ]
        reach(
            check,
            "tier",
            [
                ((*base, j), f"{spec.id}/{t.id}", t.when, c)
                for j, (t, c) in enumerate(zip(spec.tiers, tier_conds, strict=True))
            ],
        )
        n = len(spec.tiers)
        tiers = tuple(
            Tier(
                t.id,
                t.description,
                c,
                compile_condition(c, "tier", f"{spec.id}/{t.id}"),
                track=spec.id,
                rank=n - 1 - j,
                benefits=dict(t.benefits),
            )
            for j, (t, c) in enumerate(zip(spec.tiers, tier_conds, strict=True))
        )
        out.append(
            Track(
                spec.id,
                spec.description,
                cond,
                compile_condition(cond, "track", spec.id),
                tiers=tiers,
            )
        )
    return out


def _incentive(
    check: Checker, i: int, spec: IncentiveSpec, vocab: cnd.Vocabulary
) -> Incentive | None:
    path = ("incentives", i)
    cond = check.condition(spec.when, vocab, path, spec.id)
    if spec.reward.basis is not None:
        numeric_feature(check, spec.reward.basis, (*path, "reward", "basis"), spec.id)
    r = spec.reward
    return Incentive(
        spec.id,
        spec.description,
        cond,
        compile_condition(cond, "incentive", spec.id),
        reward=Reward(r.type, r.amount, r.basis, r.unit),
        period=spec.period,
        pool=spec.pool,
    )


def _action(
    check: Checker,
    i: int,
    spec: ActionSpec,
    vocab: cnd.Vocabulary,
    currency: str,
    horizon_days: int,
) -> Action | None:
    path = ("actions", i)
    cond = check.condition(spec.when, vocab, path, spec.id)
    prop = spec.propensity
    output, invert = (
        (prop.output, prop.invert) if isinstance(prop, PropensitySpec) else (prop, False)
    )
    prior = learned_prior(check, spec, path)
    if prior is not None or output == LEARNED:
        output = None
    if output is not None and output not in cnd.MODEL_OUTPUTS:
        hint = registry.closest(output, list(cnd.MODEL_OUTPUTS))
        suffix = f"did you mean '{hint}'?" if hint else "known: " + ", ".join(cnd.MODEL_OUTPUTS)
        check.add(
            (*path, "propensity"),
            f"unknown model output '{output}' ({suffix})",
            rule_id=spec.id,
            value=output,
        )
    expr = action_value(check, spec, path, currency, horizon_days)
    return Action(
        spec.id,
        spec.description,
        cond,
        compile_condition(cond, "action", spec.id),
        propensity=output,
        invert=invert,
        prior=prior,
        value=expr.text if expr is not None else None,
        weight=spec.weight,
        cooldown_days=spec.cooldown_days,
        title=spec.title or spec.description,
        reason=action_reason(check, spec, path),
        value_expr=expr,
        value_unit=currency,
        horizon_days=horizon_days,
    )


def _component(check: Checker, i: int, spec: ScoreComponentSpec) -> ScoreComponent:
    parts = []
    for j, part in enumerate(spec.parts):
        path = ("scorecard", i, "parts", j)
        numeric_feature(check, part.feature, (*path, "feature"), spec.id)
        xs, ys = zip(*part.breakpoints, strict=True)
        if any(b <= a for a, b in itertools.pairwise(xs)):
            check.add(
                (*path, "breakpoints"),
                f"breakpoints of {part.feature} must have increasing values: {list(xs)}",
                rule_id=spec.id,
                value=str(list(xs)),
            )
        if any(not 0 <= y <= 100 for y in ys):
            check.add(
                (*path, "breakpoints"),
                f"breakpoint scores of {part.feature} must be within 0-100: {list(ys)}",
                rule_id=spec.id,
                value=str(list(ys)),
            )
        parts.append(ScorePart(part.feature, part.weight, tuple(xs), tuple(ys), part.missing))
    return ScoreComponent(spec.id, spec.description, spec.weight, tuple(parts))


def _needed(
    tracks: tuple[Track, ...],
    incentives: tuple[Incentive, ...],
    scorecard: tuple[ScoreComponent, ...],
    actions: tuple[Action, ...],
) -> frozenset[str]:
    names: set[str] = set()
    for track in tracks:
        names |= cnd.names_in(track.when)
        for tier in track.tiers:
            names |= cnd.names_in(tier.when)
    for inc in incentives:
        names |= cnd.names_in(inc.when)
        if inc.reward.basis:
            names.add(inc.reward.basis)
    for comp in scorecard:
        names |= {p.feature for p in comp.parts}
    for act in actions:
        names |= cnd.names_in(act.when)
        names |= {n for n in (act.propensity,) if n}
        if act.value_expr is not None:
            names |= act.value_expr.names
        if act.reason is not None:
            names |= set(act.reason.fields) - {"partner", "value"}
    return frozenset(names - set(cnd.DECIDED))
