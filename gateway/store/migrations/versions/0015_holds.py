"""Soft holds: capacity of a size class held for a carrier for a short while, no compartment.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
ENUM = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "holds",
        sa.Column("hold_id", sa.Text(), nullable=False),
        sa.Column("carrier_id", sa.Text(), nullable=False),
        sa.Column("locker_id", sa.Text(), nullable=False),
        sa.Column("size_class", ENUM, nullable=False),
        sa.Column("requested_class", ENUM, nullable=True),
        sa.Column("length_mm", sa.Integer(), nullable=True),
        sa.Column("width_mm", sa.Integer(), nullable=True),
        sa.Column("height_mm", sa.Integer(), nullable=True),
        sa.Column("weight_g", sa.Integer(), nullable=True),
        sa.Column("state", ENUM, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("parcel_uid", sa.Text(), nullable=True),
        sa.Column("parcel_id", sa.Text(), nullable=True),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["carrier_id"], ["carriers.id"], name=op.f("fk_holds_carrier_id_carriers")
        ),
        sa.ForeignKeyConstraint(
            ["locker_id"], ["lockers.id"], name=op.f("fk_holds_locker_id_lockers")
        ),
        sa.PrimaryKeyConstraint("hold_id", name=op.f("pk_holds")),
    )
    op.create_index(
        "ix_holds_locker_id_state_expires_at", "holds", ["locker_id", "state", "expires_at"]
    )
    op.create_index("ix_holds_state_expires_at", "holds", ["state", "expires_at"])
    op.create_index("ix_holds_parcel_uid", "holds", ["parcel_uid"])
    op.create_index("ix_holds_carrier_id_created_at", "holds", ["carrier_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_holds_carrier_id_created_at", table_name="holds")
    op.drop_index("ix_holds_parcel_uid", table_name="holds")
    op.drop_index("ix_holds_state_expires_at", table_name="holds")
    op.drop_index("ix_holds_locker_id_state_expires_at", table_name="holds")
    op.drop_table("holds")
