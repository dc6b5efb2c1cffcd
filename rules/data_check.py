"""Rules that read features a program's data cannot provide (`rules check --data DIR`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from rules import conditions as cnd
from rules.model import Rulebook


def names_read(book: Rulebook) -> Iterator[tuple[str, str, set[str]]]:
    """(kind, id, names it reads) for every rule of the rulebook."""
    for track in book.tracks:
        yield "track", track.id, cnd.names_in(track.when)
        for tier in track.tiers:
            yield "tier", f"{track.id}/{tier.id}", cnd.names_in(tier.when)
    for inc in book.incentives:
        basis = {inc.reward.basis} if inc.reward.basis else set()
        yield "incentive", inc.id, cnd.names_in(inc.when) | basis
    for comp in book.scorecard:
        yield "scorecard component", comp.id, {p.feature for p in comp.parts}
    for act in book.actions:
        used = {n for n in (act.propensity, act.value) if n}
        yield "action", act.id, cnd.names_in(act.when) | used


def unprovided(book: Rulebook, unavailable: Mapping[str, str]) -> list[str]:
    """A warning per rule reading a feature in `unavailable` (feature -> why)."""
    out = []
    for kind, rule_id, names in names_read(book):
        for name in sorted(names & set(unavailable)):
            out.append(
                f"{kind} {rule_id} reads {name}, which the data cannot provide "
                f"({unavailable[name]})"
            )
    return out
