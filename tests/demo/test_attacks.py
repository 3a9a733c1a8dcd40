"""The demo's access log and attackers: the lines parse back as written, the attack
strings are what leadwatch's inspection detects, the backfill's lines go through the
real log pipeline (statuses, geo and user-agent enrichment, security events and
incidents, bans of attackers only), live attacks meet the security middleware and
the lead intake, and ``demo reset`` removes all of it."""

from __future__ import annotations

import asyncio
import ipaddress
import random
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from leadwatch.app import create_app
from leadwatch.cli import app as cli
from leadwatch.demo.access_log import BAD_GATEWAY_SHARE, Request, SiteRequests, line
from leadwatch.demo.attacks import (
    ATTACKERS,
    PROBE_PATHS,
    SCANNER_AGENTS,
    SQLI,
    XSS,
    Attack,
    AttackModel,
    Probe,
    backfill_statuses,
)
from leadwatch.demo.simulator import TrafficSimulator
from leadwatch.demo.site import with_demo_site
from leadwatch.demo.traffic import COUNTRIES, Person
from leadwatch.demo.triage import ANALYST, triage
from leadwatch.enrich.geo import GeoLookup
from leadwatch.leads.models import Lead
from leadwatch.logs.parse import parse_combined
from leadwatch.runtime import Runtime
from leadwatch.security import Field, Threat, inspect
from leadwatch.security.bans import active_bans
from leadwatch.security.incidents import summary
from leadwatch.security.models import IpBan, SecurityIncident
from leadwatch.settings import SecuritySettings, Settings
from leadwatch.store.models import now

SITE = "reboot-media-demo"
ATTACKER_IPS = {ip for ip, _ in ATTACKERS}


class _App:  # the backfill needs no app
    class state:
        runtime = None


def _threats(value: str, field: Field) -> set[Threat]:
    return {f.threat for f in inspect(value, field)}


def test_attackers_are_in_their_countries_and_never_visitors() -> None:
    geo = GeoLookup()
    visitor_prefixes = {p for _, _, prefixes in COUNTRIES for p in prefixes}
    for ip, country in ATTACKERS:
        assert geo.lookup(ip).country == country, ip
        address = ipaddress.ip_address(ip)
        assert address.is_global and not address.is_loopback, ip  # the synthetic monitor is local
        assert ip.rsplit(".", 1)[0] not in visitor_prefixes and not ip.startswith("66.249."), ip


def test_attack_strings_are_what_inspection_detects() -> None:
    for payload in SQLI:
        assert Threat.SQLI in _threats(quote(payload, safe=""), Field.QUERY), payload
        assert Threat.SQLI in _threats(payload, Field.FORM), payload
    for payload in XSS:
        assert Threat.XSS in _threats(quote(payload, safe=""), Field.QUERY), payload
        assert Threat.XSS in _threats(payload, Field.FORM), payload
    for path in PROBE_PATHS:
        assert Threat.PROBE in _threats(path, Field.PATH), path
    for agent in SCANNER_AGENTS:
        assert Threat.SCANNER in _threats(agent, Field.HEADER), agent


def test_backfill_statuses_are_the_apps_answers() -> None:
    security = SecuritySettings()
    model = AttackModel(random.Random(1), SITE, "website", security)
    flood = model.attack("flood")
    statuses = backfill_statuses(flood, security)
    assert len(flood.steps) > security.flood_requests_per_minute
    assert flood.steps[-1].at < 60  # a flood the detector sees within its minute
    assert statuses[:security.flood_burst] == [200] * security.flood_burst
    assert statuses.count(429) > 0 and set(statuses) == {200, 429}
    sqli = Attack("sqli", ATTACKERS[0][0], "curl/8.5.0", [
        Probe(0, "GET", "/demo/?id=" + quote(SQLI[0], safe=""), "sqli"),
        Probe(1, "POST", "/api/leads", "sqli", {"company": SQLI[0]}),
        Probe(2, "POST", "/api/leads", "xss", {"message": XSS[0]}),
        Probe(3, "GET", "/.env", "probe"),
    ])
    assert backfill_statuses(sqli, security) == [403, 403, 201, 404]
    # A user agent whose threat is blocked is refused whatever it asks for.
    scanner = Attack("scanner", ATTACKERS[0][0], SCANNER_AGENTS[0], [Probe(0, "GET", "/.env", "probe")])
    assert backfill_statuses(scanner, SecuritySettings(block_threats=["scanner"])) == [403]


