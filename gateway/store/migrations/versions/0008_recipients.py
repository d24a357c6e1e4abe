"""Recipient notifications: a parcel's recipient and the deadline its reminder was sent for.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("parcels") as batch:
        # Personal data, only when the carrier sent it; never echoed in parcel responses.
        batch.add_column(sa.Column("recipient", sa.JSON(), nullable=True))
        # The pickupUntil the reminder was queued for (null: none yet); claimed by a
        # conditional update so that two instances never queue it twice.
        batch.add_column(sa.Column("reminded_for", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("parcels") as batch:
        batch.drop_column("reminded_for")
        batch.drop_column("recipient")
