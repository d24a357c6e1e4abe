"""Courier sessions: a courier's round at a locker under one code, and the doors it opened.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "courier_sessions",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("carrier_id", sa.Text(), nullable=False),
        sa.Column("locker_id", sa.Text(), nullable=False),
        sa.Column("courier_ref", sa.Text(), nullable=True),
        sa.Column("code_hash", sa.Text(), nullable=True),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_courier_sessions")),
        sa.UniqueConstraint(
            "locker_id", "code_hash", name=op.f("uq_courier_sessions_locker_id_code_hash")
        ),
    )
    op.create_index(
        "ix_courier_sessions_carrier_id_locker_id", "courier_sessions", ["carrier_id", "locker_id"]
    )
    op.create_table(
        "courier_session_doors",
        sa.Column("session_id", sa.Text(), nullable=False),
        sa.Column("parcel_uid", sa.Text(), nullable=False),
        sa.Column("task", sa.Text(), nullable=False),
        sa.Column("compartment_code", sa.Text(), nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["courier_sessions.id"],
            name=op.f("fk_courier_session_doors_session_id_courier_sessions"),
        ),
        sa.PrimaryKeyConstraint("session_id", "parcel_uid", name=op.f("pk_courier_session_doors")),
    )


def downgrade() -> None:
    op.drop_table("courier_session_doors")
    op.drop_index("ix_courier_sessions_carrier_id_locker_id", table_name="courier_sessions")
    op.drop_table("courier_sessions")
