"""POST /api/leads end to end (in-process, on both backends): JSON and forms,
validation, durability and idempotency, defence, and routing to sales."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from leadwatch.app import create_app
from leadwatch.leads.form import LeadIn
from leadwatch.leads.intake import Submission
from leadwatch.leads.models import Lead
from leadwatch.leads.routing import sales_message
from leadwatch.marketing.touch import MAX_TOKEN_CHARS
from leadwatch.notify.models import OutboxMessage
from leadwatch.security.events import SecurityEvent
from leadwatch.settings import Settings
from tests.conftest import ADMIN
from tests.security.corpora import pasted_script

ANN = {"name": "Ann Example", "email": "Ann@Example.com", "phone": "+44 20 7946 0000",
       "company": "Acme", "budget": "20k", "utm_source": "google", "utm_medium": "organic"}


@pytest.fixture
def lead_settings(backend: str, settings_for: Callable[..., Settings]) -> Settings:
    return settings_for(
        backend,
        notify={"receivers": {"sales": {"kind": "webhook", "url": "http://127.0.0.1:9/hook"}},
                "poll_interval_seconds": 300},
        leads={"sites": {"default": {"sales_receivers": ["sales"], "thank_you_url": "https://example.com/thanks",
                                     "target_countries": ["GB"], "target_industries": ["software"]}},
               "rate_limit_per_email": 3, "rate_limit_per_ip": 8},
        # The security middleware's own limits and body checks are tested elsewhere.
        security={"enabled": False},
    )


@pytest.fixture
def app_client(lead_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(lead_settings)) as client:
        yield client


def stored(client: TestClient) -> list[Lead]:
    with client.app.state.runtime.records.session() as session:  # type: ignore[attr-defined]
        return list(session.scalars(select(Lead).order_by(Lead.id)))


def outbox(client: TestClient) -> list[OutboxMessage]:
    with client.app.state.runtime.records.session() as session:  # type: ignore[attr-defined]
        return list(session.scalars(select(OutboxMessage)))


def metric(client: TestClient, name: str, **labels: str) -> float:
    value = client.app.state.metrics.registry.get_sample_value(name, labels)  # type: ignore[attr-defined]
    return value or 0.0


def test_a_json_lead_is_scored_stored_and_routed(app_client: TestClient) -> None:
    response = app_client.post("/api/leads", json={**ANN, "country": "gb", "industry": "Software",
                                                   "consent": {"marketing": True, "policy_version": "v3"},
                                                   "experiments": {"hero": "b"}})
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "score", "tier", "follow_up_due"}
    (lead,) = stored(app_client)
    assert (lead.id, lead.score, lead.tier) == (body["id"], body["score"], body["tier"])
    assert lead.email == "ann@example.com" and lead.channel == "Organic Search"
    assert lead.consent == {"marketing": True, "processing": False, "policy_version": "v3"}
    assert lead.score_breakdown["factors"]["completion"]["score"] == 100
    assert lead.tier in ("premium", "high") and lead.follow_up_due is not None
    (note,) = outbox(app_client)  # committed with the lead
    assert note.receiver == "sales" and "Ann Example" in note.message["subject"]
    assert metric(app_client, "leadwatch_leads_submitted_total", channel="Organic Search", tier=lead.tier) == 1


def test_a_form_post_is_redirected_to_the_thank_you_page(app_client: TestClient) -> None:
    form = {"name": "Bob", "email": "bob@example.com", "consent_processing": "on", "exp_cta": "green",
            "shoe_size": "44"}
    response = app_client.post("/api/leads", data=form, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "https://example.com/thanks"
    (lead,) = stored(app_client)
    assert lead.consent["processing"] is True and lead.experiments == {"cta": "green"}
    assert metric(app_client, "leadwatch_leads_unknown_fields_total") == 1
    # multipart, asking for JSON
    response = app_client.post("/api/leads", files={"name": (None, "Cy"), "email": (None, "cy@example.com")},
                               headers={"Accept": "application/json"})
    assert response.status_code == 201 and response.json()["tier"] in ("standard", "low", "high")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "A"}, "body.email"),
        ({"name": "A", "email": "not-an-email"}, "body.email"),
        ({"name": "", "email": "a@example.com"}, "body.name"),
        ({"name": "A" * 201, "email": "a@example.com"}, "body.name"),
        ({"name": "A", "email": "a@example.com", "phone": "call me"}, "body.phone"),
        ({"name": "A", "email": "a@example.com", "country": "England"}, "body.country"),
        ({"name": "A", "email": "a@example.com", "message": "x" * 5001}, "body.message"),
        ({"name": "A", "email": "a@example.com", "site_id": "nope"}, "body.site_id"),
        ({"name": "A\x00", "email": "a@example.com"}, "body.name"),
        ({"name": 5, "email": "a@example.com"}, "body.name"),
    ],
)
def test_client_mistakes_are_4xx_naming_the_field(app_client: TestClient, body: dict[str, Any], field: str) -> None:
    response = app_client.post("/api/leads", json=body)
    assert response.status_code == 422
    assert field in response.json()["error"]["fields"]
    assert stored(app_client) == []


def test_an_over_long_attribution_token_reads_as_none_rather_than_costing_the_lead(
    app_client: TestClient,
) -> None:
    stale = "v2." + "a" * MAX_TOKEN_CHARS  # from before tokens were trimmed to fit
    json_lead = app_client.post("/api/leads", json={**ANN, "attribution_token": stale})
    form_lead = app_client.post("/api/leads", data={**ANN, "email": "bo@example.com",
                                                    "attribution_token": stale},
                                follow_redirects=False)
    assert json_lead.status_code == 201, json_lead.text
    assert form_lead.status_code == 303, form_lead.text
    # Attributed as without a token: from the lead's own UTM fields.
    assert [(lead.channel, lead.touches) for lead in stored(app_client)] == [("Organic Search", None)] * 2


def test_bodies_that_are_not_leads(app_client: TestClient) -> None:
    assert app_client.post("/api/leads", content=b"{nope", headers={"Content-Type": "application/json"}).status_code == 400
    assert app_client.post("/api/leads", json=[1, 2]).status_code == 422
    assert app_client.post("/api/leads", content=b"x", headers={"Content-Type": "text/plain"}).status_code == 415
    too_big = app_client.post("/api/leads", json={**ANN, "message": "x" * 70_000})
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "payload_too_large"


def test_a_retry_with_the_same_idempotency_key_returns_the_first_answer(app_client: TestClient) -> None:
    headers = {"Idempotency-Key": "order-7f3a"}
    first = app_client.post("/api/leads", json=ANN, headers=headers)
    again = app_client.post("/api/leads", json=ANN, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again.headers["Idempotent-Replayed"] == "true"
    assert len(stored(app_client)) == 1 and len(outbox(app_client)) == 1


def test_a_double_clicked_form_stores_one_lead(app_client: TestClient) -> None:
    # A person takes seconds to fill a form; here no minimum applies.
    intake = app_client.app.state.runtime.leads  # type: ignore[attr-defined]
    intake.leads = intake.leads.model_copy(update={"min_submit_seconds": 0})
    token = app_client.get("/api/leads/form-token").json()["form_token"]
    form = {"name": "Dee", "email": "dee@example.com", "form_token": token}
    codes = [app_client.post("/api/leads", data=form, follow_redirects=False).status_code for _ in range(2)]
    assert codes == [303, 303]
    assert len(stored(app_client)) == 1


def test_spam_is_stored_with_its_reason_and_answered_normally(app_client: TestClient) -> None:
    honeypot = app_client.post("/api/leads", data={"name": "Bot", "email": "bot@example.com",
                                                   "website": "http://spam.example"}, follow_redirects=False)
    assert honeypot.status_code == 303  # the bot sees the normal thank-you
    token = app_client.get("/api/leads/form-token").json()["form_token"]
    too_fast = app_client.post("/api/leads", json={"name": "Quick", "email": "q@example.com", "form_token": token})
    assert too_fast.status_code == 201
    forged = app_client.post("/api/leads", json={"name": "F", "email": "f@example.com",
                                                 "form_token": "f1.1.abc.def"})
    assert forged.status_code == 201
    reasons = [lead.rejected_reason for lead in stored(app_client)]
    assert reasons == ["spam_honeypot", "spam_too_fast", "spam_bad_token"]
    assert outbox(app_client) == []  # spam never reaches sales
    assert app_client.get("/api/v1/leads", headers=ADMIN).json()["total"] == 0
    assert app_client.get("/api/v1/leads?rejected=true", headers=ADMIN).json()["total"] == 3
    assert metric(app_client, "leadwatch_leads_rejected_total", reason="spam_honeypot") == 1


def test_a_repeat_within_a_day_is_a_duplicate_of_the_first(app_client: TestClient) -> None:
    first = app_client.post("/api/leads", json=ANN).json()
    second = app_client.post("/api/leads", json={**ANN, "email": "ann@EXAMPLE.com"})
    assert second.status_code == 201
    dup = stored(app_client)[1]
    assert (dup.rejected_reason, dup.duplicate_of) == ("duplicate", first["id"])
    assert len(outbox(app_client)) == 1


def test_rate_limits_answer_429_with_retry_after_and_store_the_attempt(app_client: TestClient) -> None:
    for _ in range(3):
        assert app_client.post("/api/leads", json=ANN).status_code == 201  # 1 lead + 2 duplicates
    limited = app_client.post("/api/leads", json=ANN)
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert 3500 <= int(limited.headers["Retry-After"]) <= 3601
    for n in range(5):  # other emails, same address: the per-IP limit (8) is reached
        app_client.post("/api/leads", json={**ANN, "email": f"other{n}@example.com"})
    assert app_client.post("/api/leads", json={**ANN, "email": "last@example.com"}).status_code == 429
    assert [lead.rejected_reason for lead in stored(app_client)].count("rate_limited") == 2


def security_event(client: TestClient) -> dict[str, Any]:
    """The one security event stored, its props."""
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    runtime.event_buffer.flush()
    (event,) = runtime.events.query("SELECT props FROM events WHERE type = 'security'", {})
    props = event["props"]
    return props if isinstance(props, dict) else orjson.loads(props)


def test_sql_injection_is_refused_and_stored_as_blocked(app_client: TestClient) -> None:
    # multipart, so that the lead intake's own check is what refuses it
    response = app_client.post("/api/leads", files={"name": (None, "Mal"), "email": (None, "m@example.com"),
                                                    "company": (None, "1' OR '1'='1")})
    assert response.status_code == 403
    assert response.json()["error"]["fields"] == {"body.company": "refused by the security checks"}
    (lead,) = stored(app_client)
    assert lead.rejected_reason == "blocked_sqli" and lead.flags == [{"field": "company", "threat": "sqli"}]
    assert metric(app_client, "leadwatch_security_events_total", threat="sqli", action="blocked") == 1
    event = security_event(app_client)
    # The evidence is libinjection's fingerprint; the analyst also reads what was sent.
    assert event["field"] == "form.company" and event["sample"] == "1' OR '1'='1" != event["evidence"]


def test_xss_is_stored_as_text_and_flagged(app_client: TestClient) -> None:
    payload = "<script>alert(1)</script>"
    response = app_client.post("/api/leads", json={**ANN, "message": payload})
    assert response.status_code == 201
    (lead,) = stored(app_client)
    assert lead.rejected_reason is None and lead.message == payload
    assert lead.flags == [{"field": "message", "threat": "xss"}]
    assert metric(app_client, "leadwatch_security_events_total", threat="xss", action="flagged") == 1
    assert security_event(app_client)["field"] == "form.message"  # as the middleware names fields
    detail = app_client.get(f"/api/v1/leads/{lead.id}", headers=ADMIN)
    assert detail.headers["content-type"].startswith("application/json")  # never HTML


def test_a_clients_pasted_script_keeps_the_lead_as_text_and_flags_it(app_client: TestClient) -> None:
    """Each message of tests/data/security/pasted_script.txt (a tag, a pixel, a widget's
    loader) is accepted and kept verbatim, flagged as XSS: never refused."""
    runtime = app_client.app.state.runtime  # type: ignore[attr-defined]
    messages = pasted_script()
    for i, message in enumerate(messages):
        lead = LeadIn.model_validate({**ANN, "email": f"client{i}@example.com", "message": message})
        outcome = runtime.leads.submit(Submission(lead=lead, site_id="default", ip=f"203.0.113.{i + 1}"))
        assert outcome.status == 201, message
    leads = stored(app_client)
    assert [lead.message for lead in leads] == messages
    assert all(lead.rejected_reason is None and lead.flags == [{"field": "message", "threat": "xss"}]
               for lead in leads)
    assert metric(app_client, "leadwatch_security_events_total", threat="xss", action="flagged") == len(messages)


def test_the_sales_message_links_the_leads_page_and_says_what_was_flagged() -> None:
    lead = Lead(id=7, site_id="default", name="Tag Owner", email="tag@example.com", score=80, tier="high",
                message='Please install this: <script async src="https://x.example/t.js"></script>',
                flags=[{"field": "message", "threat": "xss"}])
    message = sales_message(lead, "Acme", "https://lw.example")
    # The UI page (a salesperson logs in); the API would want a bearer token.
    assert message.links == {"Lead": "https://lw.example/ui/leads/7"}
    assert message.facts["Flagged"] == "script (XSS) in the message"
    assert message.text.endswith(lead.message)  # plain text: notifiers never render it as markup
    lead.flags = None
    assert "Flagged" not in sales_message(lead, "Acme", None).facts


def test_a_submission_received_in_the_past_dates_its_security_events_then(app_client: TestClient) -> None:
    """A replayed submission (the demo's backfill) is seen and detected when it was received."""
    runtime = app_client.app.state.runtime  # type: ignore[attr-defined]
    recorded: list[SecurityEvent] = []
    runtime.security_log.subscribe(recorded.extend)
    received = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    lead = LeadIn.model_validate({**ANN, "message": "<script>alert(1)</script>"})
    runtime.leads.submit(Submission(lead=lead, site_id="default", ip="203.0.113.9", received_at=received))
    [event] = recorded
    assert (event.threat, event.ts, event.detected_at) == ("xss", received.replace(tzinfo=None),
                                                          received.replace(tzinfo=None))
    runtime.event_buffer.flush()
    [row] = runtime.events.query("SELECT ts FROM events WHERE type = 'security'", {})
    assert row["ts"] == received.replace(tzinfo=None)


def test_several_sites_need_a_site_id(settings_for: Callable[..., Settings]) -> None:
    settings = settings_for("embedded", sites=[{"id": "a", "name": "A", "timezone": "Europe/Berlin"},
                                               {"id": "b", "name": "B"}], security={"enabled": False})
    with TestClient(create_app(settings)) as client:
        missing = client.post("/api/leads", json={"name": "A", "email": "a@example.com"})
        assert missing.status_code == 422 and "body.site_id" in missing.json()["error"]["fields"]
        assert client.post("/api/leads", json={"name": "A", "email": "a@example.com", "site_id": "b"}).status_code == 201
        assert client.get("/api/leads/form-token?site_id=zzz").status_code == 422


def test_with_the_security_middleware_on_a_refused_lead_is_still_stored(
    backend: str, settings_for: Callable[..., Settings]
) -> None:
    """The middleware leaves lead bodies to the intake, so the refusal keeps its reason."""
    settings = settings_for(backend, leads={"sites": {"default": {"thank_you_url": "https://example.com/thanks"}}})
    assert settings.security.enabled
    with TestClient(create_app(settings)) as client:
        response = client.post("/api/leads", json={**ANN, "company": "1' OR '1'='1"})
        assert response.status_code == 403
        (lead,) = stored(client)
        assert lead.rejected_reason == "blocked_sqli"
        assert metric(client, "leadwatch_security_events_total", threat="sqli", action="blocked") == 1


def test_a_held_back_submission_judged_genuine_is_restored_as_a_lead(app_client: TestClient) -> None:
    """A prospect quoting a symbol the SQL injection check took for an attack: the
    admin restores it; it is routed to sales and due from now, once."""
    refused = app_client.post("/api/leads", files={**{k: (None, v) for k, v in ANN.items()},
                                                   "message": (None, 'The calculator shows "=" then nothing. Is it broken?')})
    assert refused.status_code == 403
    (held,) = stored(app_client)
    assert held.rejected_reason == "blocked_sqli" and outbox(app_client) == []
    listed = app_client.get("/api/v1/leads", headers=ADMIN, params={"rejected": "true"}).json()["leads"]
    assert [lead["id"] for lead in listed] == [held.id]

    restored = app_client.post(f"/api/v1/leads/{held.id}/restore", headers=ADMIN)
    assert restored.status_code == 200, restored.text
    body = restored.json()
    assert body["rejected_reason"] is None and body["status"] == "new"
    assert [(a["status"], a["note"]) for a in body["activities"]] == [
        ("restored", "held back as blocked_sqli; restored by api")]
    (lead,) = stored(app_client)
    assert lead.follow_up_due is not None and lead.follow_up_due > held.created_at
    assert lead.flags == [{"field": "message", "threat": "sqli"}]  # what was found stays on record
    (note,) = outbox(app_client)
    assert note.receiver == "sales" and "Ann Example" in note.message["subject"]
    assert metric(app_client, "leadwatch_leads_restored_total", reason="blocked_sqli") == 1
    assert [lead["id"] for lead in app_client.get("/api/v1/leads", headers=ADMIN).json()["leads"]] == [held.id]

    again = app_client.post(f"/api/v1/leads/{held.id}/restore", headers=ADMIN)
    assert again.status_code == 409 and again.json()["error"]["fields"] == {"path.lead_id": "it is a lead already"}
    assert len(outbox(app_client)) == 1
    assert app_client.post("/api/v1/leads/999999/restore", headers=ADMIN).status_code == 404
    assert app_client.post(f"/api/v1/leads/{held.id}/restore").status_code == 401


def test_only_verdicts_a_person_may_overrule_are_restored(app_client: TestClient) -> None:
    app_client.post("/api/leads", json=ANN)
    app_client.post("/api/leads", json=ANN)  # the same person again: a duplicate
    # The same person, refused, then through on a second try: restoring the first
    # would count them twice.
    app_client.post("/api/leads", files={"name": (None, "Bo"), "email": (None, "bo@example.com"),
                                         "company": (None, "1' OR '1'='1")})
    app_client.post("/api/leads", json={"name": "Bo", "email": "bo@example.com"})
    first, duplicate, refused, _ = stored(app_client)
    assert (duplicate.rejected_reason, refused.rejected_reason) == ("duplicate", "blocked_sqli")
    for lead, says in ((duplicate, "held back as duplicate"), (refused, "is lead")):
        answer = app_client.post(f"/api/v1/leads/{lead.id}/restore", headers=ADMIN)
        assert answer.status_code == 409 and says in answer.json()["error"]["fields"]["path.lead_id"]
    assert [lead.rejected_reason for lead in stored(app_client)] == [None, "duplicate", "blocked_sqli", None]
