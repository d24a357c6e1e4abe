"""Delivery engine: outbox rows name a target (webhook or connector); connector attachments.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
ENUM = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "connector_attachments",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("carrier_id", sa.Text(), nullable=False),
        sa.Column("connector", sa.Text(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("auth", sa.JSON(), nullable=True),
        sa.Column("delivery", sa.JSON(), nullable=True),
        sa.Column("events", sa.JSON(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("source", ENUM, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["carrier_id"],
            ["carriers.id"],
            name=op.f("fk_connector_attachments_carrier_id_carriers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connector_attachments")),
    )
    op.create_index(
        "ix_connector_attachments_carrier_id_active",
        "connector_attachments",
        ["carrier_id", "active"],
    )

    # The outbox: subscription_id becomes (target_kind, target_id). Every existing row is a
    # webhook delivery, so it keeps its id as the target and gets the kind "webhook". SQLite
    # cannot alter constraints in place: batch mode rebuilds the table (rows and ids kept).
    op.drop_index("ix_outbox_subscription_id_parcel_uid_parcel_seq", table_name="outbox")
    op.drop_index("ix_outbox_subscription_id_id", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("uq_outbox_subscription_id_event_id", type_="unique")
        batch.drop_constraint("fk_outbox_subscription_id_webhook_subscriptions", type_="foreignkey")
        batch.alter_column("subscription_id", new_column_name="target_id")
        batch.add_column(sa.Column("target_kind", ENUM, nullable=True))
    op.execute(sa.text("UPDATE outbox SET target_kind = 'webhook'"))
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("target_kind", existing_type=ENUM, nullable=False)
        batch.create_unique_constraint(
            "uq_outbox_target_kind_target_id_event_id", ["target_kind", "target_id", "event_id"]
        )
    op.create_index(
        "ix_outbox_target_kind_target_id_parcel_uid_parcel_seq",
        "outbox",
        ["target_kind", "target_id", "parcel_uid", "parcel_seq"],
    )
    op.create_index(
        "ix_outbox_target_kind_target_id_id", "outbox", ["target_kind", "target_id", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_target_kind_target_id_id", table_name="outbox")
    op.drop_index("ix_outbox_target_kind_target_id_parcel_uid_parcel_seq", table_name="outbox")
    # Only webhook deliveries fit the old table; connector deliveries go with their targets.
    op.execute(sa.text("DELETE FROM outbox WHERE target_kind <> 'webhook'"))
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("uq_outbox_target_kind_target_id_event_id", type_="unique")
        batch.drop_column("target_kind")
        batch.alter_column("target_id", new_column_name="subscription_id")
    with op.batch_alter_table("outbox") as batch:
        batch.create_unique_constraint(
            "uq_outbox_subscription_id_event_id", ["subscription_id", "event_id"]
        )
        batch.create_foreign_key(
            "fk_outbox_subscription_id_webhook_subscriptions",
            "webhook_subscriptions",
            ["subscription_id"],
            ["id"],
        )
    op.create_index(
        "ix_outbox_subscription_id_parcel_uid_parcel_seq",
        "outbox",
        ["subscription_id", "parcel_uid", "parcel_seq"],
    )
    op.create_index("ix_outbox_subscription_id_id", "outbox", ["subscription_id", "id"])
    op.drop_index("ix_connector_attachments_carrier_id_active", table_name="connector_attachments")
    op.drop_table("connector_attachments")
