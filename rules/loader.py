"""`load_rulebook`: read, validate (every problem in one pass) and compile a rulebook.

A rulebook with any problem raises `RulebookError` listing all of them, each naming file,
line, rule id and the bad value; nothing is ever half-loaded, and nothing from YAML reaches
eval/exec (conditions go through the closed grammar of `rules.conditions`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from features import registry
from rules import conditions as cnd
from rules.compile import compile_scalar, compile_vector
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
from rules.reach import shadowing
from rules.source import NodePath, Source, read_source
from rules.spec import (
    ActionSpec,
    IncentiveSpec,
    PropensitySpec,
    ScoreComponentSpec,
    SettingsSpec,
    TierPolicySpec,
    TrackSpec,
)
from tierwise.errors import Problem, RulebookError

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

SECTIONS = ("version", "description", "tier_policy", "tracks", "incentives", "scorecard",
            "actions", "settings")
DECIDED = ("tier", "tier_change", "track")


class _Check:
    """Collects problems against a Source while the rulebook is validated."""

    def __init__(self, src: Source) -> None:
        self.src = src
        self.problems: list[Problem] = list(src.problems)

    def add(self, path: NodePath, message: str, *, rule_id: str | None = None,
            value: Any = None) -> None:
        self.problems.append(self.src.problem(path, message, rule_id=rule_id, value=value))

    def model(self, cls: type[M], data: Any, path: NodePath) -> M | None:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            rule_id = data.get("id") if isinstance(data, dict) else None
            for err in exc.errors():
                loc = tuple(x for x in err["loc"] if isinstance(x, (str, int)))
                self.add((*path, *loc), _shape_message(err, loc), rule_id=_id(rule_id),
                         value=_value(err.get("input")))
            return None

    def condition(self, raw: Any, vocab: cnd.Vocabulary, path: NodePath,
                  rule_id: str) -> cnd.Condition | None:
        if raw is None:
            return None  # no condition: always holds (fallback tiers and tracks)
        issues: list[cnd.Issue] = []
        cond = cnd.parse(raw, vocab, (*path, "when"), issues)
        for issue in issues:
            self.add(issue.path, issue.message, rule_id=rule_id, value=issue.value)
        return cond


def _id(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _value(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        text = json.dumps(value, default=str)
        return text if len(text) <= 80 else text[:77] + "..."
    return value


def _shape_message(err: Any, loc: tuple[str | int, ...]) -> str:
    where = ".".join(str(x) for x in loc) or "section"
    if err["type"] == "extra_forbidden":
        return f"unknown key '{loc[-1]}'" if loc else "unknown key"
    if err["type"] == "missing":
        return f"missing required key '{where}'"
    return f"{where}: {err['msg']}"


def load_rulebook(path: str | Path | None = None) -> Rulebook:
    """Load and validate a rulebook directory (or single YAML file); all problems at once."""
    if path is None:
        from tierwise.settings import get_settings

        path = get_settings().rules_dir
    src = read_source(Path(path))
    check = _Check(src)
    if src.problems:  # YAML syntax: nothing reliable to validate further
        raise RulebookError(f"rulebook {path} cannot be read", check.problems)
    book = _build(src, check)
    if check.problems or book is None:
        n = len(check.problems)
        problems = sorted(check.problems, key=lambda p: (p.file or "", p.line or 0))
        raise RulebookError(f"rulebook {path} has {n} problem{'s' * (n != 1)}", problems)
    log.debug("loaded rulebook %s version %s (%s)", path, book.version, book.content_hash[:12])
    return book


def _build(src: Source, check: _Check) -> Rulebook | None:
    data = src.data
    for key in data:
        if key not in SECTIONS:
            hint = registry.closest(str(key), list(SECTIONS))
            check.add((key,), f"unknown section '{key}'" + (f" (did you mean '{hint}'?)"
                                                            if hint else ""), value=key)
    version = data.get("version")
    if not isinstance(version, str) or not version.strip():
        check.add(("version",), "missing or invalid 'version': write it as a quoted string, "
                  "e.g. version: \"2025.1\"", value=version)
    policy = check.model(TierPolicySpec, data.get("tier_policy") or {}, ("tier_policy",))
    settings = check.model(SettingsSpec, data.get("settings") or {}, ("settings",))
    tracks = _items(check, TrackSpec, data, "tracks", required=True)
    incentives = _items(check, IncentiveSpec, data, "incentives")
    scorecard = _items(check, ScoreComponentSpec, data, "scorecard")
    actions = _items(check, ActionSpec, data, "actions")

    tier_names = tuple(dict.fromkeys(t.id for _, tr in tracks for t in tr.tiers))
    vocab = cnd.Vocabulary.default(tier_names, tuple(tr.id for _, tr in tracks))
    built_tracks = _tracks(check, tracks, vocab)
    built_incentives = [_incentive(check, i, spec, vocab) for i, spec in incentives]
    built_actions = [_action(check, i, spec, vocab) for i, spec in actions]
    built_scorecard = [_component(check, i, spec) for i, spec in scorecard]
    for section, items in (("incentives", incentives), ("scorecard", scorecard),
                           ("actions", actions)):
        _duplicates(check, section, [(i, s.id) for i, s in items])

    if check.problems or policy is None or settings is None or not isinstance(version, str):
        return None
    content = {
        "version": version, "description": data.get("description", ""),
        "tier_policy": policy.model_dump(mode="json"),
        "settings": settings.model_dump(mode="json"),
        **{name: [s.model_dump(mode="json") for _, s in items] for name, items in (
            ("tracks", tracks), ("incentives", incentives), ("scorecard", scorecard),
            ("actions", actions))},
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    book_tracks = tuple(t for t in built_tracks if t is not None)
    book_incentives = tuple(i for i in built_incentives if i is not None)
    book_actions = tuple(a for a in built_actions if a is not None)
    book_scorecard = tuple(c for c in built_scorecard if c is not None)
    return Rulebook(
        version=version,
        content_hash=hashlib.sha256(canonical.encode()).hexdigest(),
        description=str(data.get("description", "")),
        demotion_grace=policy.demotion_grace,
        tracks=book_tracks,
        incentives=book_incentives,
        scorecard=book_scorecard,
        actions=book_actions,
        max_actions_per_partner=settings.max_actions_per_partner,
        deal_routing=DealRouting(settings.deal_routing.fast_track,
                                 settings.deal_routing.likely_reject),
        features_needed=_needed(book_tracks, book_incentives, book_scorecard, book_actions),
        source=str(src.files[0].parent if len(src.files) > 1 else src.files[0]),
    )


def _items(check: _Check, cls: type[M], data: dict[str, Any], section: str,
           required: bool = False) -> list[tuple[int, M]]:
    raw = data.get(section)
    if raw is None:
        if required:
            check.add((section,), f"missing required section '{section}'")
        return []
    if not isinstance(raw, list):
        check.add((section,), f"'{section}' must be a list", value=_value(raw))
        return []
    if required and not raw:
        check.add((section,), f"'{section}' must not be empty")
    out: list[tuple[int, M]] = []
    for i, item in enumerate(raw):
        spec = check.model(cls, item, (section, i))
        if spec is not None:
            out.append((i, spec))
    return out


def _duplicates(check: _Check, section: str, ids: Sequence[tuple[int | NodePath, str]]) -> None:
    seen: dict[str, int | NodePath] = {}
    for where, rule_id in ids:
        path = where if isinstance(where, tuple) else (section, where)
        if rule_id in seen:
            first = seen[rule_id]
            first_path = first if isinstance(first, tuple) else (section, first)
            _, line = check.src.where((*first_path, "id"))
            check.add((*path, "id"), f"duplicate id '{rule_id}' (first defined at line {line})",
                      rule_id=rule_id, value=rule_id)
        else:
            seen[rule_id] = where


def _tracks(check: _Check, tracks: list[tuple[int, TrackSpec]],
            vocab: cnd.Vocabulary) -> list[Track | None]:
    _duplicates(check, "tracks", [(i, t.id) for i, t in tracks])
    track_vocab = vocab.without(DECIDED, "tracks are decided before tiers")
    tier_vocab = vocab.without(("tier", "tier_change"), "tiers are decided by these conditions")
    conds = [check.condition(t.when, track_vocab, ("tracks", i), t.id) for i, t in tracks]
    _reach(check, "track", [(("tracks", i), t.id, t.when, c)
                            for (i, t), c in zip(tracks, conds, strict=True)])
    out: list[Track | None] = []
    for (i, spec), cond in zip(tracks, conds, strict=True):
        base = ("tracks", i, "tiers")
        _duplicates(check, "tiers", [((*base, j), t.id) for j, t in enumerate(spec.tiers)])
        tier_conds = [check.condition(t.when, tier_vocab, (*base, j), f"{spec.id}/{t.id}")
                      for j, t in enumerate(spec.tiers)]
        _reach(check, "tier", [((*base, j), f"{spec.id}/{t.id}", t.when, c)
                               for j, (t, c) in enumerate(zip(spec.tiers, tier_conds,
                                                              strict=True))])
        n = len(spec.tiers)
        tiers = tuple(
            Tier(t.id, t.description, c, compile_scalar(c), compile_vector(c), track=spec.id,
                 rank=n - 1 - j, benefits=dict(t.benefits))
            for j, (t, c) in enumerate(zip(spec.tiers, tier_conds, strict=True)))
        out.append(Track(spec.id, spec.description, cond, compile_scalar(cond),
                         compile_vector(cond), tiers=tiers))
    return out


def _reach(check: _Check, kind: str,
           rules: list[tuple[NodePath, str, Any, cnd.Condition | None]]) -> None:
    """Missing fallback, rules after the fallback, shadowed and self-contradicting rules."""
    if not rules:
        return
    last_path, last_id, last_raw, _ = rules[-1]
    if last_raw is not None and all(raw is not None for _, _, raw, _ in rules):
        check.add(last_path, f"missing fallback {kind}: the last {kind} ('{last_id}') has a "
                  f"condition, so some partners would get no {kind}; add a last {kind} "
                  "without `when`", rule_id=last_id)
    if not all(raw is None or cond is not None for _, _, raw, cond in rules):
        return  # parse problems are reported; reachability would only add noise
    found = shadowing([cond for *_, cond in rules])
    for i, by in found.items():
        path, rule_id, _, _ = rules[i]
        if by is None:
            check.add((*path, "when"), f"unreachable {kind} '{rule_id}': its conditions can "
                      "never all hold", rule_id=rule_id)
            continue
        other = rules[by][1]
        why = "has no condition" if rules[by][2] is None else "matches every partner it would"
        check.add(path, f"unreachable {kind} '{rule_id}': {kind} '{other}' comes first and "
                  f"{why} (FIRST hit wins; order {kind}s from the most to the least demanding)",
                  rule_id=rule_id, value=rule_id)


def _incentive(check: _Check, i: int, spec: IncentiveSpec,
               vocab: cnd.Vocabulary) -> Incentive | None:
    path = ("incentives", i)
    cond = check.condition(spec.when, vocab, path, spec.id)
    if spec.reward.basis is not None:
        _numeric_feature(check, spec.reward.basis, (*path, "reward", "basis"), spec.id)
    r = spec.reward
    return Incentive(spec.id, spec.description, cond, compile_scalar(cond), compile_vector(cond),
                     reward=Reward(r.type, r.amount, r.basis, r.unit))


def _action(check: _Check, i: int, spec: ActionSpec, vocab: cnd.Vocabulary) -> Action | None:
    path = ("actions", i)
    cond = check.condition(spec.when, vocab, path, spec.id)
    prop = spec.propensity
    output, invert = (prop.output, prop.invert) if isinstance(prop, PropensitySpec) else (
        prop, False)
    if output is not None and output not in cnd.MODEL_OUTPUTS:
        hint = registry.closest(output, list(cnd.MODEL_OUTPUTS))
        suffix = f"did you mean '{hint}'?" if hint else "known: " + ", ".join(cnd.MODEL_OUTPUTS)
        check.add((*path, "propensity"), f"unknown model output '{output}' ({suffix})",
                  rule_id=spec.id, value=output)
    if spec.value is not None:
        _numeric_feature(check, spec.value, (*path, "value"), spec.id)
    return Action(spec.id, spec.description, cond, compile_scalar(cond), compile_vector(cond),
                  propensity=output, invert=invert, value=spec.value, weight=spec.weight,
                  cooldown_days=spec.cooldown_days)


def _component(check: _Check, i: int, spec: ScoreComponentSpec) -> ScoreComponent:
    parts = []
    for j, part in enumerate(spec.parts):
        path = ("scorecard", i, "parts", j)
        _numeric_feature(check, part.feature, (*path, "feature"), spec.id)
        xs, ys = zip(*part.breakpoints, strict=True)
        if any(b <= a for a, b in itertools.pairwise(xs)):
            check.add((*path, "breakpoints"), f"breakpoints of {part.feature} must have "
                      f"increasing values: {list(xs)}", rule_id=spec.id, value=str(list(xs)))
        if any(not 0 <= y <= 100 for y in ys):
            check.add((*path, "breakpoints"), f"breakpoint scores of {part.feature} must be "
                      f"within 0-100: {list(ys)}", rule_id=spec.id, value=str(list(ys)))
        parts.append(ScorePart(part.feature, part.weight, tuple(xs), tuple(ys), part.missing))
    return ScoreComponent(spec.id, spec.description, spec.weight, tuple(parts))


def _numeric_feature(check: _Check, name: str, path: NodePath, rule_id: str) -> None:
    feature = registry.get(name)
    if feature is None and name not in cnd.MODEL_OUTPUTS:
        hint = registry.closest(name, [*registry.names(), *cnd.MODEL_OUTPUTS])
        check.add(path, f"unknown feature '{name}'" + (f" (did you mean '{hint}'?)" if hint
                                                       else ""), rule_id=rule_id, value=name)
    elif feature is not None and not feature.numeric:
        check.add(path, f"type mismatch: '{name}' is a {feature.kind}, a number is needed here",
                  rule_id=rule_id, value=name)


def _needed(tracks: tuple[Track, ...], incentives: tuple[Incentive, ...],
            scorecard: tuple[ScoreComponent, ...], actions: tuple[Action, ...]) -> frozenset[str]:
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
        names |= {n for n in (act.propensity, act.value) if n}
    return frozenset(names - set(DECIDED))
