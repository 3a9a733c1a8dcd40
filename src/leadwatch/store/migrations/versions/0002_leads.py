"""leads, their follow-up history (idempotency keys are a unique column of leads),
and the notification outbox

Revision ID: 0002_leads
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from leadwatch.store.models import UTCDateTime

revision = "0002_leads"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(63), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rejected_reason", sa.String(32), nullable=True),
        sa.Column("duplicate_of", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("phone", sa.String(50), nullable=True),
        sa.Column("company", sa.String(200), nullable=True),
        sa.Column("company_size", sa.String(32), nullable=True),
        sa.Column("industry", sa.String(100), nullable=True),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("budget", sa.String(100), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("consent", sa.JSON(), nullable=True),
        sa.Column("page_url", sa.String(2048), nullable=True),
        sa.Column("referrer", sa.String(2048), nullable=True),
        sa.Column("utm_source", sa.String(200), nullable=True),
        sa.Column("utm_medium", sa.String(200), nullable=True),
        sa.Column("utm_campaign", sa.String(200), nullable=True),
        sa.Column("utm_term", sa.String(200), nullable=True),
        sa.Column("utm_content", sa.String(200), nullable=True),
        sa.Column("click_ids", sa.JSON(), nullable=True),
        sa.Column("experiments", sa.JSON(), nullable=True),
        sa.Column("touches", sa.JSON(), nullable=True),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("score_breakdown", sa.JSON(), nullable=True),
        sa.Column("model_version", sa.String(40), nullable=True),
        sa.Column("follow_up_due", UTCDateTime(), nullable=True),
        sa.Column("contacted_at", UTCDateTime(), nullable=True),
        sa.Column("outcome_at", UTCDateTime(), nullable=True),
        sa.Column("won_value", sa.Float(), nullable=True),
        sa.Column("flags", sa.JSON(), nullable=True),
        sa.Column("idempotency_key", sa.String(128), nullable=True),
        sa.Column("client_key", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_leads_site_id_sites")),
        sa.ForeignKeyConstraint(
            ["duplicate_of"], ["leads.id"], name=op.f("fk_leads_duplicate_of_leads"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
        sa.UniqueConstraint("site_id", "idempotency_key", name=op.f("uq_leads_site_id_idempotency_key")),
    )
    op.create_index("ix_leads_site_id_email_created_at", "leads", ["site_id", "email", "created_at"])
    op.create_index(
        "ix_leads_site_id_client_key_created_at", "leads", ["site_id", "client_key", "created_at"]
    )
    op.create_index("ix_leads_site_id_created_at", "leads", ["site_id", "created_at"])
    op.create_index(op.f("ix_leads_follow_up_due"), "leads", ["follow_up_due"])

    op.create_table(
        "lead_activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_lead_activities_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_activities")),
    )
    op.create_index(op.f("ix_lead_activities_lead_id"), "lead_activities", ["lead_id"])

    op.create_table(
        "notify_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("receiver", sa.String(63), nullable=False),
        sa.Column("message", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("claim_token", sa.String(32), nullable=True),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_outbox")),
    )
    op.create_index(
        "ix_notify_outbox_status_next_attempt_at", "notify_outbox", ["status", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_table("notify_outbox")
    op.drop_table("lead_activities")
    op.drop_table("leads")
