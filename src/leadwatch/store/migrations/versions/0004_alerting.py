"""alert incidents, their timeline, and silences (incl. maintenance windows)

Revision ID: 0004_alerting
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from leadwatch.store.models import UTCDateTime

revision = "0004_alerting"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedup_key", sa.String(64), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("service", sa.String(63), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("group_labels", sa.JSON(), nullable=False),
        sa.Column("alerts", sa.JSON(), nullable=False),
        sa.Column("runbook_url", sa.String(500), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("acknowledged_at", UTCDateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(150), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("next_step", sa.Integer(), nullable=False),
        sa.Column("next_step_at", UTCDateTime(), nullable=True),
        sa.Column("notified", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_incidents")),
    )
    op.create_index(
        "ix_alert_incidents_dedup_key_status", "alert_incidents", ["dedup_key", "status"]
    )
    op.create_table(
        "alert_incident_timeline",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(150), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["alert_incidents.id"],
            name=op.f("fk_alert_incident_timeline_incident_id_alert_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_incident_timeline")),
    )
    op.create_index(
        op.f("ix_alert_incident_timeline_incident_id"), "alert_incident_timeline", ["incident_id"]
    )
    op.create_table(
        "alert_silences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("matchers", sa.JSON(), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("comment", sa.String(500), nullable=False),
        sa.Column("created_by", sa.String(150), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expired_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_silences")),
    )


def downgrade() -> None:
    op.drop_table("alert_silences")
    op.drop_index(op.f("ix_alert_incident_timeline_incident_id"), table_name="alert_incident_timeline")
    op.drop_table("alert_incident_timeline")
    op.drop_index("ix_alert_incidents_dedup_key_status", table_name="alert_incidents")
    op.drop_table("alert_incidents")
