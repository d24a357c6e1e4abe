"""Parked locker events: events the gateway failed to apply, kept for an operator's retry.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "parked_events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("locker_id", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=True),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("event", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("parked_at", TS, nullable=False),
        sa.Column("retry_requested_at", TS, nullable=True),
        sa.Column("last_retry_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parked_events")),
        sa.UniqueConstraint(
            "locker_id", "event_id", name=op.f("uq_parked_events_locker_id_event_id")
        ),
    )
    op.create_index("ix_parked_events_retry_requested_at", "parked_events", ["retry_requested_at"])


def downgrade() -> None:
    op.drop_index("ix_parked_events_retry_requested_at", table_name="parked_events")
    op.drop_table("parked_events")
