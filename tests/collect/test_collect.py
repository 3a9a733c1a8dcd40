"""POST /collect end to end through the in-process app, on both backends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from leadwatch.app import create_app
from leadwatch.enrich.useragent import _parser
from leadwatch.logs.enrich import agent_fields
from leadwatch.marketing.touch import MAX_TOKEN_CHARS, read_touches
from leadwatch.settings import Settings

UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
HEADERS = {"content-type": "text/plain", "user-agent": UA}
PAGE = "https://rebootmedia.example/services/seo"


def post(client: TestClient, events: Any, site: str = "default", **headers: str) -> Any:
    return client.post(
        f"/collect?site={site}", content=orjson.dumps(events), headers={**HEADERS, **headers}
    )


def stored(client: TestClient) -> list[dict[str, Any]]:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    runtime.event_buffer.flush()
    return runtime.events.query("SELECT * FROM events WHERE type <> 'security' ORDER BY type")


def metric(client: TestClient, line_start: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_accepts_good_events_and_rejects_bad_ones_one_by_one(client: TestClient) -> None:
    events = [
        {"type": "pageview", "url": PAGE + "?utm_source=google&utm_medium=cpc&gclid=x",
         "referrer": "https://www.google.com/", "title": "SEO"},
        {"type": "vital", "name": "LCP", "value": 2100, "url": PAGE,
         "props": {"rating": "good", "phase": "resourceLoadDelay"}},
        {"type": "vital", "name": "CLS", "value": 0.04, "url": PAGE},
        {"type": "vital", "name": "XYZ", "value": 1, "url": PAGE},
        {"type": "pageview", "url": "javascript:alert(1)"},
        {"type": "nonsense", "url": PAGE},
        "not even an object",
    ]
    r = post(client, events)
    assert r.status_code == 202
    body = r.json()
    assert body["accepted"] == 3
    assert [(x["index"], x["reason"]) for x in body["rejected"]] == [
        (3, "invalid"), (4, "invalid"), (5, "invalid"), (6, "invalid")
    ]
    assert "name" in body["rejected"][0]["detail"]
    rows = stored(client)
    assert len(rows) == 3
    pageview = next(r for r in rows if r["type"] == "pageview")
    assert pageview["channel"] == "Paid Search"
    assert pageview["device"] == "mobile" and pageview["browser"] == "Chrome Mobile"
    assert pageview["path"] == "/services/seo"
    assert pageview["props"]["entry"] is True and pageview["props"]["utm_source"] == "google"
    vitals = {r["name"]: r["value"] for r in rows if r["type"] == "vital"}
    assert vitals == {"LCP": pytest.approx(2.1), "CLS": pytest.approx(0.04)}
    # One visitor, one session, for every event of the batch; no IP stored anywhere.
    assert len({(r["visitor_id"], r["session_id"]) for r in rows}) == 1
    assert all("testclient" not in str(r) for r in rows)
    assert metric(client, 'leadwatch_events_dropped_total{reason="invalid"}') == 4
    assert metric(client, "leadwatch_events_received_total") == 7
    assert metric(client, 'leadwatch_page_views_total{channel="Paid Search",device="mobile"}') == 1
    assert metric(client, 'leadwatch_web_vitals_lcp_seconds_bucket{device="mobile",le="2.5"}') == 1


def test_the_token_carries_the_landing_touch(client: TestClient) -> None:
    r = post(client, [{"type": "pageview", "url": PAGE, "referrer": "https://chatgpt.com/"}])
    touches = read_touches(client.app.state.runtime.secret_key, r.json()["token"])  # type: ignore[attr-defined]
    assert touches is not None
    assert touches.first.channel == "AI Assistants" and touches.first.landing_path == "/services/seo"


def test_an_over_long_token_starts_a_fresh_journey_rather_than_costing_the_page_view(
    client: TestClient,
) -> None:
    # Tokens longer than the cap were issued before tokens were trimmed to fit, and
    # the snippet keeps sending the one it holds until an answer replaces it.
    stale = "v2." + "a" * MAX_TOKEN_CHARS
    r = post(client, [{"type": "pageview", "url": PAGE, "referrer": "https://chatgpt.com/", "token": stale}])
    assert r.json()["accepted"] == 1 and r.json()["rejected"] == []
    touches = read_touches(client.app.state.runtime.secret_key, r.json()["token"])  # type: ignore[attr-defined]
    assert touches is not None and touches.middle == ()
    assert touches.first.channel == "AI Assistants"


def test_bots_are_dropped_with_their_reason(client: TestClient) -> None:
    bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    r = post(client, [{"type": "pageview", "url": PAGE}] * 2, **{"user-agent": bot})
    assert r.status_code == 202 and r.json()["accepted"] == 0
    assert {x["reason"] for x in r.json()["rejected"]} == {"bot"}
    assert stored(client) == []


def test_attacks_in_the_address_are_blocked_and_recorded(client: TestClient) -> None:
    url = PAGE + "?q=%3Cscript%3Ealert(1)%3C/script%3E"
    r = post(client, [{"type": "pageview", "url": url}])
    assert r.json()["rejected"][0]["reason"] == "blocked"
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    runtime.event_buffer.flush()
    assert runtime.events.count(type="security") == 1


def test_an_attack_in_a_replayed_batch_is_dated_when_it_was_received(client: TestClient) -> None:
    from datetime import datetime

    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    then = datetime(2026, 11, 20, 10, 0)
    runtime.collector.collect(runtime.settings.sites[0], [{"type": "pageview", "url": PAGE + "?id=1'+OR+'1'='1"}],
                              ip="203.0.113.9", user_agent=UA, received_at=then)
    runtime.event_buffer.flush()
    (row,) = runtime.events.query("SELECT ts FROM events WHERE type = 'security'", {})
    assert row["ts"] == then


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "text/plain", 400),
        (b"[]", "application/json", 422),
        (b"42", "text/plain", 422),
        (b"[]", "application/x-www-form-urlencoded", 415),
    ],
)
def test_unreadable_bodies(client: TestClient, body: bytes, content_type: str, status: int) -> None:
    r = client.post("/collect?site=default", content=body, headers={**HEADERS, "content-type": content_type})
    assert r.status_code == status
    assert r.json()["error"]["fields"]


def test_unknown_site_is_404(client: TestClient) -> None:
    r = post(client, [{"type": "pageview", "url": PAGE}], site="nope")
    assert r.status_code == 404 and r.json()["error"]["fields"] == {"query.site": "unknown site"}


@pytest.fixture
def strict(settings_for: Callable[..., Settings]) -> Iterator[TestClient]:
    settings = settings_for(
        collect={
            "max_batch_events": 5,
            "max_body_bytes": 2048,
            "sites": {"default": {"allowed_origins": ["https://www.rebootmedia.example"],
                                  "consent_required": True}},
        }
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_size_caps_are_413(strict: TestClient) -> None:
    assert post(strict, [{"type": "pageview", "url": PAGE}] * 6).status_code == 413
    big = [{"type": "pageview", "url": PAGE + "?x=" + "a" * 1900}] * 2
    assert post(strict, big).status_code == 413


def test_cors_allow_list(strict: TestClient) -> None:
    ok = post(strict, [{"type": "pageview", "url": PAGE}], origin="https://www.rebootmedia.example")
    assert ok.status_code == 202
    assert ok.headers["access-control-allow-origin"] == "https://www.rebootmedia.example"
    bad = post(strict, [{"type": "pageview", "url": PAGE}], origin="https://evil.example")
    assert bad.status_code == 403 and "header.origin" in bad.json()["error"]["fields"]
    pre = strict.options("/collect?site=default", headers={"origin": "https://www.rebootmedia.example"})
    assert pre.status_code == 204 and "POST" in pre.headers["access-control-allow-methods"]


def test_consent_required_sites_store_only_consented_batches(strict: TestClient) -> None:
    without = post(strict, [{"type": "pageview", "url": PAGE}])
    assert without.json()["rejected"][0]["reason"] == "consent"
    with_consent = strict.post(
        "/collect?site=default&c=1", content=orjson.dumps([{"type": "pageview", "url": PAGE}]),
        headers=HEADERS,
    )
    assert with_consent.json()["accepted"] == 1
    assert len(stored(strict)) == 1


def test_sessions_end_after_inactivity(settings_for: Callable[..., Settings]) -> None:
    from datetime import datetime, timedelta

    with TestClient(create_app(settings_for())) as client:
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        site = runtime.settings.sites[0]
        t0 = datetime(2026, 11, 20, 10, 0)
        for minutes in (0, 20, 45, 80):
            runtime.collector.collect(
                site, [{"type": "pageview", "url": f"{PAGE}/{minutes}"}],
                ip="203.0.113.9", user_agent=UA, received_at=t0 + timedelta(minutes=minutes),
            )
        rows = stored(client)
        # 0 and 20 share a session; 45 is 25 min after 20 (same); 80 is 35 min later: new.
        assert len({r["session_id"] for r in rows}) == 2
        assert len({r["visitor_id"] for r in rows}) == 1


def test_the_user_agent_parser_is_built_at_start_up_once_for_collect_and_logs(
    settings_for: Callable[..., Settings],
) -> None:
    _parser.cache_clear()
    app = create_app(settings_for())
    assert _parser.cache_info().currsize == 0
    with TestClient(app) as client:
        assert _parser.cache_info().currsize == 1  # before any request
        # User agents not seen before, so neither verdict cache answers for the parser.
        assert post(client, [{"type": "pageview", "url": PAGE}], **{"user-agent": UA + " start-1"}
                    ).json()["accepted"] == 1
        assert agent_fields(UA + " start-2")[3] == "mobile"  # the log pipeline's enrich step
        info = _parser.cache_info()
        assert (info.misses, info.hits) == (1, 2)  # both used the parser built at start-up


def test_a_batch_is_one_session_begun_by_its_first_page_view(client: TestClient) -> None:
    """The session is looked up once per batch: the first page view is the entry (with
    its UTM and channel), later ones in the same batch continue it, and the token
    carries the landing."""
    events = [
        {"type": "pageview", "url": PAGE + "?utm_source=newsletter&utm_medium=email"},
        {"type": "vital", "name": "TTFB", "value": 150, "url": PAGE},
        {"type": "pageview", "url": "https://rebootmedia.example/contact?utm_source=x"},
    ]
    body = post(client, events).json()
    assert body["accepted"] == 3 and body["token"]
    secret = client.app.state.runtime.secret_key  # type: ignore[attr-defined]
    touches = read_touches(secret, body["token"])
    assert touches is not None and touches.first.landing_path == "/services/seo"
    rows = stored(client)
    assert len({r["session_id"] for r in rows}) == 1
    assert {r["channel"] for r in rows} == {"Email"}
    views = sorted((r for r in rows if r["type"] == "pageview"), key=lambda r: r["path"])
    assert [v["path"] for v in views] == ["/contact", "/services/seo"]
    assert views[1]["props"]["entry"] is True and views[1]["props"]["utm_source"] == "newsletter"
    assert "entry" not in (views[0]["props"] or {})


def test_every_column_is_stored_where_it_belongs(client: TestClient) -> None:
    """The collector builds rows positionally; each value must land in its column."""
    events = [
        {"type": "pageview", "url": PAGE + "?utm_source=google&utm_medium=cpc",
         "referrer": "https://www.google.com/search?q=seo", "title": "SEO"},
        {"type": "vital", "name": "INP", "value": 120, "url": PAGE, "props": {"rating": "good"}},
    ]
    assert post(client, events).json()["accepted"] == 2
    rows = {r["type"]: r for r in stored(client)}
    view, vital = rows["pageview"], rows["vital"]
    assert set(view) == {
        "site_id", "ts", "type", "name", "visitor_id", "session_id", "path", "referrer",
        "channel", "country", "device", "browser", "os", "value", "props",
    }
    assert view["site_id"] == "default" and view["name"] is None and view["value"] is None
    assert view["referrer"] == "https://www.google.com/search"  # no query string
    assert view["channel"] == "Paid Search" and view["path"] == "/services/seo"
    assert (view["device"], view["browser"], view["os"]) == ("mobile", "Chrome Mobile", "Android")
    assert view["props"]["title"] == "SEO" and view["props"]["utm_medium"] == "cpc"
    assert view["visitor_id"] and view["session_id"] and view["visitor_id"] != view["session_id"]
    assert view["ts"] == vital["ts"]
    assert (vital["name"], vital["value"], vital["referrer"]) == ("INP", pytest.approx(0.12), None)
    assert vital["props"] == {"rating": "good"} and vital["channel"] == "Paid Search"
    assert (vital["visitor_id"], vital["session_id"]) == (view["visitor_id"], view["session_id"])


def test_collect_is_documented_counted_and_gets_the_common_headers(client: TestClient) -> None:
    """/collect skips FastAPI's routing, not what every route gets: its OpenAPI entry,
    the request metric, the request id and the security headers."""
    operation = client.get("/openapi.json").json()["paths"]["/collect"]
    assert set(operation) == {"post"}  # the preflight is not an API operation
    params = {p["name"]: p for p in operation["post"]["parameters"]}
    assert params["site"]["required"] and params["site"]["schema"]["maxLength"] == 63
    assert not params["c"]["required"]
    assert "202" in operation["post"]["responses"] and "415" in operation["post"]["responses"]
    series = 'leadwatch_http_requests_total{method="POST",route="/collect",status="202"}'
    before = metric(client, series)
    r = post(client, [{"type": "pageview", "url": PAGE}], **{"x-request-id": "beacon-1"})
    assert r.status_code == 202 and r.headers["x-request-id"] == "beacon-1"
    assert r.headers["x-content-type-options"] == "nosniff" and "frame-ancestors" in r.headers[
        "content-security-policy"]
    assert metric(client, series) == before + 1
    bad = post(client, [{"type": "pageview", "url": PAGE}], site="nope")
    assert bad.status_code == 404 and bad.headers["x-request-id"] and bad.headers["x-frame-options"]
    assert client.get("/collect?site=default").status_code == 405


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("", {"query.site": "Field required"}),
        ("site=" + "a" * 64, {"query.site": "String should have at most 63 characters"}),
        ("site=default&c=yes", {"query.c": "String should have at most 1 character"}),
    ],
)
def test_bad_queries_are_422_naming_the_parameter(
    client: TestClient, query: str, fields: dict[str, str]
) -> None:
    r = client.post(f"/collect?{query}", content=b"[]", headers=HEADERS)
    assert r.status_code == 422
    assert r.json()["error"] == {
        "code": "invalid_request",
        "message": "the request has invalid fields: " + ", ".join(fields),
        "fields": fields,
    }


def test_the_guard_still_inspects_collect(client: TestClient) -> None:
    r = client.post("/collect?site=default&q=1'%20OR%20'1'='1", content=b"[]", headers=HEADERS)
    assert r.status_code == 403 and r.json()["error"]["code"] == "blocked"


def test_a_chunked_body_is_capped_while_it_is_read(strict: TestClient) -> None:
    body = orjson.dumps([{"type": "pageview", "url": PAGE + "?x=" + "a" * 1000}] * 2)
    r = strict.post("/collect?site=default&c=1", content=iter([body[:1000], body[1000:]]),
                    headers=HEADERS)
    assert r.status_code == 413 and r.json()["error"]["fields"] == {"body": "too large"}
    assert stored(strict) == []


@pytest.mark.parametrize("length", [[(b"content-length", b"60")], []], ids=["declared", "chunked"])
def test_a_client_gone_before_its_body_gets_no_answer_and_stores_nothing(
    client: TestClient, length: list[tuple[bytes, bytes]]
) -> None:
    import asyncio

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/collect", "raw_path": b"/collect", "root_path": "",
        "query_string": b"site=default", "client": ("203.0.113.7", 50000),
        "server": ("testserver", 80),
        "headers": [(b"content-type", b"text/plain"), (b"user-agent", UA.encode()), *length],
    }
    asyncio.run(client.app(scope, receive, send))  # type: ignore[arg-type]
    assert sent == []
    assert stored(client) == []


def test_a_bug_in_the_collector_is_a_500_in_the_error_envelope(
    settings_for: Callable[..., Settings],
) -> None:
    with TestClient(create_app(settings_for()), raise_server_exceptions=False) as client:
        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("a bug")

        client.app.state.runtime.collector.collect = broken  # type: ignore[attr-defined]
        r = post(client, [{"type": "pageview", "url": PAGE}])
        assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
        assert metric(
            client, 'leadwatch_http_requests_total{method="POST",route="/collect",status="500"}'
        ) == 1


def test_collect_and_the_log_pipeline_share_one_geolocation_cache(
    settings_for: Callable[..., Settings],
) -> None:
    from leadwatch.runtime import Runtime

    with Runtime(settings_for()) as runtime:
        assert runtime.collector.geo.lookup("81.2.69.142").country == "GB"  # a miss, now cached
        hits = runtime.geo.lookup.cache_info().hits
        line = '81.2.69.142 - - [27/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8.5.0"'
        assert runtime.logs.pipeline.process([line], site_id="default").datasets["access"] == 1
        assert runtime.geo.lookup.cache_info().hits == hits + 1  # the log line found it cached
