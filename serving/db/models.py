"""The service database: SQLAlchemy 2 typed models. Names are the domain's words.

Timestamps are tz-aware UTC (`UTCDateTime`); JSON columns are JSONB on PostgreSQL.
`review_audit` is append-only: the ORM refuses to update or delete its rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from serving.db.types import JsonType, UTCDateTime
from tierwise.errors import Forbidden

ACTION_STATUSES = ("proposed", "accepted", "dismissed", "snoozed", "done")
TIER_CHANGES = ("new", "promoted", "demoted", "grace", "unchanged", "override")
JOB_STATUSES = ("running", "succeeded", "failed", "abandoned")
LEDGER_STATUSES = ("accruing", "earned", "paid", "forfeited")

Id = String(64)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JsonType,
    }


class Partner(Base):
    """Who a partner is and which channel manager owns it (refreshed by every weekly run)."""

    __tablename__ = "partners"

    partner_id: Mapped[str] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    partner_type: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(64))
    manager_id: Mapped[str] = mapped_column(Id, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FeatureSnapshot(Base):
    """A partner's feature row as of a date: what `POST /v1/partners/{id}/score` reads."""

    __tablename__ = "feature_snapshots"
    __table_args__ = (UniqueConstraint("partner_id", "as_of", name="uq_snapshot_partner_as_of"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[str] = mapped_column(Id, index=True)
    as_of: Mapped[datetime] = mapped_column(index=True)
    week: Mapped[str] = mapped_column(String(8))
    features: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TierDecision(Base):
    """One evaluation of a partner's tier in one week; the rows of a partner are its history."""

    __tablename__ = "tier_decisions"
    __table_args__ = (
        UniqueConstraint("partner_id", "week", name="uq_tier_decision_partner_week"),
        Index("ix_tier_decisions_partner_as_of", "partner_id", "as_of"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[str] = mapped_column(Id)
    week: Mapped[str] = mapped_column(String(8), index=True)
    as_of: Mapped[datetime]
    previous_tier: Mapped[str | None] = mapped_column(String(64))
    qualified_tier: Mapped[str | None] = mapped_column(String(64))
    tier: Mapped[str] = mapped_column(String(64))
    change: Mapped[str] = mapped_column(String(16))  # one of TIER_CHANGES
    missed_evaluations: Mapped[int] = mapped_column(Integer, default=0)
    override_tier: Mapped[str | None] = mapped_column(String(64))
    override_reason: Mapped[str | None] = mapped_column(Text)
    override_until: Mapped[datetime | None]
    churn_risk: Mapped[float | None] = mapped_column(Float)
    score: Mapped[float | None] = mapped_column(Float)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)  # scorecard, gap, versions
    rulebook_version: Mapped[str] = mapped_column(String(64), default="")


class TierOverride(Base):
    """A channel manager's pinned tier for a partner; it wins until `until`."""

    __tablename__ = "tier_overrides"

    partner_id: Mapped[str] = mapped_column(Id, primary_key=True)
    tier: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    until: Mapped[datetime]
    set_by: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)


class IncentiveAward(Base):
    """An incentive a partner earned in a week's evaluation, with its cost."""

    __tablename__ = "incentive_awards"
    __table_args__ = (
        UniqueConstraint("partner_id", "week", "incentive_id", name="uq_award_partner_week"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[str] = mapped_column(Id, index=True)
    week: Mapped[str] = mapped_column(String(8), index=True)
    as_of: Mapped[datetime]
    incentive_id: Mapped[str] = mapped_column(String(64))
    reward_type: Mapped[str] = mapped_column(String(64), default="")
    amount: Mapped[float] = mapped_column(Float, default=0.0)


class WeeklyPlan(Base):
    """The week's plan: one per ISO week, regenerated in place by an idempotent re-run."""

    __tablename__ = "weekly_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week: Mapped[str] = mapped_column(String(8), unique=True)
    as_of: Mapped[datetime]
    generated_at: Mapped[datetime] = mapped_column(default=utcnow)
    rulebook_version: Mapped[str] = mapped_column(String(64), default="")
    versions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    partners_scored: Mapped[int] = mapped_column(Integer, default=0)
    incentive_cost: Mapped[float] = mapped_column(Float, default=0.0)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)

    actions: Mapped[list[PlanAction]] = relationship(back_populates="plan")


class PlanAction(Base):
    """One recommended action in a weekly plan, owned by the partner's channel manager."""

    __tablename__ = "plan_actions"
    __table_args__ = (
        UniqueConstraint("week", "partner_id", "action_id", name="uq_plan_action"),
        Index("ix_plan_actions_week_manager", "week", "manager_id"),
        Index("ix_plan_actions_partner", "partner_id", "action_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("weekly_plans.id", ondelete="CASCADE"))
    week: Mapped[str] = mapped_column(String(8))
    partner_id: Mapped[str] = mapped_column(Id)
    manager_id: Mapped[str] = mapped_column(Id)
    action_id: Mapped[str] = mapped_column(String(64))
    rank: Mapped[int] = mapped_column(Integer)  # among the partner's actions
    manager_rank: Mapped[int] = mapped_column(Integer)  # in the manager's list (1 = first)
    priority: Mapped[float] = mapped_column(Float)
    propensity: Mapped[float] = mapped_column(Float)
    # a learned propensity's source: prior | learned (n=…); None for model outputs / none
    propensity_source: Mapped[str | None] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)
    weight: Mapped[float] = mapped_column(Float)
    reasons: Mapped[Any] = mapped_column(JsonType, default=list)  # conditions and numbers
    title: Mapped[str | None] = mapped_column(String(200))  # the rulebook's title
    sentence: Mapped[str | None] = mapped_column(Text)  # the reason, as a sentence
    tier: Mapped[str | None] = mapped_column(String(64))
    churn_risk: Mapped[float | None] = mapped_column(Float)
    overflow: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    snooze_until: Mapped[datetime | None]
    dismiss_reason: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]  # the review, placed inside the plan's week
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    plan: Mapped[WeeklyPlan] = relationship(back_populates="actions")


class AuditEntry(Base):
    """One review decision: who, when, what, before/after. Append-only."""

    __tablename__ = "review_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    actor_manager_id: Mapped[str | None] = mapped_column(Id)
    what: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(32))  # "plan_action" | "tier_override"
    target_id: Mapped[str] = mapped_column(String(64), index=True)
    partner_id: Mapped[str | None] = mapped_column(Id, index=True)
    week: Mapped[str | None] = mapped_column(String(8))
    before: Mapped[dict[str, Any]] = mapped_column(default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(default=dict)


class JobRun(Base):
    """One run of a batch job (the weekly plan): when, how it ended, its summary."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(32))
    week: Mapped[str | None] = mapped_column(String(8))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))  # one of JOB_STATUSES
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class LedgerEntry(Base):
    """One incentive of one partner in one period (`once` for milestones): what it amounts to
    so far, its status and why it was granted. Written by the weekly job (`rules.ledger`)."""

    __tablename__ = "incentive_ledger"
    __table_args__ = (
        UniqueConstraint("partner_id", "incentive_id", "period", name="uq_ledger_entry"),
        Index("ix_incentive_ledger_period", "period", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_key: Mapped[str] = mapped_column(String(200), unique=True)  # partner|incentive|period
    partner_id: Mapped[str] = mapped_column(Id, index=True)
    incentive_id: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(16))  # once | 2026-11 | 2026-Q4 | 2026
    period_kind: Mapped[str] = mapped_column(String(8))
    period_start: Mapped[datetime | None]
    period_end: Mapped[datetime | None]
    reward_type: Mapped[str] = mapped_column(String(64), default="")
    amount: Mapped[float] = mapped_column(Float, default=0.0)
    unit: Mapped[str] = mapped_column(String(16), default="USD")
    status: Mapped[str] = mapped_column(String(16))  # one of LEDGER_STATUSES
    basis: Mapped[str | None] = mapped_column(String(64))
    measure: Mapped[float | None] = mapped_column(Float)  # the basis paid on so far
    pool: Mapped[str | None] = mapped_column(String(64))
    pool_key: Mapped[str | None] = mapped_column(String(64))
    rulebook_version: Mapped[str] = mapped_column(String(64), default="")
    rulebook_hash: Mapped[str] = mapped_column(String(64), default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    first_week: Mapped[str] = mapped_column(String(8))
    last_week: Mapped[str] = mapped_column(String(8), index=True)


class Accrual(Base):
    """What one ledger entry gained in one week, under which rulebook (never rewritten)."""

    __tablename__ = "incentive_accruals"
    __table_args__ = (
        UniqueConstraint("partner_id", "incentive_id", "period", "week", name="uq_accrual"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[str] = mapped_column(Id, index=True)
    incentive_id: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(16))
    week: Mapped[str] = mapped_column(String(8), index=True)
    amount: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16), default="USD")
    measure: Mapped[float | None] = mapped_column(Float)
    previous_measure: Mapped[float | None] = mapped_column(Float)
    rulebook_hash: Mapped[str] = mapped_column(String(64))


class ReviewSession(Base):
    """A signed-in reviewer's server-side session. The cookie carries a random id; only its
    SHA-256 is stored. It ends at `expires_at`, on logout, or when its key is revoked."""

    __tablename__ = "review_sessions"

    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_sha256: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(16))
    manager_id: Mapped[str | None] = mapped_column(Id)
    name: Mapped[str] = mapped_column(String(200), default="")
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None]


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _refuse_audit_change(*_: Any) -> None:
    raise Forbidden("review_audit is append-only: entries are never changed or deleted")
