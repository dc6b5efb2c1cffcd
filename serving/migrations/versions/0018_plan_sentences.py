"""Plan actions keep the rulebook's title and the reason sentence shown to managers.

Revision ID: 0018
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("plan_actions") as batch:
        batch.add_column(sa.Column("title", sa.String(200), nullable=True))
        batch.add_column(sa.Column("sentence", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plan_actions") as batch:
        batch.drop_column("sentence")
        batch.drop_column("title")
