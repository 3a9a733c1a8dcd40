"""The pages beyond operations, on both backends: data goes in through each
capability's real entry points (the collector, POST /api/leads, the security log,
POST /api/v1/logs, Alertmanager's webhook) and the key numbers a page shows must
equal what the admin API answers for the same site and range."""

from __future__ import annotations

import html as htmllib
import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from leadwatch.app import create_app
from leadwatch.security.events import Action, SecurityEvent
from leadwatch.settings import TIERS, Settings
from leadwatch.store.schema import utcnow
from tests.conftest import ADMIN
from tests.dashboards.conftest import TESTER, as_tester

SITE = "https://rebootmedia.example"
DESKTOP = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/131.0.0.0 Safari/537.36")
MOBILE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")


def keyed(html: str) -> dict[str, str]:
    """The numbers a page marks with ``data-key``, by key."""
    return {k: htmllib.unescape(re.sub(r"<[^>]+>", "", v)).strip()
            for k, v in re.findall(r'data-key="([^"]+)">(.*?)</', html, flags=re.DOTALL)}


def num(text: str) -> float:
    return float(text.replace(",", "").replace("%", "").replace("ms", "").strip())


@pytest.fixture
def seeded(settings_for: Any, backend: str) -> Any:
    settings: Settings = settings_for(
        backend, security={"enabled": False},
        leads={"rate_limit_per_email": 100, "rate_limit_per_ip": 100,
               "sites": {"default": {"target_countries": ["GB"], "target_industries": ["software"]}}},
    )
    with TestClient(as_tester(create_app(settings))) as client:
        runtime = client.app.state.runtime
        site = runtime.settings.sites[0]
        now = utcnow()
        visits = [
            ("198.51.100.1", DESKTOP, [
                {"type": "pageview", "url": SITE + "/", "referrer": "https://www.google.com/"},
                {"type": "vital", "name": "LCP", "value": 2000, "url": SITE + "/"},
                {"type": "pageview", "url": SITE + "/contact"},
                {"type": "form_start", "name": "contact", "url": SITE + "/contact"},
                {"type": "form_submit", "name": "contact", "url": SITE + "/contact"}]),
            ("198.51.100.2", MOBILE, [
                {"type": "pageview", "url": SITE + "/?utm_source=facebook&utm_medium=paid_social"},
                {"type": "vital", "name": "LCP", "value": 5000, "url": SITE + "/"},
                {"type": "vital", "name": "INP", "value": 600, "url": SITE + "/"}]),
            ("198.51.100.3", MOBILE, [{"type": "pageview", "url": SITE + "/pricing"}]),
        ]
        for i, (ip, ua, events) in enumerate(visits):
            result = runtime.collector.collect(site, events, ip=ip, user_agent=ua,
                                               received_at=now - timedelta(minutes=30 - i))
            assert not result.rejected
        for body in (
            {"name": "Ann Example", "email": "ann@example.com", "company": "Acme", "budget": "50k",
             "phone": "+44 20 7946 0000", "company_size": "51-200", "message": "We need a new site and SEO.",
             "utm_source": "google", "utm_medium": "organic", "country": "gb", "industry": "Software"},
            {"name": "Bo Low", "email": "bo@example.com"},
        ):
            assert client.post("/api/leads", json=body).status_code in (200, 201, 202)
        runtime.security_log.record(
            SecurityEvent("default", "sqli", Action.BLOCKED, "test", ip="203.0.113.1", ts=now - timedelta(seconds=40)),
            SecurityEvent("default", "sqli", Action.BLOCKED, "test", ip="203.0.113.1", ts=now - timedelta(seconds=20)),
            SecurityEvent("default", "xss", Action.FLAGGED, "test", ip="203.0.113.2", ts=now),
        )
        runtime.security.incidents.process()
        assert client.post("/api/v1/security/bans", headers=ADMIN, json={"address": "203.0.113.9"}).status_code == 201
        stamp = (now - timedelta(minutes=5)).strftime("%d/%b/%Y:%H:%M:%S +0000")
        lines = [f'192.0.2.{i % 3} - - [{stamp}] "GET /contact HTTP/1.1" {500 if i % 4 == 0 else 200} 512 '
                 f'"-" "{DESKTOP}"' for i in range(12)]
        shipped = client.post("/api/v1/logs", headers={**ADMIN, "Content-Type": "text/plain"},
                              params={"format": "combined"}, content="\n".join(lines).encode())
        assert shipped.status_code == 202, shipped.text
        hook = {
            "version": "4", "groupKey": "{}:{alertname=\"SiteDown\"}", "status": "firing",
            "receiver": "leadwatch-critical", "groupLabels": {"alertname": "SiteDown", "service": "site"},
            "alerts": [{"status": "firing", "startsAt": (now - timedelta(minutes=3)).isoformat() + "Z",
                        "labels": {"alertname": "SiteDown", "service": "site", "severity": "critical"},
                        "annotations": {"summary": "The site is unreachable.", "runbook_url": "https://x/site-down.md"}}],
        }
        assert client.post("/api/v1/alertmanager/webhook", headers=ADMIN, json=hook).status_code in (200, 201, 202)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runtime.event_buffer.flush()
            runtime.logs.buffer.flush()
            if runtime.logs.buffer.depth == 0 and runtime.events.count(runtime.logs.buffer.table) >= 12:
                break
            time.sleep(0.05)
        yield client


