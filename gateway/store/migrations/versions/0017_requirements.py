"""Delivery requirements: compartments' temperature class, floor height, temperature readings
and alarm; a parcel's requirements.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch: SQLite cannot alter a table in place; on PostgreSQL this is a plain ALTER TABLE.
    with op.batch_alter_table("compartments") as batch:
        batch.add_column(
            sa.Column("temperature_class", sa.String(32), nullable=False, server_default="ambient")
        )
        batch.add_column(sa.Column("floor_mm", sa.Integer()))
        batch.add_column(sa.Column("temperature_c", sa.Double()))
        batch.add_column(sa.Column("temperature_at", sa.DateTime(timezone=True)))
        batch.add_column(
            sa.Column("temperature_alarm", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("parcels") as batch:
        batch.add_column(sa.Column("requirements", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("parcels") as batch:
        batch.drop_column("requirements")
    with op.batch_alter_table("compartments") as batch:
        batch.drop_column("temperature_alarm")
        batch.drop_column("temperature_at")
        batch.drop_column("temperature_c")
        batch.drop_column("floor_mm")
        batch.drop_column("temperature_class")
