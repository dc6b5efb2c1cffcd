"""Persistence: typed models, engine/session helpers and Alembic migrations."""

from serving.db.engine import (
    bulk_writes,
    current_revision,
    dispose_engine,
    downgrade,
    get_engine,
    head_revision,
    ready_engine,
    session_scope,
    upgrade,
)
from serving.db.integration import (
    Event,
    IdempotencyRecord,
    WebhookDelivery,
    WebhookSubscription,
)
from serving.db.models import (
    ACTION_STATUSES,
    AuditEntry,
    Base,
    FeatureSnapshot,
    IncentiveAward,
    JobRun,
    Partner,
    PlanAction,
    TierDecision,
    TierOverride,
    WeeklyPlan,
)

__all__ = [
    "ACTION_STATUSES",
    "AuditEntry",
    "Base",
    "Event",
    "FeatureSnapshot",
    "IdempotencyRecord",
    "IncentiveAward",
    "JobRun",
    "Partner",
    "PlanAction",
    "TierDecision",
    "TierOverride",
    "WebhookDelivery",
    "WebhookSubscription",
    "WeeklyPlan",
    "bulk_writes",
    "current_revision",
    "dispose_engine",
    "downgrade",
    "get_engine",
    "head_revision",
    "ready_engine",
    "session_scope",
    "upgrade",
]
