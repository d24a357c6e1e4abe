"""Keypad network events: the reason of the running lockout and a per-locker event number.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch: SQLite cannot alter a table in place; on PostgreSQL this is a plain ALTER TABLE.
    with op.batch_alter_table("keypad_attempts") as batch:
        batch.add_column(sa.Column("lock_reason", sa.Text()))
        batch.add_column(sa.Column("event_seq", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("keypad_attempts") as batch:
        batch.drop_column("event_seq")
        batch.drop_column("lock_reason")
