"""Review decisions on plan actions (accept / dismiss / snooze / done) and tier overrides.

Each change is checked (who may, which transition), applied and written to the append-only
audit log in the caller's transaction.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.db.events import iso_z, record
from serving.db.models import AuditEntry, Partner, PlanAction, TierOverride
from tierwise.errors import Conflict, Forbidden, InvalidInput, NotFound, Problem

DECISIONS = {"accept": "accepted", "dismiss": "dismissed", "snooze": "snoozed", "done": "done"}
TRANSITIONS: dict[str, frozenset[str]] = {
    "proposed": frozenset({"accepted", "dismissed", "snoozed", "done"}),
    "accepted": frozenset({"dismissed", "snoozed", "done"}),
    "snoozed": frozenset({"accepted", "dismissed", "snoozed", "done"}),
    "dismissed": frozenset(),
    "done": frozenset(),
}
WEEK = timedelta(days=7)
MAX_REASON = 500


class Reviewer(Protocol):
    """Who reviews: `serving.auth.Principal` fits."""

    @property
    def role(self) -> str: ...
    @property
    def manager_id(self) -> str | None: ...
    @property
    def name(self) -> str: ...


def may_review(reviewer: Reviewer, manager_id: str) -> bool:
    """Admins review everything; a manager only the actions of their own partners."""
    if reviewer.role == "admin":
        return True
    return reviewer.role == "manager" and reviewer.manager_id == manager_id


def _state(action: PlanAction) -> dict[str, Any]:
    return {
        "status": action.status,
        "snooze_until": action.snooze_until.isoformat() if action.snooze_until else None,
        "dismiss_reason": action.dismiss_reason,
        "reviewed_by": action.reviewed_by,
    }


def _as_utc(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.combine(value, time.min, tzinfo=UTC)


def _check_input(
    action: PlanAction, decision: str, reason: str | None, until: datetime | date | None
) -> None:
    if decision not in DECISIONS:
        raise InvalidInput(
            f"Unknown decision '{decision}'",
            [Problem(f"one of {', '.join(DECISIONS)}", column="decision", value=decision)],
        )
    if decision == "dismiss" and not (reason and reason.strip()):
        raise InvalidInput(
            "A dismissal needs a reason", [Problem("required", column="reason", value=reason)]
        )
    if reason is not None and len(reason) > MAX_REASON:
        raise InvalidInput(
            f"The reason is longer than {MAX_REASON} characters",
            [Problem("too long", column="reason", value=len(reason))],
        )
    if decision == "snooze":
        if until is None:
            raise InvalidInput(
                "A snooze needs an until date", [Problem("required", column="until", value=None)]
            )
        if _as_utc(until) <= action.plan.as_of:
            raise InvalidInput(
                f"Snooze until {until} is not after the plan's week start",
                [Problem("must be after the week start", column="until", value=str(until))],
            )


def _repeats(
    action: PlanAction, target: str, reason: str | None, until: datetime | date | None
) -> bool:
    """Whether the action already is in exactly the state this decision would put it in."""
    if action.status != target:
        return False
    if target == "dismissed":
        return (reason or "").strip() == (action.dismiss_reason or "")
    if target == "snoozed":
        return until is not None and action.snooze_until == _as_utc(until)
    return True


def review_action(
    session: Session,
    *,
    action_id: int,
    reviewer: Reviewer,
    decision: str,
    reason: str | None = None,
    until: datetime | date | None = None,
    now: datetime,
) -> PlanAction:
    """Apply a review decision to a plan action and audit it. 404 / 403 / 422 / 409 errors."""
    action = session.scalar(select(PlanAction).where(PlanAction.id == action_id).with_for_update())
    if action is None:
        raise NotFound(
            f"No plan action {action_id}", [Problem("unknown", column="id", value=action_id)]
        )
    if not may_review(reviewer, action.manager_id):
        raise Forbidden(
            f"Action {action_id} belongs to another channel manager's partner",
            [Problem("not your partner", column="partner_id", value=action.partner_id)],
        )
    _check_input(action, decision, reason, until)
    target = DECISIONS[decision]
    if _repeats(action, target, reason, until):
        return action  # the same decision again: nothing changes, nothing new is audited
    if target not in TRANSITIONS[action.status]:
        raise Conflict(
            f"Action {action_id} is {action.status}; it cannot become {target}",
            [Problem(f"{action.status} -> {target} is not allowed", column="status", value=target)],
        )
    before = _state(action)
    action.status = target
    action.dismiss_reason = reason.strip() if decision == "dismiss" and reason else None
    action.snooze_until = _as_utc(until) if decision == "snooze" and until else None
    action.reviewed_by = reviewer.name or reviewer.manager_id or reviewer.role
    action.reviewed_at = now
    start = action.plan.as_of
    action.decided_at = min(max(now, start), start + WEEK - timedelta(microseconds=1))
    session.add(
        AuditEntry(
            at=now,
            actor=action.reviewed_by,
            role=reviewer.role,
            actor_manager_id=reviewer.manager_id,
            what=decision,
            target="plan_action",
            target_id=str(action.id),
            partner_id=action.partner_id,
            week=action.week,
            before=before,
            after=_state(action),
        )
    )
    session.flush()
    _reviewed(session, action, decision, now)
    return action


def _reviewed(session: Session, action: PlanAction, decision: str, now: datetime) -> None:
    record(
        session,
        "action.reviewed",
        {
            "plan_action_id": action.id,
            "week": action.week,
            "partner_id": action.partner_id,
            "manager_id": action.manager_id,
            "action_id": action.action_id,
            "decision": decision,
            "status": action.status,
            "reason": action.dismiss_reason,
            "snooze_until": iso_z(action.snooze_until),
            "reviewed_by": action.reviewed_by,
            "reviewed_at": iso_z(action.reviewed_at),
        },
        partner_id=action.partner_id,
        at=now,
    )


def set_tier_override(
    session: Session,
    *,
    partner_id: str,
    tier: str,
    reason: str,
    until: datetime | date,
    reviewer: Reviewer,
    now: datetime,
) -> TierOverride:
    """Pin a partner's tier until a date (wins over the rules until it expires); audited."""
    partner = session.get(Partner, partner_id)
    if partner is None:
        raise NotFound(f"No partner '{partner_id}'", [Problem("unknown", value=partner_id)])
    if not may_review(reviewer, partner.manager_id):
        raise Forbidden(f"Partner '{partner_id}' is not managed by you", [])
    if not reason.strip() or not tier.strip():
        raise InvalidInput("An override needs a tier and a reason", [])
    until_utc = _as_utc(until)
    if until_utc <= now:
        raise InvalidInput(
            "An override must end in the future",
            [Problem("must be in the future", column="until", value=str(until))],
        )
    override = session.get(TierOverride, partner_id)
    before = _override_state(override)
    actor = reviewer.name or reviewer.manager_id or reviewer.role
    if override is None:
        override = TierOverride(
            partner_id=partner_id,
            tier=tier,
            reason=reason,
            until=until_utc,
            set_by=actor,
            set_at=now,
        )
        session.add(override)
    else:
        override.tier, override.reason, override.until = tier, reason.strip(), until_utc
        override.set_by, override.set_at = actor, now
    session.add(
        AuditEntry(
            at=now,
            actor=actor,
            role=reviewer.role,
            actor_manager_id=reviewer.manager_id,
            what="override",
            target="tier_override",
            target_id=partner_id,
            partner_id=partner_id,
            before=before,
            after=_override_state(override),
        )
    )
    session.flush()
    return override


def _override_state(override: TierOverride | None) -> dict[str, Any]:
    if override is None:
        return {}
    return {"tier": override.tier, "reason": override.reason, "until": override.until.isoformat()}
