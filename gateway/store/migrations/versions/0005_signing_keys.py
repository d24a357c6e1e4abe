"""Network key rotation and access grants.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Keys made before rotation existed have signed since they were created.
    with op.batch_alter_table("network_keys") as batch:
        batch.add_column(sa.Column("activates_at", TS, nullable=True))
    op.execute("UPDATE network_keys SET activates_at = created_at")
    with op.batch_alter_table("network_keys") as batch:
        batch.alter_column("activates_at", existing_type=TS, nullable=False)
    op.create_table(
        "network_key_set",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_key_set")),
    )
    op.create_table(
        "grants",
        sa.Column("jti", sa.Text(), nullable=False),
        sa.Column("parcel_uid", sa.Text(), nullable=False),
        sa.Column("locker_id", sa.Text(), nullable=False),
        sa.Column("compartment_code", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("kid", sa.Text(), nullable=False),
        sa.Column("not_before", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("redeemed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_grants")),
    )
    op.create_index("ix_grants_parcel_uid", "grants", ["parcel_uid"])
    op.create_index("ix_grants_expires_at", "grants", ["expires_at"])


def downgrade() -> None:
    op.drop_table("grants")
    op.drop_table("network_key_set")
    with op.batch_alter_table("network_keys") as batch:
        batch.drop_column("activates_at")
