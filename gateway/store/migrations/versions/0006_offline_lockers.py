"""Offline lockers: event sequence reconciliation and key-set versions.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Event order: the highest journaled event number processed per locker (0: none yet).
    with op.batch_alter_table("locker_sessions") as batch:
        batch.add_column(
            sa.Column("event_seq", sa.BigInteger(), nullable=False, server_default="0")
        )
    # Key distribution: the key-set version each locker last confirmed (null: none yet).
    with op.batch_alter_table("locker_sessions") as batch:
        batch.add_column(sa.Column("key_set_version", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("locker_sessions") as batch:
        batch.drop_column("key_set_version")
    with op.batch_alter_table("locker_sessions") as batch:
        batch.drop_column("event_seq")
