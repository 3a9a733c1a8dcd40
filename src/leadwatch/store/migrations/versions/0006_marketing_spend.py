"""marketing_spend: spend per site, channel (optionally campaign) and period

Revision ID: 0006_marketing_spend
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from leadwatch.store.models import UTCDateTime

revision = "0006_marketing_spend"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "marketing_spend",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(63), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("campaign", sa.String(200), nullable=True),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_marketing_spend_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketing_spend")),
    )
    op.create_index("ix_marketing_spend_site_id_last_day", "marketing_spend", ["site_id", "last_day"])


def downgrade() -> None:
    op.drop_index("ix_marketing_spend_site_id_last_day", table_name="marketing_spend")
    op.drop_table("marketing_spend")
