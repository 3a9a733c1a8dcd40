"""security: at most one open incident per site, address and threat

Replicas group security events on their own; without this index two of them could
open an incident each for the same attacker at the same instant. Open duplicates
made before it are resolved, their note naming the newest one, which stays open.

Revision ID: 0007_security_open_incident
Revises: 0003_security
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_security_open_incident"
down_revision = "0003_security"
branch_labels = None
depends_on = None

OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    incidents = sa.table("security_incidents", *(sa.column(c) for c in (
        "id", "site_id", "ip", "threat", "status", "last_seen_at", "resolved_at", "resolved_by", "note")))
    conn = op.get_bind()
    newest: dict[tuple[str, str, str], int] = {}
    for row in conn.execute(sa.select(incidents).where(incidents.c.status == "open")
                            .order_by(incidents.c.id.desc())).all():
        keeper = newest.setdefault((row.site_id, row.ip, row.threat), row.id)
        if keeper != row.id:
            conn.execute(incidents.update().where(incidents.c.id == row.id).values(
                status="resolved", resolved_at=row.last_seen_at, resolved_by="auto",
                note=f"duplicate of incident {keeper}"))
    op.create_index("ux_security_incidents_open", "security_incidents", ["site_id", "ip", "threat"],
                    unique=True, sqlite_where=OPEN, postgresql_where=OPEN)


def downgrade() -> None:
    op.drop_index("ux_security_incidents_open", table_name="security_incidents")
