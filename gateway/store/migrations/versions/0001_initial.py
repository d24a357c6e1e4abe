"""Initial schema: carriers, lockers, compartments, parcels, events, idempotency keys, jtis.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Revisions are frozen: they spell out plain SQLAlchemy types instead of importing tables.py,
so later edits to the live schema cannot rewrite history. UTC timestamps are timezone-aware
DATETIME/timestamptz; enum values are VARCHAR(32).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
ENUM = sa.String(32)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "carriers",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("jwks", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carriers")),
    )
    op.create_table(
        "lockers",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("lon", sa.Double(), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("adapter", sa.Text(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lockers")),
    )
    op.create_table(
        "compartments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("locker_id", sa.Text(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("size_class", ENUM, nullable=False),
        sa.Column("size_rank", sa.Integer(), nullable=False),
        sa.Column("width_mm", sa.Integer(), nullable=False),
        sa.Column("height_mm", sa.Integer(), nullable=False),
        sa.Column("depth_mm", sa.Integer(), nullable=False),
        sa.Column("max_weight_g", sa.Integer(), nullable=False),
        sa.Column("state", ENUM, nullable=False),
        sa.Column("door", ENUM, nullable=False),
        sa.Column("item_sensor", ENUM, nullable=False),
        sa.Column("parcel_uid", sa.Text(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["locker_id"], ["lockers.id"], name=op.f("fk_compartments_locker_id_lockers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compartments")),
        sa.UniqueConstraint("locker_id", "code", name=op.f("uq_compartments_locker_id_code")),
    )
    op.create_index(
        "ix_compartments_allocation", "compartments", ["locker_id", "state", "size_rank"]
    )
    op.create_table(
        "parcels",
        sa.Column("seq", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("uid", sa.Text(), nullable=False),
        sa.Column("carrier_id", sa.Text(), nullable=False),
        sa.Column("parcel_id", sa.Text(), nullable=False),
        sa.Column("direction", ENUM, nullable=False),
        sa.Column("state", ENUM, nullable=False),
        sa.Column("locker_id", sa.Text(), nullable=False),
        sa.Column("compartment_code", sa.Text(), nullable=True),
        sa.Column("size_class", ENUM, nullable=True),
        sa.Column("length_mm", sa.Integer(), nullable=True),
        sa.Column("width_mm", sa.Integer(), nullable=True),
        sa.Column("height_mm", sa.Integer(), nullable=True),
        sa.Column("weight_g", sa.Integer(), nullable=True),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("reserved_until", TS, nullable=True),
        sa.Column("pickup_until", TS, nullable=True),
        sa.Column("pickup_window_s", sa.Integer(), nullable=False),
        sa.Column("reservation_ttl_s", sa.Integer(), nullable=False),
        sa.Column("redirected_from", sa.Text(), nullable=True),
        sa.Column("redirected_to", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_parcels")),
        sa.UniqueConstraint(
            "carrier_id", "parcel_id", name=op.f("uq_parcels_carrier_id_parcel_id")
        ),
        sa.UniqueConstraint("uid", name=op.f("uq_parcels_uid")),
    )
    op.create_index("ix_parcels_state_reserved_until", "parcels", ["state", "reserved_until"])
    op.create_index("ix_parcels_state_pickup_until", "parcels", ["state", "pickup_until"])
    op.create_index("ix_parcels_carrier_id_seq", "parcels", ["carrier_id", "seq"])
    op.create_table(
        "parcel_events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("parcel_uid", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("from_state", ENUM, nullable=True),
        sa.Column("to_state", ENUM, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parcel_events")),
        sa.UniqueConstraint("parcel_uid", "seq", name=op.f("uq_parcel_events_parcel_uid_seq")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("carrier_id", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("carrier_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])
    op.create_table(
        "used_jtis",
        sa.Column("issuer", sa.Text(), nullable=False),
        sa.Column("jti", sa.Text(), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("issuer", "jti", name=op.f("pk_used_jtis")),
    )
    op.create_index("ix_used_jtis_expires_at", "used_jtis", ["expires_at"])


def downgrade() -> None:
    for table in (
        "used_jtis",
        "idempotency_keys",
        "parcel_events",
        "parcels",
        "compartments",
        "lockers",
        "carriers",
    ):
        # Dropping a table drops its indexes on both engines.
        op.drop_table(table)
