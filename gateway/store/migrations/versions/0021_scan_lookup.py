"""Query on scan: find a scanned parcel id across carriers without reading every parcel.

A parcel id is unique per carrier (carrier_id, parcel_id); a locker's ScanParcel names only the
parcel id, so the lookup needs an index that starts with it (gateway/store/scans.py).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_parcels_parcel_id", "parcels", ["parcel_id"])


def downgrade() -> None:
    op.drop_index("ix_parcels_parcel_id", table_name="parcels")
