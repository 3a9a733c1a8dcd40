"""The traffic simulator's backfill through the real collector and lead intake, the
traffic model's ground truth (channels, countries), and demo reset."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from leadwatch.demo.reset import delete_demo_events, delete_demo_records
from leadwatch.demo.simulator import TrafficSimulator
from leadwatch.demo.site import with_demo_site
from leadwatch.demo.traffic import CHANNELS, COUNTRIES
from leadwatch.enrich.geo import GeoLookup
from leadwatch.leads.models import Lead, LeadActivity
from leadwatch.marketing.analytics import Scope
from leadwatch.marketing.channels import classify_channel, source_lists
from leadwatch.marketing.experiments import experiments
from leadwatch.runtime import Runtime
from leadwatch.settings import Settings
from leadwatch.store.models import now
from leadwatch.store.schema import Event

SITE = "reboot-media-demo"


class _App:  # the backfill needs no app; the live loop is tested by test_browser's server
    class state:
        runtime = None


@pytest.mark.parametrize("channel", CHANNELS, ids=lambda c: c.name)
def test_every_channel_is_classified_as_intended(channel) -> None:  # type: ignore[no-untyped-def]
    utms = channel.utm or ({},)
    for referrer in channel.referrers or (None,):
        for utm in utms:
            found = classify_channel(
                referrer=referrer, utm_source=utm.get("utm_source"), utm_medium=utm.get("utm_medium"),
                utm_campaign=utm.get("utm_campaign"),
                click_ids=[channel.click_id] if channel.click_id in source_lists().click_ids else [],
                site_domain=None,
            )
            assert found == channel.name, (referrer, utm)


def test_visitor_addresses_are_in_their_countries() -> None:
    geo = GeoLookup()
    for _, country, prefixes in COUNTRIES:
        for prefix in prefixes:
            assert {geo.lookup(f"{prefix}.{n}").country for n in (2, 128, 253)} == {country}, prefix


def test_backfill_writes_real_visits_and_leads_and_reset_removes_them(
    settings_for: Callable[..., Settings],
) -> None:
    settings = with_demo_site(settings_for(
        demo={"enabled": True, "visitors_per_day": 400, "backfill_days": 3, "seed": 7}
    ))
    with Runtime(settings) as runtime:
        runtime.start()
        other = Event(site_id="default", ts=now().replace(tzinfo=None), type="pageview", path="/").row()
        runtime.event_buffer.add([other])
        simulator = TrafficSimulator(runtime, _App)  # type: ignore[arg-type]
        assert simulator.backfill() > 500
        runtime.event_buffer.close()  # waits for a batch its thread is writing (flush would not)

        rows = runtime.events.query(
            "SELECT type, channel, country, device, count(*) AS n, min(ts) AS first FROM events "
            "WHERE site_id = :site GROUP BY ALL", {"site": SITE})
        kinds = {r["type"] for r in rows}
        assert {"pageview", "vital", "engagement", "form_start", "form_submit"} <= kinds
        assert {r["channel"] for r in rows if r["type"] == "pageview"} >= {
            "Organic Search", "Paid Search", "Direct", "Email", "Referral"}
        assert {r["country"] for r in rows} >= {"GB", "US", "IE"}
        assert {r["device"] for r in rows} >= {"desktop", "mobile"}
        assert min(r["first"] for r in rows) < now().replace(tzinfo=None) - timedelta(days=2)
        vitals = runtime.events.query(
            "SELECT name, count(*) AS n FROM events WHERE site_id = :site AND type = 'vital' GROUP BY name",
            {"site": SITE})
        assert {v["name"] for v in vitals} == {"LCP", "CLS", "INP", "FCP", "TTFB", "FID"}

        with runtime.records.session() as session:
            leads = session.scalars(select(Lead).where(Lead.site_id == SITE)).all()
            real = [lead for lead in leads if lead.rejected_reason is None]
            assert len(real) >= 5
            assert all(lead.touches and lead.touches["first"]["channel"] == lead.channel for lead in real)
            assert len({lead.tier for lead in real}) >= 2
            assert {lead.rejected_reason for lead in leads} & {"spam_honeypot", "spam_too_fast"}
            assert session.scalar(select(func.count()).select_from(LeadActivity)) > 0
        assert simulator.stats["leads"] == len(real)

        # The contact page's A/B test: exposures split evenly, leads carry their variant.
        assert {lead.experiments["contact-cta"] for lead in real} <= {"control", "book-call"}
        assert all(lead.experiments for lead in real)
        (cta,) = experiments(runtime.events, runtime.records, Scope(
            SITE, now().replace(tzinfo=None) - timedelta(days=4), now().replace(tzinfo=None)),
            runtime.settings.collect.experiments)
        assert cta["name"] == "contact-cta" and cta["control"] == "control"
        assert [v["variant"] for v in cta["variants"]] == ["control", "book-call"]
        assert min(v["visitors"] for v in cta["variants"]) > 20 and not cta["srm"]["mismatch"]

        events = delete_demo_events(runtime.events, SITE)
        records = delete_demo_records(runtime.records, SITE)
        assert events["events"] > 0 and records["leads"] == len(leads)
        assert runtime.events.count(site_id=SITE) == 0
        assert runtime.events.count(site_id="default") == 1
        with runtime.records.session() as session:
            assert session.scalar(select(func.count()).select_from(Lead).where(Lead.site_id == SITE)) == 0
            assert session.scalar(select(func.count()).select_from(LeadActivity)) == 0


def last_wednesday_noon() -> datetime:
    """The latest Wednesday 12:00 UTC up to now."""
    t = now()
    noon = (t - timedelta(days=(t.weekday() - 2) % 7)).replace(hour=12, minute=0, second=0, microsecond=0)
    return noon if noon <= t else noon - timedelta(days=7)


def test_the_demo_analyst_restores_a_prospect_the_sql_injection_check_refused(
    settings_for: Callable[..., Settings],
) -> None:
    """A prospect quoting "=" is refused as SQL injection (a known false refusal); the
    demo's analyst calls the incident a false positive and restores the lead, which
    sales then follow up, all at the history's times."""
    from leadwatch.demo.traffic import QUOTING_PROSPECT
    from leadwatch.demo.triage import ANALYST
    from leadwatch.security.models import SecurityIncident

    settings = with_demo_site(settings_for(
        demo={"enabled": True, "visitors_per_day": 400, "backfill_days": 3, "seed": 2, "attacks_per_day": 0}
    ))
    with Runtime(settings) as runtime:
        runtime.start()
        # The traffic follows the time of day and week: a history that ends at the same
        # point of the week is the same seeded history every run (ending "now", one run
        # in four had no prospect quoting a symbol). This one has three.
        until = last_wednesday_noon()
        TrafficSimulator(runtime, _App).backfill(until)  # type: ignore[arg-type]
        with runtime.records.session() as session:
            quoting = session.scalars(select(Lead).where(Lead.message == QUOTING_PROSPECT)).all()
            assert quoting, "no prospect quoted a symbol in this history: change the seed"
            for lead in quoting:
                assert lead.rejected_reason is None and lead.flags == [{"field": "message", "threat": "sqli"}]
                acts = session.scalars(select(LeadActivity).where(LeadActivity.lead_id == lead.id)
                                       .order_by(LeadActivity.at)).all()
                assert acts[0].status == "restored" and ANALYST in (acts[0].note or "")
                assert lead.created_at < acts[0].at <= until
                assert [a.status for a in acts[1:2]] in ([], ["contacted"])  # sales, after the restore
            sqli = session.scalars(select(SecurityIncident).where(SecurityIncident.threat == "sqli")).all()
            assert len(sqli) == len(quoting)  # no attacks in this history: each is a prospect's
            assert {(i.status, i.resolved_by) for i in sqli} == {("false_positive", ANALYST)}
