"""Bundles: several parcels for one recipient at one locker, opened with one code.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "bundles",
        sa.Column("uid", sa.Text(), nullable=False),
        sa.Column("carrier_id", sa.Text(), nullable=False),
        sa.Column("bundle_id", sa.Text(), nullable=False),
        sa.Column("locker_id", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(
            ["carrier_id"], ["carriers.id"], name=op.f("fk_bundles_carrier_id_carriers")
        ),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_bundles")),
        sa.UniqueConstraint(
            "carrier_id", "bundle_id", name=op.f("uq_bundles_carrier_id_bundle_id")
        ),
    )
    op.create_table(
        "bundle_parcels",
        sa.Column("bundle_uid", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("parcel_uid", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bundle_uid"], ["bundles.uid"], name=op.f("fk_bundle_parcels_bundle_uid_bundles")
        ),
        sa.PrimaryKeyConstraint("bundle_uid", "position", name=op.f("pk_bundle_parcels")),
        sa.UniqueConstraint("parcel_uid", name=op.f("uq_bundle_parcels_parcel_uid")),
    )


def downgrade() -> None:
    op.drop_table("bundle_parcels")
    op.drop_table("bundles")
