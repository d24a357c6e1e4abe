"""Returns without a label: a sender's announced return and the label bound at the locker.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "returns",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("carrier_id", sa.Text(), nullable=False),
        sa.Column("locker_id", sa.Text(), nullable=False),
        sa.Column("parcel_uid", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("label_source", sa.Text(), nullable=True),
        sa.Column("label_bound_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_returns")),
        sa.UniqueConstraint("parcel_uid", name=op.f("uq_returns_parcel_uid")),
        sa.UniqueConstraint(
            "carrier_id", "reference", name=op.f("uq_returns_carrier_id_reference")
        ),
    )


def downgrade() -> None:
    op.drop_table("returns")
