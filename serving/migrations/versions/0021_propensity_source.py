"""Plan actions say which propensity ranked them: the rulebook's prior or the learned one.

Revision ID: 0021_propensity
Revises: 0020_registrations
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_propensity"
down_revision: str | Sequence[str] | None = "0020_registrations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("plan_actions") as batch:
        batch.add_column(sa.Column("propensity_source", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plan_actions") as batch:
        batch.drop_column("propensity_source")
