"""Locker side: presence and boot sessions, door sessions, hashed access codes, the inbox,
and network-wide secrets.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
ENUM = sa.String(32)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "locker_sessions",
        sa.Column("locker_id", sa.Text(), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("booted_at", TS, nullable=True),
        sa.Column("last_seen_at", TS, nullable=True),
        sa.Column("firmware", sa.Text(), nullable=True),
        sa.Column("boot_info", sa.JSON(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["locker_id"], ["lockers.id"], name=op.f("fk_locker_sessions_locker_id_lockers")
        ),
        sa.PrimaryKeyConstraint("locker_id", name=op.f("pk_locker_sessions")),
    )
    op.create_table(
        "door_sessions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("locker_id", sa.Text(), nullable=False),
        sa.Column("compartment_code", sa.Text(), nullable=False),
        sa.Column("parcel_uid", sa.Text(), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("item_sensor", ENUM, nullable=True),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("deadline", TS, nullable=False),
        sa.Column("opened_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_door_sessions")),
    )
    op.create_index(
        "ix_door_sessions_locker_id_compartment_code_state",
        "door_sessions",
        ["locker_id", "compartment_code", "state"],
    )
    op.create_table(
        "access_codes",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("locker_id", sa.Text(), nullable=False),
        sa.Column("parcel_uid", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("code_hash", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_codes")),
        sa.UniqueConstraint(
            "locker_id", "code_hash", name=op.f("uq_access_codes_locker_id_code_hash")
        ),
    )
    op.create_index("ix_access_codes_parcel_uid", "access_codes", ["parcel_uid"])
    op.create_table(
        "inbox",
        sa.Column("src", sa.Text(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("src", "message_id", name=op.f("pk_inbox")),
    )
    op.create_index("ix_inbox_received_at", "inbox", ["received_at"])
    op.create_table(
        "gateway_secrets",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_gateway_secrets")),
    )


def downgrade() -> None:
    for table in ("gateway_secrets", "inbox", "access_codes", "door_sessions", "locker_sessions"):
        op.drop_table(table)