def window(client: TestClient) -> dict[str, str]:
    """The page's range as the API's from/to: the custom range of the last two hours."""
    now = utcnow().replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = now - timedelta(hours=2)
    return {"from": f"{start:%Y-%m-%dT%H:%M}", "to": f"{now:%Y-%m-%dT%H:%M}"}


def ui_query(w: dict[str, str]) -> str:
    return f"range=custom&from={w['from']}&to={w['to']}"


def api_range(w: dict[str, str]) -> dict[str, str]:
    return {"site": "default", "from": w["from"] + ":00+00:00", "to": w["to"] + ":00+00:00"}


def test_leads_page_inbox_detail_actions_and_export(seeded: TestClient) -> None:
    w = window(seeded)
    html = seeded.get(f"/ui/leads?{ui_query(w)}").text
    api = seeded.get("/api/v1/leads", headers=ADMIN, params=api_range(w)).json()
    report = seeded.get("/api/v1/leads/scoring-report", headers=ADMIN, params=api_range(w)).json()
    keys = keyed(html)
    assert num(keys["leads-total"]) == api["total"] == 2
    for tier in report["tiers"]:
        assert num(keys[f"tier-{tier['tier']}"]) == tier["leads"]
    # The inbox is sorted by tier: Ann (target country, industry, budget) outranks Bo.
    ann, bo = (next(x for x in api["leads"] if x["name"] == n) for n in ("Ann Example", "Bo Low"))
    assert TIERS.index(ann["tier"]) < TIERS.index(bo["tier"])
    assert html.index("Ann Example") < html.index("Bo Low")
    assert 'href="/ui/leads/export.csv?' in html

    detail_api = seeded.get(f"/api/v1/leads/{ann['id']}", headers=ADMIN).json()
    detail = seeded.get(f"/ui/leads/{ann['id']}").text
    dk = keyed(detail)
    assert num(dk["lead-score"]) == detail_api["score"]
    for name, factor in detail_api["score_breakdown"]["factors"].items():
        assert num(dk[f"points-{name}"]) == factor["points"]
    assert '<input type="hidden" name="csrf_token" value="c">' in detail  # the session's CSRF token
    assert detail_api["score_breakdown"]["engagement"] is None and "neutral" in dk["lead-engagement"]
    # The engagement the score was computed from, as stored with the lead:
    from leadwatch.leads.models import Lead

    with seeded.app.state.runtime.records.session() as session:  # type: ignore[attr-defined]
        row = session.get(Lead, ann["id"])
        row.score_breakdown = {**row.score_breakdown, "engagement": {
            "seconds_on_site": 125.4, "pages_viewed": 4, "downloads": 1, "sessions": 2}}
    engaged = keyed(seeded.get(f"/ui/leads/{ann['id']}").text)["lead-engagement"]
    assert "2 sessions" in engaged and "4 page views" in engaged and "2 min 05 s active" in engaged
    assert "1 download." in engaged

    done = seeded.post(f"/ui/leads/{ann['id']}/followups", data={"status": "won", "value": "1500", "note": "signed"},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith(f"/ui/leads/{ann['id']}")
    after = seeded.get(f"/api/v1/leads/{ann['id']}", headers=ADMIN).json()
    assert after["status"] == "won" and after["won_value"] == 1500
    assert "signed" in seeded.get(f"/ui/leads/{ann['id']}").text
    bad = seeded.post(f"/ui/leads/{ann['id']}/followups", data={"status": "won"})
    assert bad.status_code == 422 and "value" in bad.text
    assert num(keyed(seeded.get(f"/ui/leads?{ui_query(w)}").text)["won-value"]) == 1500

    csv = seeded.get(f"/ui/leads/export.csv?{ui_query(w)}")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text == seeded.get("/api/v1/leads/export.csv", headers=ADMIN, params=api_range(w)).text
    assert seeded.get("/ui/leads/999999").status_code == 404


def test_marketing_page_matches_the_analytics_api(seeded: TestClient) -> None:
    w = window(seeded)
    params = api_range(w)
    html = seeded.get(f"/ui/marketing?{ui_query(w)}&model=linear").text
    keys = keyed(html)
    overview = seeded.get("/api/v1/analytics/overview", headers=ADMIN, params={**params, "interval": "1h"}).json()
    totals = overview["totals"]
    assert num(keys["visitors"]) == totals["visitors"] == 3
    assert num(keys["leads"]) == totals["leads"] == 2
    assert num(keys["conversion-rate"]) == pytest.approx(round(totals["conversion_rate"] * 100, 2))
    steps = seeded.get("/api/v1/analytics/funnel", headers=ADMIN, params=params).json()["steps"]
    for i, step in enumerate(steps):
        assert num(keys[f"funnel-{i}"]) == step["sessions"]
    for c in seeded.get("/api/v1/analytics/channels", headers=ADMIN, params=params).json()["channels"]:
        assert num(keys[f"channel-visitors-{c['channel']}"]) == c["visitors"]
    attribution = seeded.get("/api/v1/analytics/attribution", headers=ADMIN, params=params).json()
    for row in attribution["rows"]:
        assert num(keys[f"attr-channel-{row['key']}"]) == pytest.approx(row["leads"]["linear"], abs=0.005)
    vitals = seeded.get("/api/v1/analytics/vitals", headers=ADMIN, params=params).json()
    for row in vitals["rows"]:
        if row["metric"] != "CLS":
            assert num(keys[f"p75-{row['key']}-{row['metric']}"]) == pytest.approx(row["p75"] * 1000, abs=0.5)
    assert '<option value="linear" selected>' in html
    assert seeded.get("/ui/marketing?model=nope").status_code == 422
    assert 'id="roi-h"' not in html  # no spend, no ROI panel

    month = w["from"][:7]
    spent = seeded.post("/api/v1/marketing/spend", headers=ADMIN,
                        json={"channel": "Organic Search", "campaign": "seo", "month": month, "amount": 2000})
    assert spent.status_code == 201, spent.text
    keys = keyed(seeded.get(f"/ui/marketing?{ui_query(w)}&model=linear").text)
    roi = seeded.get("/api/v1/marketing/roi", headers=ADMIN, params={**params, "model": "linear"}).json()
    assert roi["channel"]["rows"]
    for by in ("channel", "campaign"):
        for r in [*roi[by]["rows"], {**roi[by]["total"], "key": "Total"}]:
            k = f"{by}-{r['key']}"
            assert num(keys[f"roi-spend-{k}"]) == pytest.approx(r["spend"], abs=0.005)
            assert num(keys[f"roi-leads-{k}"]) == pytest.approx(r["leads"], abs=0.005)
            assert num(keys[f"roi-value-{k}"]) == pytest.approx(r["value"], abs=0.005)
            if r["roi"] is not None:
                assert num(keys[f"roi-roi-{k}"]) == pytest.approx(r["roi"] * 100, abs=0.05)


def test_executive_page_matches_the_apis(seeded: TestClient) -> None:
    w = window(seeded)
    html = seeded.get(f"/ui/executive?{ui_query(w)}").text
    keys = keyed(html)
    totals = seeded.get("/api/v1/analytics/overview", headers=ADMIN,
                        params={**api_range(w), "interval": "1h"}).json()["totals"]
    assert num(keys["leads"]) == totals["leads"] == 2
    assert num(keys["leads-today"]) >= 0
    assert num(keys["conversion-rate"]) == pytest.approx(round(totals["conversion_rate"] * 100, 2))
    assert "target 3.0 %" in html
    slos = seeded.get("/api/v1/slos", headers=ADMIN).json()["slos"]
    for slo in slos:
        assert f'data-key="sli-{slo["name"]}"' in html
    rows = seeded.get("/api/v1/analytics/vitals", headers=ADMIN, params={**api_range(w), "by": "all"}).json()["rows"]
    lcp = next(r for r in rows if r["metric"] == "LCP")
    assert num(keys["cwv-LCP"]) == pytest.approx(lcp["p75"] * 1000, abs=0.5)
    assert set(re.findall(r'<div class="chart" id="([\w-]+)"', html)) == {"leads-per-day", "tiers", "sources"}
    series = json.loads(htmllib.unescape(re.search(r'id="leads-per-day"[^>]*data-chart="([^"]+)"', html)[1]))
    span = [datetime.fromisoformat(v).replace(tzinfo=UTC).timestamp() * 1000 for v in api_range(w).values()
            if v != "default"]
    assert [series["xAxis"]["min"], series["xAxis"]["max"]] == span  # the time axis is the page's range
    sources = [v for k, v in keys.items() if k.startswith("source-")]
    assert sources and not any(v.endswith(".0") for v in sources)  # lead counts, not "2.0"
    impact = seeded.get("/api/v1/marketing/revenue-impact", headers=ADMIN, params=api_range(w)).json()
    assert impact["estimate"] and "estimate" in html
    assert num(keys["lost-leads-incidents"].lstrip("≈ ")) == pytest.approx(impact["during_incidents"]["lost_leads"], abs=0.05)
    assert num(keys["lost-leads-drops"].lstrip("≈ ")) == pytest.approx(impact["during_drops"]["lost_leads"], abs=0.05)
    assert [i["title"] for i in impact["incidents"]] == ["The site is unreachable."]  # Alertmanager's, still open
    for i in impact["incidents"]:
        assert num(keys[f"incident-lost-{i['id']}"]) == pytest.approx(i["lost_leads"], abs=0.05)
    assert keys["lost-revenue"] == "–"  # no deal value: neither enough outcomes nor the setting
    ancient = seeded.get("/ui/executive?range=custom&from=0001-01-02T00:00&to=0001-01-05T00:00")
    assert ancient.status_code == 422 and "text/html" in ancient.headers["content-type"] and "from:" in ancient.text


def test_security_page_matches_the_security_api(seeded: TestClient) -> None:
    w = window(seeded)
    html = seeded.get(f"/ui/security?{ui_query(w)}").text
    keys = keyed(html)
    summary = seeded.get("/api/v1/security/summary", headers=ADMIN, params=api_range(w)).json()
    assert num(keys["incidents"]) == summary["incidents"] == 2
    for sev, n in summary["by_severity"].items():
        assert num(keys[f"severity-{sev}"]) == n
    for threat, actions in summary["events"].items():
        for action, n in actions.items():
            assert num(keys[f"events-{threat}-{action}"]) == n
    assert num(keys["bans"]) == summary["bans_active"] == 1
    assert num(keys["ip-203.0.113.1"]) == 2
    assert "<code>203.0.113.9" in html  # the active ban
    # The targets: MTTD < 5 min, MTTR < 15 min, false positives < 10 %.
    assert all(t in html for t in ("target 5 min", "target 15 min", "target 10 %"))


def test_logs_page_search_facets_histogram_and_records(seeded: TestClient) -> None:
    w = window(seeded)
    html = seeded.get(f"/ui/logs?{ui_query(w)}&q=status%3E%3D500").text
    keys = keyed(html)
    api = seeded.get("/api/v1/logs", headers=ADMIN, params={**api_range(w), "q": "status>=500"}).json()
    assert num(keys["log-total"]) == api["total"] == 3
    for name, values in api["facets"].items():
        for v in values:
            assert num(keys[f"facet-{name}-{v['value']}"]) == v["count"]
    assert 'id="histogram"' in html and html.count("<details>") == 3
    broken = seeded.get(f"/ui/logs?{ui_query(w)}&q=status%3E%3Dabc")
    assert broken.status_code == 422 and 'class="error"' in broken.text


def test_alerts_page_lists_incidents_and_acknowledges_them(seeded: TestClient) -> None:
    w = window(seeded)
    incidents = seeded.get("/api/v1/incidents", headers=ADMIN).json()["incidents"]
    assert len(incidents) == 1
    html = seeded.get(f"/ui/alerts?{ui_query(w)}").text
    keys = keyed(html)
    first = incidents[0]
    assert keys[f"incident-{first['id']}"] == first["status"] == "open"
    slos = seeded.get("/api/v1/slos", headers=ADMIN).json()["slos"]
    assert all(f'data-key="budget-{s["name"]}"' in html for s in slos)
    acted = seeded.post(f"/ui/alerts/incidents/{first['id']}/acknowledge", headers={"HX-Request": "true"})
    assert acted.status_code == 204 and acted.headers["HX-Redirect"].startswith("/ui/alerts")
    detail = seeded.get(f"/api/v1/incidents/{first['id']}", headers=ADMIN).json()
    assert detail["status"] == "acknowledged" and detail["acknowledged_by"] == TESTER.username
    assert keyed(seeded.get(f"/ui/alerts?{ui_query(w)}").text)[f"incident-{first['id']}"] == "acknowledged"
    assert seeded.post("/ui/alerts/incidents/9999/resolve").status_code == 404


def test_alerts_page_silences_and_expires_through_the_alerting_api(ui: TestClient) -> None:
    assert "No silences or maintenance windows" in ui.get("/ui/alerts").text
    hx = {"HX-Request": "true"}
    made = ui.post("/ui/alerts/silences", headers=hx, data={
        "matchers": 'service=web, alertname=~"Web(Vitals|LCP),?.*"', "duration": "7200",
        "kind": "maintenance", "comment": "deploy of the new theme"})
    assert made.status_code == 204 and made.headers["HX-Redirect"].startswith("/ui/alerts")
    [silence] = ui.get("/api/v1/silences", headers=ADMIN).json()["silences"]
    assert silence["matchers"] == ["service=web", "alertname=~Web(Vitals|LCP),?.*"]  # the comma in quotes stays
    assert silence["kind"] == "maintenance" and silence["created_by"] == TESTER.username
    span = datetime.fromisoformat(silence["ends_at"]) - datetime.fromisoformat(silence["starts_at"])
    assert span == timedelta(hours=2)
    html = ui.get("/ui/alerts").text
    assert f'data-key="silence-{silence["id"]}"' in html and "deploy of the new theme" in html
    for data, field in (({"matchers": "service=web", "duration": "5", "comment": "x"}, "duration:"),
                        ({"matchers": "service=web", "duration": "²", "comment": "x"}, "duration:"),
                        ({"matchers": " , ", "duration": "3600", "comment": "x"}, "matchers:"),
                        ({"matchers": "alertname=~(", "duration": "3600", "comment": "x"}, "bad regex"),
                        ({"matchers": "service=web", "duration": "3600", "comment": " "}, "comment:")):
        refused = ui.post("/ui/alerts/silences", headers=hx, data=data)
        assert refused.status_code == 422 and field in refused.text, data
    assert len(ui.get("/api/v1/silences", headers=ADMIN).json()["silences"]) == 1
    assert ui.post(f"/ui/alerts/silences/{silence['id']}/expire", headers=hx).status_code == 204
    assert ui.get("/api/v1/silences", headers=ADMIN).json()["silences"] == []
    again = ui.post(f"/ui/alerts/silences/{silence['id']}/expire", headers=hx)
    assert again.status_code == 404 and "no active silence" in again.text


def test_pages_list_every_page_in_the_navigation(ui: TestClient) -> None:
    html = ui.get("/ui/executive").text
    for path in ("/ui/executive", "/ui/ops", "/ui/marketing", "/ui/leads", "/ui/security", "/ui/logs", "/ui/alerts"):
        assert f'href="{path}?site=default' in html
        assert ui.get(path).status_code == 200, path


def test_operations_page_shows_access_log_routes_as_logs_queries_counts_them(seeded: TestClient) -> None:
    from leadwatch.logs.queries import route_stats

    w = window(seeded)
    keys = keyed(seeded.get(f"/ui/ops?{ui_query(w)}").text)
    runtime = seeded.app.state.runtime  # type: ignore[attr-defined]
    from datetime import datetime
    rows = route_stats(runtime.events, site_id="default", start=datetime.fromisoformat(w["from"]),
                       end=datetime.fromisoformat(w["to"]))
    assert rows and sum(r["requests"] for r in rows) == 12
    for r in rows:
        assert num(keys[f"access-{r['route']}"]) == r["requests"]
        assert num(keys[f"access-5xx-{r['route']}"]) == r["errors"]


def test_held_back_submissions_are_listed_and_restored_from_the_leads_page(seeded: TestClient) -> None:
    w = window(seeded)
    quoted = 'The calculator shows "=" then nothing. Is it broken?'  # a known false refusal
    refused = seeded.post("/api/leads", files={"name": (None, "Cal Culator"), "email": (None, "cal@example.com"),
                                               "message": (None, quoted)})
    assert refused.status_code == 403
    held = seeded.get(f"/ui/leads?{ui_query(w)}&show=held").text
    keys = keyed(held)
    assert num(keys["held-total"]) == 1 and num(keys["held-blocked_sqli"]) == 1
    assert keys["held-reason"] == "refused as SQL injection" and "Cal Culator" in held
    inbox = seeded.get(f"/ui/leads?{ui_query(w)}").text
    assert "Cal Culator" not in inbox and keyed(inbox)["held-link"] == "1 submission held back"
    assert 'show=held' in re.search(r'href="([^"]+)" data-key="held-link"', inbox)[1]
    csv = seeded.get(f"/ui/leads/export.csv?{ui_query(w)}&show=held").text
    assert "Cal Culator" in csv and "blocked_sqli" in csv
    assert seeded.get(f"/ui/leads?{ui_query(w)}&show=spam").status_code == 422

    (lead,) = seeded.get("/api/v1/leads", headers=ADMIN, params={**api_range(w), "rejected": "true"}).json()["leads"]
    detail = seeded.get(f"/ui/leads/{lead['id']}").text
    assert keyed(detail)["lead-held"] == "refused as SQL injection (found SQL injection in the message); not in any KPI"
    assert f'action="/ui/leads/{lead["id"]}/restore?' in detail and "/followups" not in detail
    done = seeded.post(f"/ui/leads/{lead['id']}/restore", follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith(f"/ui/leads/{lead['id']}")
    after = seeded.get(f"/api/v1/leads/{lead['id']}", headers=ADMIN).json()
    assert after["rejected_reason"] is None
    assert [a["note"] for a in after["activities"]] == ["held back as blocked_sqli; restored by tester"]
    assert "Cal Culator" in seeded.get(f"/ui/leads?{ui_query(w)}").text
    assert num(keyed(seeded.get(f"/ui/leads?{ui_query(w)}&show=held").text)["held-total"]) == 0
    assert "held-link" not in seeded.get(f"/ui/leads?{ui_query(w)}").text
    again = seeded.post(f"/ui/leads/{lead['id']}/restore")
    assert again.status_code == 409 and "a lead already" in again.text


def test_a_lead_flagged_for_script_says_so_and_shows_the_script_as_text(seeded: TestClient) -> None:
    """A client's pasted tag is a lead like any other (a detection, not a refusal):
    its page says what was found and how to treat it, and shows the text, never runs it."""
    w = window(seeded)
    tag = '<script async src="https://www.googletagmanager.com/gtag/js?id=G-ABC123"></script>'
    sent = seeded.post("/api/leads", files={"name": (None, "Tag Owner"), "email": (None, "tag@example.com"),
                                            "message": (None, f"Please install this: {tag}")},
                       follow_redirects=False)
    assert sent.status_code == 303  # accepted: on to the thank-you page
    lead = next(x for x in seeded.get("/api/v1/leads", headers=ADMIN, params=api_range(w)).json()["leads"]
                if x["name"] == "Tag Owner")
    detail = seeded.get(f"/ui/leads/{lead['id']}").text
    assert keyed(detail)["lead-flagged"] == ("script (XSS) in the message: shown here as text, never run; "
                                             "do not paste it into a web page or an HTML e-mail")
    assert "lead-held" not in detail and tag not in detail
    assert "&lt;script async src=&#34;https://www.googletagmanager.com/gtag/js?id=G-ABC123&#34;&gt;" in detail


def test_every_reason_a_submission_is_held_back_for_is_put_in_words() -> None:
    from leadwatch.dashboards.pages.leads import HELD_BACK
    from leadwatch.leads.intake import REJECT_REASONS, RESTORABLE

    assert set(HELD_BACK) == set(REJECT_REASONS) >= set(RESTORABLE)
