"""Incentive ledger: one entry per (partner, incentive, period) and its weekly accruals.

Revision ID: 0014_ledger
Revises: 0018
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014_ledger"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create the incentive_ledger and incentive_accruals tables."""
    op.create_table(
        "incentive_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_key", sa.String(length=200), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("incentive_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("period_kind", sa.String(length=8), nullable=False),
        sa.Column("period_start", TIMESTAMP, nullable=True),
        sa.Column("period_end", TIMESTAMP, nullable=True),
        sa.Column("reward_type", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("basis", sa.String(length=64), nullable=True),
        sa.Column("measure", sa.Float(), nullable=True),
        sa.Column("pool", sa.String(length=64), nullable=True),
        sa.Column("pool_key", sa.String(length=64), nullable=True),
        sa.Column("rulebook_version", sa.String(length=64), nullable=False),
        sa.Column("rulebook_hash", sa.String(length=64), nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("first_week", sa.String(length=8), nullable=False),
        sa.Column("last_week", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry_key"),
        sa.UniqueConstraint("partner_id", "incentive_id", "period", name="uq_ledger_entry"),
    )
    op.create_index("ix_incentive_ledger_partner_id", "incentive_ledger", ["partner_id"])
    op.create_index("ix_incentive_ledger_last_week", "incentive_ledger", ["last_week"])
    op.create_index("ix_incentive_ledger_period", "incentive_ledger", ["period", "status"])
    op.create_table(
        "incentive_accruals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("incentive_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("measure", sa.Float(), nullable=True),
        sa.Column("previous_measure", sa.Float(), nullable=True),
        sa.Column("rulebook_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("partner_id", "incentive_id", "period", "week", name="uq_accrual"),
    )
    op.create_index("ix_incentive_accruals_partner_id", "incentive_accruals", ["partner_id"])
    op.create_index("ix_incentive_accruals_week", "incentive_accruals", ["week"])


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("incentive_accruals")
    op.drop_table("incentive_ledger")
