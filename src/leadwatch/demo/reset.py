"""``leadwatch demo reset``: delete every row the demo wrote. Demo rows are the rows of
the demo site (``demo.site_id``): events (page views, vitals, security events), log
records, probe results and the analytics' daily rollup in the event store; leads with
their follow-ups and security incidents in the record store; and the bans of the demo's
attacker addresses (a ban belongs to an address, not a site). Other sites are not touched."""

from __future__ import annotations

from sqlalchemy import delete, select

from leadwatch.demo.attacks import ATTACKERS
from leadwatch.leads.models import Lead, LeadActivity
from leadwatch.security.bans import parse_network
from leadwatch.security.models import IpBan, SecurityIncident
from leadwatch.store.events import EventStore
from leadwatch.store.records import RecordStore
from leadwatch.store.schema import ANALYTICS_DAYS, EVENTS, LOGS, PROBE_RESULTS


def delete_demo_events(events: EventStore, site_id: str) -> dict[str, int]:
    """Rows deleted per event table."""
    return {table.name: events.delete(table, "site_id = :site", {"site": site_id})
            for table in (EVENTS, LOGS, PROBE_RESULTS, ANALYTICS_DAYS)}


def delete_demo_records(records: RecordStore, site_id: str) -> dict[str, int]:
    """Rows deleted per record table."""
    with records.session() as session:
        lead_ids = select(Lead.id).where(Lead.site_id == site_id).scalar_subquery()
        activities = session.execute(delete(LeadActivity).where(LeadActivity.lead_id.in_(lead_ids)))
        # Duplicates point at their first lead: unlink before deleting.
        session.execute(
            Lead.__table__.update().where(Lead.site_id == site_id).values(duplicate_of=None)
        )
        leads = session.execute(delete(Lead).where(Lead.site_id == site_id))
        incidents = session.execute(delete(SecurityIncident).where(SecurityIncident.site_id == site_id))
        attackers = [str(parse_network(ip)) for ip, _ in ATTACKERS]
        bans = session.execute(delete(IpBan).where(IpBan.network.in_(attackers)))
        return {"leads": int(leads.rowcount or 0), "lead_activities": int(activities.rowcount or 0),
                "security_incidents": int(incidents.rowcount or 0), "ip_bans": int(bans.rowcount or 0)}
