"""Engagement from the visitor's real journey: events through POST /collect, then a
lead with the attribution token the collector handed back, on both backends; read
from this process's live sessions and, after a restart, from the event store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from leadwatch.app import create_app
from leadwatch.collect.sessions import PRUNE_EVERY, Sessions
from leadwatch.leads.models import Lead
from leadwatch.marketing.touch import read_touches, sign_touches
from leadwatch.settings import Settings
from tests.conftest import ADMIN

SITE = "https://rebootmedia.example"
HEADERS = {"content-type": "text/plain",
           "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                         "Chrome/131.0.0.0 Safari/537.36"}
# Three pages, 60 s + 90 s of active time, one brochure downloaded:
# 40 x 150/300 + 40 x 3/5 + 20 = 20 + 24 + 20.
ENGAGEMENT = 64.0
USED = {"seconds_on_site": 150.0, "pages_viewed": 3, "downloads": 1, "sessions": 1}
# Organic search (85), name and email only (55), no demographics (50):
# 0.30 x 85 + 0.25 x 64 + 0.25 x 55 + 0.20 x 50 = 65.25.
TOTAL = 65


@pytest.fixture
def settings(backend: str, settings_for: Callable[..., Settings]) -> Settings:
    return settings_for(backend, security={"enabled": False})


def collect(client: TestClient, events: list[dict[str, Any]]) -> str | None:
    response = client.post("/collect?site=default", content=orjson.dumps(events), headers=HEADERS)
    assert response.status_code == 202 and not response.json()["rejected"], response.text
    token: str | None = response.json()["token"]
    return token


def journey(client: TestClient) -> str:
    token = collect(client, [{"type": "pageview", "url": f"{SITE}/services/seo",
                              "referrer": "https://www.google.com/"}])
    assert token is not None
    token = collect(client, [{"type": "engagement", "url": f"{SITE}/services/seo", "value": 60_000},
                             {"type": "pageview", "url": f"{SITE}/pricing", "token": token}])
    assert token is not None
    token = collect(client, [{"type": "download", "url": f"{SITE}/pricing", "name": "brochure.pdf"},
                             {"type": "engagement", "url": f"{SITE}/pricing", "value": 90_000},
                             {"type": "vital", "name": "LCP", "value": 1800, "url": f"{SITE}/contact"},
                             {"type": "pageview", "url": f"{SITE}/contact", "token": token}])
    assert token is not None
    return token


def submit(client: TestClient, **fields: Any) -> Lead:
    response = client.post("/api/leads", json={"name": "Ann Example", "email": "ann@example.com", **fields})
    assert response.status_code == 201, response.text
    with client.app.state.runtime.records.session() as session:  # type: ignore[attr-defined]
        return session.get_one(Lead, response.json()["id"])


def reads(client: TestClient, result: str) -> float:
    registry = client.app.state.metrics.registry  # type: ignore[attr-defined]
    return registry.get_sample_value("leadwatch_lead_engagement_reads_total", {"result": result}) or 0.0


def test_a_live_journey_scores_engagement(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        lead = submit(client, attribution_token=journey(client))
        assert lead.score_breakdown["engagement"] == USED
        assert lead.score_breakdown["factors"]["engagement"] == {"score": ENGAGEMENT, "weight": 25,
                                                                "points": 16.0}
        assert (lead.score, lead.tier, lead.channel) == (TOTAL, "standard", "Organic Search")
        assert reads(client, "found") == 1
        # The sessions stay out of the stored journey: the lead is a named person.
        assert "sessions" not in lead.touches
        detail = client.get(f"/api/v1/leads/{lead.id}", headers=ADMIN).json()
        assert detail["score_breakdown"]["engagement"] == USED


def test_after_a_restart_the_journey_is_read_from_the_event_store(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        token = journey(client)
    with TestClient(create_app(settings)) as client:  # no live sessions: the events answer
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        assert len(runtime.collector.sessions) == 0
        lead = submit(client, attribution_token=token)
        assert lead.score_breakdown["engagement"] == USED
        assert lead.score_breakdown["factors"]["engagement"]["score"] == ENGAGEMENT
        assert lead.score == TOTAL


def test_visits_over_two_days_add_up(settings: Settings) -> None:
    """The visitor key rotates at midnight; the token carries both days' sessions."""
    with TestClient(create_app(settings)) as client:
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        secret = runtime.secret_key
        yesterday = datetime.now(UTC) - timedelta(days=1)
        earlier = runtime.collector.collect(
            runtime.settings.sites[0], orjson.dumps([
                {"type": "pageview", "url": f"{SITE}/", "referrer": "https://www.google.com/"},
                {"type": "engagement", "url": f"{SITE}/", "value": 200_000},
            ]), ip="192.0.2.7", user_agent=HEADERS["user-agent"], received_at=yesterday)
        runtime.event_buffer.flush()
        # The browser keeps yesterday's token; today's landing adds its session.
        today = collect(client, [{"type": "pageview", "url": f"{SITE}/pricing", "token": earlier.token}])
        assert today is not None
        journey_ = read_touches(secret, today)
        assert journey_ is not None and len(journey_.sessions) == 2
        lead = submit(client, attribution_token=today)
        assert lead.score_breakdown["engagement"] == {"seconds_on_site": 200.0, "pages_viewed": 2,
                                                      "downloads": 0, "sessions": 2}


