"""The Privacy page (``/ui/privacy``): an admin looks a person up, downloads the
export and erases them through the UI session (real login, real CSRF tokens), on the
app the server runs, on both backends."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select, update

from leadwatch.auth import create_user
from leadwatch.dashboards.pages.privacy import ACTOR_LENGTH, HASH_SHOWN, actor
from leadwatch.leads.models import Lead
from leadwatch.privacy.models import PrivacyRequest
from leadwatch.privacy.subjects import ERASED
from leadwatch.runtime import Runtime
from leadwatch.security.sessions import CurrentUser
from leadwatch.settings import Settings
from leadwatch.store.models import now
from tests.conftest import ADMIN
from tests.privacy.test_api import PATH, seeded_client

PASSWORD = "correct horse battery"
ANN = "ann@example.com"


@pytest.fixture
def client(backend: str, settings_for: Callable[..., Settings]) -> Iterator[TestClient]:
    # Ann and Bob have a lead each; an admin and a viewer may log in.
    with seeded_client(settings_for(backend, privacy={"lead_retention_days": 30})) as test_client:
        with runtime(test_client).records.session() as session:
            create_user(session, "admin", PASSWORD, role="admin")
            create_user(session, "vera", PASSWORD, role="viewer")
        yield test_client


def runtime(client: TestClient) -> Runtime:
    found: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return found


def log_in(client: TestClient, username: str) -> str:
    """Log ``username`` in (replacing any session); their CSRF token."""
    client.cookies.clear()
    response = client.post("/api/v1/session", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])


def ann_lead(client: TestClient) -> Lead:
    with runtime(client).records.session() as session:
        return session.scalars(select(Lead).where(Lead.name.in_(["Ann Example", ERASED]))
                               .order_by(Lead.id)).first()


def text(response: Any) -> str:  # an httpx response (TestClient's own httpx copy)
    """The page's text, tags removed (to read messages and cells)."""
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


