"""privacy_requests: the audit of data-subject exports, erasures and retention runs

Revision ID: 0008_privacy_requests
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from leadwatch.store.models import UTCDateTime

revision = "0008_privacy_requests"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject_hash", sa.String(64), nullable=True),
        sa.Column("site_id", sa.String(63), nullable=True),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("actor", sa.String(150), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_requests")),
    )
    op.create_index("ix_privacy_requests_subject_hash", "privacy_requests", ["subject_hash"])


def downgrade() -> None:
    op.drop_index("ix_privacy_requests_subject_hash", table_name="privacy_requests")
    op.drop_table("privacy_requests")
