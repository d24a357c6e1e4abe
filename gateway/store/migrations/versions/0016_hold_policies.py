"""Hold-time policies per network, carrier and locker; a parcel's applied policy, next
reminder and recipient self-service requests.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hold_policies",
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("scope_id", sa.Text(), nullable=False),
        sa.Column("hold_days", sa.Integer(), nullable=True),
        sa.Column("reminder_hours", sa.JSON(), nullable=True),
        sa.Column("extension_days", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "scope_id", name=op.f("pk_hold_policies")),
    )
    with op.batch_alter_table("parcels") as batch:
        # Parcels booked before this migration keep NULL: the reminder scheduler treats them
        # as before (one reminder, `[parcels] reminder_lead` ahead of the deadline).
        batch.add_column(sa.Column("hold_policy", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("next_reminder_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("recipient_requests", sa.JSON(), nullable=True))
        batch.create_index("ix_parcels_state_next_reminder_at", ["state", "next_reminder_at"])


def downgrade() -> None:
    with op.batch_alter_table("parcels") as batch:
        batch.drop_index("ix_parcels_state_next_reminder_at")
        batch.drop_column("recipient_requests")
        batch.drop_column("next_reminder_at")
        batch.drop_column("hold_policy")
    op.drop_table("hold_policies")
