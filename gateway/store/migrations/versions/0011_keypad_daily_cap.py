"""Keypad daily cap: wrong codes per locker keypad within a day, on top of the window limit.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch: SQLite cannot alter a table in place; on PostgreSQL this is a plain ALTER TABLE.
    with op.batch_alter_table("keypad_attempts") as batch:
        batch.add_column(
            sa.Column("day_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("day_started_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("keypad_attempts") as batch:
        batch.drop_column("day_started_at")
        batch.drop_column("day_failures")