def test_a_banned_attacker_moves_to_another_of_its_addresses() -> None:
    model = AttackModel(random.Random(2), SITE, "website", SecuritySettings())
    free, *banned = (ip for ip, _ in ATTACKERS)
    assert {model.attack("xss", banned=banned).ip for _ in range(30)} == {free}
    assert model.attack("xss", banned=list(ATTACKER_IPS)).ip in ATTACKER_IPS  # all banned: still comes


def test_access_log_lines_parse_back_as_written() -> None:
    at = datetime(2026, 3, 4, 5, 6, 7)
    request = Request(at, "2.99.199.7", "GET", "/demo/?utm_source=x&q=%22a%22", 200, 7001, 0.042,
                      'Mozilla/5.0 "quoted" \\ agent', "https://www.google.com/")
    record = parse_combined(line(request), SITE)
    assert (record.ts, record.source_ip, record.method, record.path, record.query) == (
        at, "2.99.199.7", "GET", "/demo/", "utm_source=x&q=%22a%22")
    assert (record.status, record.bytes, record.duration) == (200, 7001, 0.042)
    assert record.user_agent == request.user_agent and record.referrer == request.referrer


def test_browsers_revalidate_ask_for_missing_icons_and_rarely_meet_a_502() -> None:
    requests = SiteRequests(random.Random(5), "http://127.0.0.1:8000")
    iphone = Person("2.99.199.9", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X)", "mobile", "GB")
    at = datetime(2026, 3, 4, 12)
    new = requests.page(iphone, at, "/demo/", None, first=True, returning=False, answer=(200, 7000, 0.03))
    assert {(r.target, r.status) for r in new} == {
        ("/demo/", 200), ("/demo/static/site.css", 200), ("/lw.js", 200), ("/favicon.ico", 404),
        ("/apple-touch-icon.png", 404)}
    assert all(r.referrer == "http://127.0.0.1:8000/demo/" for r in new[1:])
    back = requests.page(iphone, at, "/demo/contact", None, first=True, returning=True, answer=(200, 7000, 0.03))
    assert {r.status for r in back[1:]} == {304}
    later = requests.page(iphone, at, "/demo/services/seo", "x", first=False, returning=False, answer=(200, 1, 0.01))
    assert [r.target for r in later] == ["/demo/services/seo"]
    drawn = [requests.page(iphone, at, "/demo/", None, first=False, returning=False)[0].status
             for _ in range(20_000)]
    assert set(drawn) == {200, 502}
    assert 0.5 * BAD_GATEWAY_SHARE < drawn.count(502) / len(drawn) < 2 * BAD_GATEWAY_SHARE


def _flush(runtime: Runtime) -> None:
    """Everything written: closing a buffer waits for a batch its thread is writing (a
    flush would not), and the incident tracker's last pass writes what was queued."""
    runtime.logs.buffer.close()
    runtime.event_buffer.close()
    runtime.security.incidents.close()