def test_without_session_data_engagement_is_neutral(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        token = journey(client)
        touches = read_touches(runtime.secret_key, token)
        assert touches is not None
        forged = sign_touches(b"another installation's key", touches)
        no_sessions = sign_touches(runtime.secret_key, type(touches)(touches.first, touches.latest))
        cases: list[dict[str, Any]] = [{}, {"attribution_token": forged},
                                       {"attribution_token": no_sessions},
                                       {"attribution_token": "v2.AAAA.BBBB"}]
        for n, fields in enumerate(cases):
            lead = submit(client, **fields, email=f"n{n}@example.com")
            assert lead.score_breakdown["engagement"] is None
            assert lead.score_breakdown["factors"]["engagement"]["score"] == 50
        assert reads(client, "unknown") == 4 and reads(client, "found") == 0


def test_sessions_of_another_site_do_not_count(settings_for: Callable[..., Settings]) -> None:
    settings = settings_for("embedded", security={"enabled": False},
                            sites=[{"id": "default", "name": "A"}, {"id": "other", "name": "B"}])
    with TestClient(create_app(settings)) as client:
        token = journey(client)
        lead = submit(client, attribution_token=token, site_id="other")
        assert lead.score_breakdown["engagement"] is None


def test_an_event_store_that_does_not_answer_leaves_engagement_neutral(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        token = journey(client)
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        runtime.collector.sessions = Sessions(timedelta(minutes=30))  # nothing live: ask the store
        runtime.leads.engagement.sessions = runtime.collector.sessions

        class Down:
            def query(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
                raise ConnectionError("event store down")

        runtime.leads.engagement.events = Down()
        lead = submit(client, attribution_token=token)
        assert lead.rejected_reason is None and lead.score_breakdown["engagement"] is None
        assert reads(client, "failed") == 1
        with runtime.records.session() as session:
            assert session.scalar(select(Lead.id).where(Lead.id == lead.id)) == lead.id


def test_live_sessions_are_found_by_id_until_they_expire() -> None:
    sessions = Sessions(timedelta(minutes=30))
    t0 = datetime(2026, 11, 26, 9, 0)
    first, new = sessions.touch("a", "visitor", t0, "Direct")
    assert new and sessions.find("a", first.id) is first and sessions.find("b", first.id) is None
    later, new = sessions.touch("a", "visitor", t0 + timedelta(hours=1), "Direct")
    assert new and sessions.find("a", first.id) is None and sessions.find("a", later.id) is later
    sessions.touch("a", "someone else", t0 + timedelta(hours=3), "Direct", count=PRUNE_EVERY)
    assert sessions.find("a", later.id) is None  # swept with the expired ones