def test_an_admin_looks_a_person_up_without_recording_a_request(client: TestClient) -> None:
    csrf = log_in(client, "admin")
    empty = client.get("/ui/privacy")
    assert empty.status_code == 200 and 'href="/ui/privacy?' in empty.text
    assert "Due now: 0 leads" in text(empty)  # seeded just now, retention 30 days

    found = client.post("/ui/privacy/lookup", data={"csrf_token": csrf, "email": "Ann@Example.com", "site": ""})
    assert found.status_code == 200, found.text
    lead = ann_lead(client)
    row = re.search(rf'<tr data-key="lead-{lead.id}">(.*?)</tr>', found.text, flags=re.DOTALL)
    assert row is not None
    cells = [htmllib.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td>(.*?)</td>", row[1], re.DOTALL)]
    assert cells == [str(lead.id), "default", f"{lead.created_at:%Y-%m-%d %H:%M}", lead.status, lead.tier, lead.channel]
    assert re.search(r'data-key="held-leads">1<', found.text)
    assert "Bob Other" not in found.text and "bob@example.com" not in found.text
    # The form refilled, the export and erase forms carrying the address in their bodies.
    assert found.text.count(f'name="email" value="{ANN}"') == 2
    assert re.search(rf'type="email" name="email"[^>]*value="{ANN}"', found.text)
    with runtime(client).records.session() as session:
        assert session.scalars(select(PrivacyRequest)).all() == []


def test_a_viewer_gets_403_and_no_link(client: TestClient) -> None:
    csrf = log_in(client, "vera")
    page = client.get("/ui/privacy")
    assert page.status_code == 403 and "for admins only" in text(page)
    assert "/ui/privacy" not in client.get("/ui/alerts").text
    for action in ("lookup", "export", "erase"):
        refused = client.post(f"/ui/privacy/{action}", data={"csrf_token": csrf, "email": ANN, "confirm": ANN})
        assert refused.status_code == 403 and "for admins only" in text(refused), action
    assert ann_lead(client).email == ANN
    with runtime(client).records.session() as session:
        assert session.scalars(select(PrivacyRequest)).all() == []


@pytest.mark.parametrize("action", ["lookup", "export", "erase"])
@pytest.mark.parametrize("token", [None, "", "forged"])
def test_a_post_without_the_csrf_token_is_refused(client: TestClient, action: str, token: str | None) -> None:
    log_in(client, "admin")
    data = {"email": ANN, "confirm": ANN} | ({} if token is None else {"csrf_token": token})
    refused = client.post(f"/ui/privacy/{action}", data=data)
    assert refused.status_code == 403 and "CSRF token is missing or wrong" in text(refused)
    assert refused.headers["content-type"].startswith("text/html")
    assert ann_lead(client).email == ANN


def test_without_a_session_the_page_sends_to_the_login(client: TestClient) -> None:
    client.cookies.clear()
    assert client.get("/ui/privacy", follow_redirects=False).headers["location"].startswith("/ui/login")
    moved = client.post("/ui/privacy/lookup", data={"email": ANN}, follow_redirects=False)
    assert moved.status_code == 303 and ANN not in unquote(moved.headers["location"])


def test_the_download_is_the_apis_document(client: TestClient) -> None:
    csrf = log_in(client, "admin")
    download = client.post("/ui/privacy/export", data={"csrf_token": csrf, "email": ANN, "site": "default"})
    assert download.status_code == 200, download.text
    ui = download.json()
    assert download.headers["cache-control"] == "no-store"
    assert download.headers["content-disposition"] == (
        f'attachment; filename="subject-export-{ui["request_id"]}.json"')

    api = client.get(PATH, params={"email": ANN, "site": "default"}, headers=ADMIN).json()
    # The API's export was made after the download, so it lists the download's request.
    (earlier,) = api["requests"]
    assert earlier["id"] == ui["request_id"] and earlier["kind"] == "export" and earlier["actor"] == "ui:admin"
    assert api == {**ui, "request_id": api["request_id"], "generated_at": api["generated_at"],
                   "requests": [earlier]}
    assert ui["leads"] and ui["leads"][0]["email"] == ANN


def test_erasure_needs_the_address_typed_again(client: TestClient) -> None:
    csrf = log_in(client, "admin")
    form = {"csrf_token": csrf, "email": ANN, "phone": "", "site": ""}
    for confirm in ({}, {"confirm": ""}, {"confirm": "bob@example.com"}, {"confirm": "not an address"}):
        refused = client.post("/ui/privacy/erase", data=form | confirm)
        assert refused.status_code == 422 and "type the person's e-mail address again" in text(refused)
    assert ann_lead(client).email == ANN

    erased = client.post("/ui/privacy/erase", data=form | {"confirm": " ANN@example.com"}, follow_redirects=False)
    assert erased.status_code == 303
    with runtime(client).records.session() as session:
        request = session.scalars(select(PrivacyRequest)).one()
        bob = session.scalars(select(Lead).where(Lead.name == "Bob Other")).one()
    assert erased.headers["location"] == f"/ui/privacy?request={request.id}"
    assert (request.kind, request.actor, request.counts["leads"]) == ("erase", "ui:admin", 1)
    lead = ann_lead(client)
    assert (lead.name, lead.email, lead.phone) == (ERASED, ERASED, ERASED)
    assert bob.email == "bob@example.com"

    shown = client.get(erased.headers["location"])
    assert shown.status_code == 200
    assert f"Request {request.id}: erase done" in text(shown) and "leads 1" in text(shown)
    # The audit log on the page: its actor, and the subject hash only begun.
    assert request.subject_hash is not None
    row = re.search(rf'<tr data-key="request-{request.id}">(.*?)</tr>', shown.text, flags=re.DOTALL)
    assert row is not None and "ui:admin" in row[1] and request.subject_hash[:HASH_SHOWN] + "…" in row[1]
    assert request.subject_hash[:HASH_SHOWN + 1] not in shown.text
    assert client.get("/ui/privacy?request=999999").status_code == 404


@pytest.mark.parametrize(("fields", "message"), [
    ({"email": ""}, "email: enter the person's e-mail address"),
    ({"email": "   "}, "email: enter the person's e-mail address"),
    ({"email": "ann-at-example.com"}, "invalid email"),
    ({"email": "ann@"}, "invalid email"),
    ({"email": "a" * 255 + "@example.com"}, "email"),
    ({"email": ANN, "phone": "12"}, "invalid phone: needs at least 5 digits"),
    ({"email": ANN, "site": "nowhere"}, "no site 'nowhere'"),
])
@pytest.mark.parametrize("action", ["lookup", "export", "erase"])
def test_bad_input_is_a_4xx_page_saying_why(
    client: TestClient, action: str, fields: dict[str, str], message: str
) -> None:
    csrf = log_in(client, "admin")
    response = client.post(f"/ui/privacy/{action}", data={"csrf_token": csrf, "confirm": fields["email"]} | fields)
    assert response.status_code == 422 and message in text(response)
    assert response.headers["content-type"].startswith("text/html")
    assert ann_lead(client).email == ANN


def test_the_address_is_never_in_a_url(client: TestClient) -> None:
    """Every request the flow makes and every redirect it gets: no address in them."""
    seen: list[str] = []
    client.event_hooks = {"request": [lambda r: seen.append(str(r.url))],
                          "response": [lambda r: seen.append(r.headers.get("location", ""))]}
    csrf = log_in(client, "admin")
    page = client.post("/ui/privacy/lookup", data={"csrf_token": csrf, "email": ANN})
    # The page's forms post (their address goes in the body), to addresses without it.
    assert set(re.findall(r'<form[^>]*method="(\w+)"[^>]*action="/ui/privacy', page.text)) == {"post"}
    client.post("/ui/privacy/export", data={"csrf_token": csrf, "email": ANN})
    client.post("/ui/privacy/erase", data={"csrf_token": csrf, "email": ANN, "confirm": ANN})
    assert ann_lead(client).email == ERASED  # the flow ran to its end
    assert any(u.startswith("/ui/privacy?request=") for u in seen)
    for url in seen:
        assert "ann" not in unquote(url).lower(), url


def test_retention_shows_what_is_due(client: TestClient) -> None:
    with runtime(client).records.session() as session:
        session.execute(update(Lead).where(Lead.name == "Bob Other").values(created_at=now() - timedelta(days=40)))
    log_in(client, "admin")
    page = text(client.get("/ui/privacy"))
    due = runtime(client).privacy.due()
    assert due is not None and due.leads == 1
    assert "anonymised 30 days after they came in" in page and "Due now: 1 lead created before" in page


def test_without_retention_leads_are_kept_until_erased(settings_for: Callable[..., Settings]) -> None:
    with seeded_client(settings_for("embedded")) as client:
        with runtime(client).records.session() as session:
            create_user(session, "admin", PASSWORD)
        log_in(client, "admin")
        page = client.get("/ui/privacy")
    assert page.status_code == 200 and "Leads are kept until erased" in text(page)
    assert "Due now" not in text(page)


def test_any_lookup_is_answered_with_a_page_never_a_5xx(settings_for: Callable[..., Settings]) -> None:
    # Without the security guard, which would ban the client for its odd addresses.
    with seeded_client(settings_for("embedded", security={"enabled": False})) as client:
        with runtime(client).records.session() as session:
            create_user(session, "admin", PASSWORD)
        csrf = log_in(client, "admin")

        @hsettings(max_examples=60, deadline=None)
        @given(email=st.text(max_size=300), phone=st.text(max_size=60), site=st.text(max_size=70))
        def lookup(email: str, phone: str, site: str) -> None:
            response = client.post("/ui/privacy/lookup",
                                   data={"csrf_token": csrf, "email": email, "phone": phone, "site": site})
            assert response.status_code in (200, 422), response.text
            assert response.headers["content-type"].startswith("text/html")
            if response.status_code == 422:
                assert re.search(r"email|phone|site", text(response))

        lookup()


@given(username=st.text(min_size=1, max_size=150))
def test_the_actor_names_the_ui_user_within_the_column(username: str) -> None:
    named = actor(CurrentUser(1, username, "admin", "s", "c"))
    assert named.startswith("ui:") and len(named) <= ACTOR_LENGTH
    assert named == "ui:" + username or len(named) == ACTOR_LENGTH
