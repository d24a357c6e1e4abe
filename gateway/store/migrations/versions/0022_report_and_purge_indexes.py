"""Indexes for reads that scanned their whole table.

- `parcel_events.at`: the console's reports read the events of the last 30 days
  (gateway/console/reads.py); without it every report view read every event ever recorded.
- `login_attempts.updated_at`: housekeeping purges stale sign-in counters a batch at a time,
  oldest first (gateway/store/operators.py), which a spray of sign-ins from many addresses
  makes a large table.
- `parcels.reference`: an operator's parcel search (console, `GET /v1/admin/parcels?q=`)
  matches uid OR the carrier's parcel id OR its reference (gateway/store/parcels.py); the uid
  and parcel id were indexed already, and without the third the OR read the whole table.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_parcel_events_at", "parcel_events", ["at"])
    op.create_index("ix_login_attempts_updated_at", "login_attempts", ["updated_at"])
    op.create_index("ix_parcels_reference", "parcels", ["reference"])


def downgrade() -> None:
    op.drop_index("ix_parcels_reference", table_name="parcels")
    op.drop_index("ix_login_attempts_updated_at", table_name="login_attempts")
    op.drop_index("ix_parcel_events_at", table_name="parcel_events")
