"""Key custody: secrets sealed with a key-encryption key, and the network's root key.

`kek_id` beside each sealed column (NULL: a value written before this revision, still in
clear; the gateway seals it at its next start). `network_root_keys` holds the root key that
signs SetKeySet (SPEC §9 "Signed key sets").

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # batch: SQLite cannot alter a table in place; on PostgreSQL this is a plain ALTER TABLE.
    with op.batch_alter_table("network_keys") as batch:
        batch.add_column(sa.Column("kek_id", sa.Text()))
    with op.batch_alter_table("gateway_secrets") as batch:
        batch.add_column(sa.Column("kek_id", sa.Text()))
    op.create_table(
        "network_root_keys",
        sa.Column("kid", sa.Text(), primary_key=True),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("private_key", sa.Text(), nullable=False),
        sa.Column("kek_id", sa.Text(), nullable=False),
        sa.Column("endorsement", sa.Text()),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("retired_at", TS),
    )


def downgrade() -> None:
    # Sealed values stay sealed: a downgrade cannot put secrets back in clear (the code of
    # 0011 would read ciphertext as a PEM); restore a backup from before 0012 instead.
    op.drop_table("network_root_keys")
    with op.batch_alter_table("gateway_secrets") as batch:
        batch.drop_column("kek_id")
    with op.batch_alter_table("network_keys") as batch:
        batch.drop_column("kek_id")