def test_backfill_logs_and_attacks_go_through_the_real_pipelines_and_reset_removes_them(
    settings_for: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = with_demo_site(settings_for(demo={
        "enabled": True, "visitors_per_day": 300, "backfill_days": 2, "attacks_per_day": 8, "seed": 3}))
    with Runtime(settings) as runtime:
        runtime.start()
        simulator = TrafficSimulator(runtime, _App)  # type: ignore[arg-type]
        until = now()
        assert simulator.backfill(until) > 300
        # One attack of each kind (the backfill draws them at random), and a scanner
        # long enough to be caught probing, half a day ago.
        at = until - timedelta(hours=12)
        for kind in ("scanner", "sqli", "xss", "form_spam", "flood"):
            simulator._attack_past(simulator.attacks.attack(kind), at, until)
        scanner = Attack("scanner", ATTACKERS[1][0], SCANNER_AGENTS[1],
                         [Probe(i * 2.0, "GET", PROBE_PATHS[i % len(PROBE_PATHS)], "probe") for i in range(25)])
        simulator._attack_past(scanner, at + timedelta(hours=1), until)
        _flush(runtime)

        rows = runtime.events.query(
            "SELECT status, count(*) AS n, min(ts) AS first FROM logs "
            "WHERE site_id = :site AND dataset = 'access' GROUP BY status", {"site": SITE})
        statuses = {r["status"] for r in rows}
        assert {200, 202, 303, 304, 403, 404, 429} <= statuses
        assert sum(r["n"] for r in rows) == simulator.stats["log_lines"]
        assert min(r["first"] for r in rows) < until.replace(tzinfo=None) - timedelta(days=1)
        enriched = runtime.events.query(
            "SELECT country, browser, device, bot, channel, count(*) AS n FROM logs "
            "WHERE site_id = :site AND dataset = 'access' GROUP BY ALL", {"site": SITE})
        assert {r["country"] for r in enriched} >= {"GB", "US", "DE", "CN"}
        assert {r["browser"] for r in enriched} >= {"Chrome", "Safari"}
        assert {r["device"] for r in enriched} >= {"desktop", "mobile"}
        assert {r["bot"] for r in enriched} == {"true", "false"}  # Googlebot and people
        assert {r["channel"] for r in enriched} >= {"Organic Search", "Paid Search", "Email"}

        # Log-borne detections are security events of their past times...
        events = runtime.events.query(
            "SELECT name, min(ts) AS first FROM events WHERE site_id = :site AND type = 'security' "
            "GROUP BY name", {"site": SITE})
        assert {e["name"] for e in events} >= {"probe", "scanner", "sqli", "xss", "flood", "form_spam", "probing"}
        assert min(e["first"] for e in events) < until.replace(tzinfo=None) - timedelta(hours=11)
        # ...grouped into incidents of the demo site, and only attackers are banned, by
        # bans not yet over (tests below: when detections and bans of the past are dated).
        found = summary(runtime.records, SITE, until - timedelta(days=3), until + timedelta(hours=1))
        assert set(found["by_threat"]) >= {"probe", "scanner", "sqli", "xss", "flood", "form_spam", "probing"}
        with runtime.records.session() as session:
            first_seen = session.scalar(select(func.min(SecurityIncident.first_seen_at)))
            ban_rows = session.scalars(select(IpBan)).all()
        assert first_seen is not None and first_seen < until - timedelta(hours=11)
        assert {b.network.removesuffix("/32") for b in ban_rows} <= ATTACKER_IPS
        assert all(b.expires_at > until for b in ban_rows)

        stored = runtime.events.query("SELECT count(*) AS n FROM logs WHERE site_id = :s", {"s": SITE})[0]["n"]
        assert stored > simulator.stats["log_lines"]  # the access lines and their security copies

    # `leadwatch demo reset`, as a user runs it once the server is stopped.
    monkeypatch.setenv("LEADWATCH_DATA_DIR", str(settings.storage.data_dir))
    result = CliRunner().invoke(cli, ["demo", "reset", "--yes"])
    assert result.exit_code == 0, result.output
    assert f"{stored} logs" in result.output and f"{found['incidents']} security_incidents" in result.output
    assert f"{len(ban_rows)} ip_bans" in result.output
    with Runtime(settings) as runtime:
        assert runtime.events.count(site_id=SITE) == 0
        assert runtime.events.query("SELECT count(*) AS n FROM logs WHERE site_id = :s", {"s": SITE})[0]["n"] == 0
        with runtime.records.session() as session:
            assert session.scalar(select(func.count()).select_from(SecurityIncident)) == 0
            assert session.scalar(select(func.count()).select_from(IpBan)) == 0


def test_a_backfill_detects_and_bans_its_attackers_when_they_attacked(
    settings_for: Callable[..., Settings],
) -> None:
    """The backfill's log lines are received at their simulated time: each incident is
    detected within a detector's window of its first event (not on the day of the
    backfill), and only attackers active within the last ``ban_seconds`` are banned,
    for ``ban_seconds`` from their detection."""
    settings = with_demo_site(settings_for(demo={
        "enabled": True, "visitors_per_day": 0, "backfill_days": 2, "attacks_per_day": 24, "seed": 3}))
    security = settings.security
    with Runtime(settings) as runtime:
        runtime.start()
        simulator = TrafficSimulator(runtime, _App)  # type: ignore[arg-type]
        until = now()
        simulator.backfill(until)
        # And two scanners long enough to be banned for probing, from addresses of their
        # own (an attacker's open incident would take their events): eleven hours ago
        # and ten minutes ago.
        old, recent = "203.0.113.7", "203.0.113.8"
        starts = {old: until - timedelta(hours=11), recent: until - timedelta(minutes=10)}
        for ip, start in starts.items():
            simulator._attack_past(Attack("scanner", ip, SCANNER_AGENTS[1], [
                Probe(i * 2.0, "GET", PROBE_PATHS[i % len(PROBE_PATHS)], "probe") for i in range(25)
            ]), start, until)
        _flush(runtime)

        with runtime.records.session() as session:
            incidents = session.scalars(select(SecurityIncident)).all()
            ban_rows = session.scalars(select(IpBan)).all()
        assert simulator.stats["attacks"] > 30 and {i.threat for i in incidents} >= {"probing", "sqli"}
        window = timedelta(seconds=max(security.probing_window_seconds, security.form_spam_window_seconds, 60))
        assert all(i.first_seen_at <= i.detected_at <= i.first_seen_at + window for i in incidents)
        ban_seconds = timedelta(seconds=security.ban_seconds)
        assert all(b.expires_at == b.created_at + ban_seconds > until for b in ban_rows)

        # The 21st probe (40 s in) crosses security.probing_requests: detected then, and
        # banned from then when that ban is not over yet.
        detected = {ip: start + timedelta(seconds=40) for ip, start in starts.items()}
        bans = {b.network.removesuffix("/32") for b in active_bans(runtime.records)}
        assert recent in bans and old not in bans
        assert runtime.guard.bans.banned(recent) == detected[recent] + ban_seconds
        probing = {i.ip: i for i in incidents if i.threat == "probing"}
        assert {ip: (probing[ip].first_seen_at, probing[ip].detected_at) for ip in starts} == {
            ip: (start.replace(microsecond=0), detected[ip]) for ip, start in starts.items()}  # logs keep seconds
        assert (probing[old].contained, probing[recent].contained) == (0, 1)  # logged; banned


def test_live_attacks_meet_the_middleware_and_the_lead_intake(settings_for: Callable[..., Settings]) -> None:
    settings = settings_for(demo={"enabled": True, "visitors_per_day": 0, "backfill_days": 0,
                                  "attacks_per_day": 0, "speed": 10_000})
    app = create_app(settings)
    ip = ATTACKERS[2][0]
    attack = Attack("sqli", ip, "python-requests/2.31.0", [
        Probe(0, "GET", "/demo/services/seo?id=" + quote(SQLI[0], safe=""), "sqli"),
        Probe(1, "GET", "/demo/?q=" + quote(XSS[0], safe=""), "xss"),
        Probe(2, "POST", "/api/leads", "sqli", {"site_id": SITE, "name": "A", "email": "a@mail-blast.example",
                                                "company": SQLI[0], "website": "x"}),
        Probe(3, "POST", "/api/leads", "xss", {"site_id": SITE, "name": "A", "email": "b@mail-blast.example",
                                               "message": XSS[0], "website": "x"}),
        *(Probe(4 + i, "GET", PROBE_PATHS[i % len(PROBE_PATHS)], "probe") for i in range(22)),
        Probe(30, "GET", "/demo/"),  # banned for probing by now
    ])
    with TestClient(app):
        runtime = app.state.runtime
        simulator = TrafficSimulator(runtime, app)

        async def play() -> None:
            await simulator.play_attack_live(attack)
            await simulator.flush_live_log()

        asyncio.run(play())
        _flush(runtime)
        logged = Counter(int(r["status"]) for r in runtime.events.query(
            "SELECT status FROM logs WHERE site_id = :site AND dataset = 'access' AND source_ip = :ip",
            {"site": SITE, "ip": ip}))
        # What the app answered: SQLi refused in the query and the form (403), the XSS
        # page served (200, flagged) and the form post taken (201, refused as spam), the
        # probes not found until the ban, and everything after it refused (the last page).
        assert sum(logged.values()) == len(attack.steps)
        assert (logged[200], logged[201]) == (1, 1) and logged[404] >= 15
        assert logged[403] == len(attack.steps) - 2 - logged[404] >= 3
        assert runtime.guard.bans.banned(ip) is not None
        field = runtime.events.dialect.json_field
        sources = runtime.events.query(
            f"SELECT name, {field('props', 'source')} AS source, {field('props', 'action')} AS action "
            "FROM events WHERE site_id = :site AND type = 'security'", {"site": SITE})
        seen = {(e["name"], e["source"], e["action"]) for e in sources}
        assert {("sqli", "middleware", "blocked"), ("xss", "middleware", "flagged"), ("sqli", "leads", "blocked"),
                ("xss", "leads", "flagged"), ("probing", "middleware", "banned")} <= seen
        with runtime.records.session() as session:
            leads = session.scalars(select(Lead).where(Lead.site_id == SITE)).all()
            incidents = session.scalars(select(SecurityIncident).where(SecurityIncident.ip == ip)).all()
        # The bots' posts never count as leads; the intake keeps them, refused and flagged.
        assert {lead.rejected_reason for lead in leads} == {"blocked_sqli", "spam_honeypot"}
        assert {f["threat"] for lead in leads for f in lead.flags or ()} == {"sqli", "xss"}
        assert {i.threat for i in incidents} >= {"sqli", "xss", "probe", "probing"}


@pytest.mark.parametrize("seed", [5, None])  # None: the default, an unseeded demo
def test_the_demo_analyst_judges_the_backfills_incidents_when_due(
    settings_for: Callable[..., Settings], seed: int | None,
) -> None:
    settings = with_demo_site(settings_for(demo={
        "enabled": True, "visitors_per_day": 0, "backfill_days": 2, "attacks_per_day": 24, "seed": seed}))
    with Runtime(settings) as runtime:
        runtime.start()
        simulator = TrafficSimulator(runtime, _App)  # type: ignore[arg-type]
        until = now()
        simulator.backfill(until)  # ends with the analyst's verdicts due by then
        with runtime.records.session() as session:
            incidents = session.scalars(select(SecurityIncident)).all()
        judged = [i for i in incidents if i.resolved_by == ANALYST]
        assert len(judged) > 10 and {i.status for i in judged} <= {"resolved", "benign_positive", "false_positive"}
        assert all(i.detected_at < i.resolved_at <= until for i in judged)
        # Judged as the history unfolded: no verdict before the incident's last event.
        assert all(i.last_seen_at <= i.resolved_at for i in judged)
        # Nothing older than a few hours waits: the analyst's delay is minutes, rarely an hour.
        waiting = [i for i in incidents if i.status == "open"]
        assert all(i.detected_at > until - timedelta(hours=3) for i in waiting)
        found = summary(runtime.records, SITE, until - timedelta(days=3), until)
        assert found["mttr_seconds"] is not None and found["mttr_seconds"] < 3600
        # The verdicts do not change when the analyst looks again.
        assert triage(runtime.records, SITE, until, settings.demo.seed) == 0
