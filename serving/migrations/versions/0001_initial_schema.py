"""Initial schema: partners, snapshots, tier decisions/overrides, incentive awards, weekly plans,
plan actions, the review audit log and job runs.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create every table of the service database."""
    op.create_table(
        "feature_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("as_of", TIMESTAMP, nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("features", JSON, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("partner_id", "as_of", name="uq_snapshot_partner_as_of"),
    )
    op.create_index("ix_feature_snapshots_as_of", "feature_snapshots", ["as_of"])
    op.create_index("ix_feature_snapshots_partner_id", "feature_snapshots", ["partner_id"])

    op.create_table(
        "incentive_awards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("as_of", TIMESTAMP, nullable=False),
        sa.Column("incentive_id", sa.String(length=64), nullable=False),
        sa.Column("reward_type", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("partner_id", "week", "incentive_id", name="uq_award_partner_week"),
    )
    op.create_index("ix_incentive_awards_partner_id", "incentive_awards", ["partner_id"])
    op.create_index("ix_incentive_awards_week", "incentive_awards", ["week"])

    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=32), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=True),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("summary", JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "partners",
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("partner_type", sa.String(length=32), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("manager_id", sa.String(length=64), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("partner_id"),
    )
    op.create_index("ix_partners_manager_id", "partners", ["manager_id"])

    op.create_table(
        "review_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("actor_manager_id", sa.String(length=64), nullable=True),
        sa.Column("what", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=True),
        sa.Column("week", sa.String(length=8), nullable=True),
        sa.Column("before", JSON, nullable=False),
        sa.Column("after", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_review_audit_at", "review_audit", ["at"])
    op.create_index("ix_review_audit_partner_id", "review_audit", ["partner_id"])
    op.create_index("ix_review_audit_target_id", "review_audit", ["target_id"])

    op.create_table(
        "tier_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("as_of", TIMESTAMP, nullable=False),
        sa.Column("previous_tier", sa.String(length=64), nullable=True),
        sa.Column("qualified_tier", sa.String(length=64), nullable=True),
        sa.Column("tier", sa.String(length=64), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("missed_evaluations", sa.Integer(), nullable=False),
        sa.Column("override_tier", sa.String(length=64), nullable=True),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("override_until", TIMESTAMP, nullable=True),
        sa.Column("churn_risk", sa.Float(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("details", JSON, nullable=False),
        sa.Column("rulebook_version", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("partner_id", "week", name="uq_tier_decision_partner_week"),
    )
    op.create_index("ix_tier_decisions_partner_as_of", "tier_decisions", ["partner_id", "as_of"])
    op.create_index("ix_tier_decisions_week", "tier_decisions", ["week"])

    op.create_table(
        "tier_overrides",
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("tier", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("until", TIMESTAMP, nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("set_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("partner_id"),
    )
    op.create_table(
        "weekly_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("as_of", TIMESTAMP, nullable=False),
        sa.Column("generated_at", TIMESTAMP, nullable=False),
        sa.Column("rulebook_version", sa.String(length=64), nullable=False),
        sa.Column("versions", JSON, nullable=False),
        sa.Column("partners_scored", sa.Integer(), nullable=False),
        sa.Column("incentive_cost", sa.Float(), nullable=False),
        sa.Column("summary", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("week"),
    )
    op.create_table(
        "plan_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("manager_id", sa.String(length=64), nullable=False),
        sa.Column("action_id", sa.String(length=64), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("manager_rank", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("propensity", sa.Float(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("tier", sa.String(length=64), nullable=True),
        sa.Column("churn_risk", sa.Float(), nullable=True),
        sa.Column("overflow", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("snooze_until", TIMESTAMP, nullable=True),
        sa.Column("dismiss_reason", sa.Text(), nullable=True),
        sa.Column("reviewed_by", sa.String(length=200), nullable=True),
        sa.Column("reviewed_at", TIMESTAMP, nullable=True),
        sa.Column("decided_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["weekly_plans.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("week", "partner_id", "action_id", name="uq_plan_action"),
    )
    op.create_index("ix_plan_actions_partner", "plan_actions", ["partner_id", "action_id"])
    op.create_index("ix_plan_actions_week_manager", "plan_actions", ["week", "manager_id"])
    _make_audit_append_only()


def _make_audit_append_only() -> None:
    """The database itself refuses UPDATE and DELETE on review_audit."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER review_audit_no_{verb.lower()} BEFORE {verb} ON review_audit "
                "BEGIN SELECT RAISE(ABORT, 'review_audit is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION review_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'review_audit is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER review_audit_append_only BEFORE UPDATE OR DELETE ON review_audit "
            "FOR EACH ROW EXECUTE FUNCTION review_audit_append_only()"
        )


def downgrade() -> None:
    """Drop every table (reverse order of creation)."""
    op.drop_table("plan_actions")
    op.drop_table("weekly_plans")
    op.drop_table("tier_overrides")
    op.drop_table("tier_decisions")
    op.drop_table("review_audit")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS review_audit_append_only()")
    op.drop_table("partners")
    op.drop_table("job_runs")
    op.drop_table("incentive_awards")
    op.drop_table("feature_snapshots")
