"""Scored deal registrations (issue 15): eligibility, likelihood, routing, protection and
expiry dates, the versions that answered; one row per registration × rulebook × model.

Revision ID: 0020_registrations
Revises: 0017
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0020_registrations"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "deal_registrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.String(length=64), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=True),
        sa.Column("customer_id", sa.String(length=64), nullable=True),
        sa.Column("registered_at", TIMESTAMP, nullable=False),
        sa.Column("eligible", sa.Boolean(), nullable=False),
        sa.Column("refusals", JSON, nullable=False),
        sa.Column("acceptance_likelihood", sa.Float(), nullable=False),
        sa.Column("routing", sa.String(length=16), nullable=False),
        sa.Column("protected_until", TIMESTAMP, nullable=True),
        sa.Column("expires_at", TIMESTAMP, nullable=True),
        sa.Column("rulebook_version", sa.String(length=64), nullable=False),
        sa.Column("rulebook_hash", sa.String(length=64), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("deal", JSON, nullable=False),
        sa.Column("answer", JSON, nullable=False),
        sa.Column("times_scored", sa.Integer(), nullable=False),
        sa.Column("first_scored_at", TIMESTAMP, nullable=False),
        sa.Column("scored_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "deal_id", "rulebook_hash", "model_version", name="uq_deal_registration_version"
        ),
    )
    op.create_index(
        "ix_deal_registrations_deal_scored", "deal_registrations", ["deal_id", "scored_at"]
    )
    op.create_index("ix_deal_registrations_partner_id", "deal_registrations", ["partner_id"])


def downgrade() -> None:
    op.drop_table("deal_registrations")
