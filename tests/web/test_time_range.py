"""The ``from``/``to`` time range of every admin route (web/deps.py ``time_range``):
values at the calendar's edge, offsets, naive values, a reversed or huge range are a
4xx naming the parameter, or a 200 where the value is valid; never a 5xx."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from leadwatch.app import create_app
from leadwatch.settings import load_settings
from leadwatch.web.deps import RangeError, check_range, open_range, utc_range
from tests.conftest import ADMIN, ADMIN_TOKEN
from tests.dashboards.conftest import as_tester

# At least these take from/to; the routes are found in /openapi.json, so one added
# later is tested too, and a renamed one cannot make the test pass by testing nothing.
KNOWN = {
    "/api/v1/events/series", "/api/v1/synthetic/runs", "/api/v1/leads", "/api/v1/leads/export.csv",
    "/api/v1/leads/scoring-report", "/api/v1/logs", "/api/v1/security/summary",
    "/api/v1/analytics/overview", "/api/v1/analytics/funnel", "/api/v1/analytics/channels",
    "/api/v1/analytics/attribution", "/api/v1/analytics/vitals", "/api/v1/analytics/experiments",
    "/api/v1/marketing/spend", "/api/v1/marketing/roi", "/api/v1/marketing/revenue-impact",
}
UI_PAGES = ["/ui/ops", "/ui/executive", "/ui/marketing", "/ui/security", "/ui/logs", "/ui/alerts", "/ui/leads"]

# (query, what every route must answer): a field -> 422 naming it; "ok" -> 200.
ALWAYS = [
    ({"to": "9999-12-31T23:59:59-05:00"}, "query.to"),  # past year 9999 in UTC
    ({"from": "0001-01-01T00:00:00+05:00"}, "query.from"),  # before year 1 in UTC
    ({"from": "2026-01-01T00:00:00Z", "to": "9999-12-31T23:59:59-05:00"}, "query.to"),
    ({"from": "0001-01-01T00:00:00+05:00", "to": "2026-01-01T00:00:00Z"}, "query.from"),
    ({"from": "9999-12-31T23:00:00-05:00", "to": "9999-12-31T23:59:59"}, "query.from"),
    ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "query.from"),
    # The same instant: an aware from against a naive to, taken as UTC.
    ({"from": "2026-01-01T12:00:00+02:00", "to": "2026-01-01T10:00:00"}, "query.from"),
    ({"from": "2026-01-01T11:00:00+02:00", "to": "2026-01-01T10:00:00"}, "ok"),
    ({"from": "2026-01-01T09:00:00", "to": "2026-01-01T10:00:00+00:00"}, "ok"),
]
# 200, or 422 naming one of these: a route with a default from (to - span) cannot go
# before year 1; a from after now is after the default to; a route may cap the span
# or the number of its buckets (query.interval).
EITHER = [
    ({"to": "0001-01-01T00:00:00"}, {"query.to"}),
    ({"from": "9999-12-31T23:59:59"}, {"query.from"}),
    ({"from": "0001-01-01T00:00:00", "to": "9999-12-31T23:59:59"}, {"query.from", "query.interval"}),
    ({"from": "0001-01-01T00:00:00Z", "to": "0001-01-02T00:00:00Z"}, {"query.from"}),
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data = tmp_path_factory.mktemp("time-range") / "data"
    # The guard off: a run of refused requests must not get the client banned.
    settings = load_settings(None, storage={"data_dir": data}, auth={"admin_token": ADMIN_TOKEN},
                             synthetic={"enabled": False}, security={"enabled": False})
    with TestClient(as_tester(create_app(settings))) as test_client:
        yield test_client


def ranged_routes(client: TestClient) -> list[str]:
    paths = client.get("/openapi.json").json()["paths"]
    found = [path for path, ops in paths.items()
             if {p["name"] for p in ops.get("get", {}).get("parameters", []) if p["in"] == "query"} >= {"from", "to"}]
    assert set(found) >= KNOWN
    return found


def fields_of(client: TestClient, path: str, query: dict[str, str]) -> tuple[int, set[str]]:
    response = client.get(path, params={"site": "default", **query}, headers=ADMIN)
    assert response.status_code < 500, f"{path} {query}: {response.status_code} {response.text}"
    if response.status_code == 200:
        return 200, set()
    return response.status_code, set(response.json()["error"]["fields"])


def test_every_route_reads_from_and_to_alike(client: TestClient) -> None:
    for path in ranged_routes(client):
        for query, expected in ALWAYS:
            status, fields = fields_of(client, path, query)
            if expected == "ok":
                assert status == 200, (path, query, fields)
            else:
                assert status == 422 and expected in fields, (path, query, status, fields)
        for query, allowed in EITHER:
            status, fields = fields_of(client, path, query)
            assert status == 200 or (status == 422 and fields and fields <= allowed), (path, query, status, fields)


@pytest.mark.parametrize("page", UI_PAGES)
def test_ui_pages_read_a_custom_range_alike(client: TestClient, page: str) -> None:
    # A custom range needs both ends (tests/dashboards/test_views.py).
    for query, expected in [(q, e) for q, e in [*ALWAYS, *EITHER] if len(q) == 2]:
        response = client.get(page, params={"range": "custom", **query})
        assert response.status_code < 500, (page, query, response.text)
        if expected == "ok" or (isinstance(expected, set) and response.status_code == 200):
            assert response.status_code == 200, (page, query)
            continue
        names = {expected} if isinstance(expected, str) else expected
        assert response.status_code == 422, (page, query)
        named = set(re.findall(r"\b(from|to|interval): ", response.text))
        assert named and {f"query.{n}" for n in named} <= names, (page, query, named)


def test_openapi_keeps_each_routes_descriptions(client: TestClient) -> None:
    def described(path: str) -> dict[str, str | None]:
        params = client.get("/openapi.json").json()["paths"][path]["get"]["parameters"]
        return {p["name"]: p.get("description") for p in params if p["name"] in ("from", "to")}

    assert described("/api/v1/logs") == {"from": "ISO 8601, inclusive.", "to": "ISO 8601, exclusive."}
    assert described("/api/v1/analytics/funnel") == {
        "from": "Start (default: to - 30 days).", "to": "End, exclusive (default: now)."}
    assert described("/api/v1/security/summary") == {"from": None, "to": None}


# ---- the functions behind it ---------------------------------------------------------------

NOW = datetime(2026, 5, 4, 12, 0)
offsets = st.timedeltas(min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59))
# Naive (taken as UTC) or with any offset, anywhere in the calendar.
moments = st.one_of(
    st.datetimes(),
    st.builds(lambda d, o: d.replace(tzinfo=timezone(o)), st.datetimes(), offsets),
)


def instant(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def in_utc(ts: datetime) -> datetime | None:
    """``ts`` as naive UTC, or None when that falls outside the calendar."""
    try:
        return instant(ts).astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        return None


def assert_explained(exc: RangeError, start: datetime | None, end: datetime | None,
                     span: timedelta | None) -> None:
    """``exc`` is the right refusal of [start, end) (``span``: the default from's)."""
    given_value = {"from": start, "to": end}[exc.field]
    if str(exc) == "out of range once moved to UTC":
        assert given_value is not None and in_utc(given_value) is None
    elif str(exc).startswith("too early"):
        assert exc.field == "to" and start is None and span is not None
        assert (in_utc(end) if end else NOW) - datetime.min < span  # type: ignore[operator]
    else:
        assert (exc.field, str(exc)) == ("from", "must be before to")
        last = in_utc(end) if end else NOW
        assert start is not None and last is not None and in_utc(start) >= last  # type: ignore[operator]


@given(start=st.none() | moments, end=st.none() | moments,
       span=st.timedeltas(min_value=timedelta(hours=1), max_value=timedelta(days=400)))
def test_a_range_is_naive_utc_and_ordered_or_a_range_error(
    start: datetime | None, end: datetime | None, span: timedelta
) -> None:
    try:
        got = utc_range(start, end, span=span, now=NOW)
    except RangeError as exc:
        assert_explained(exc, start, end, span)
        return
    first, last = got
    assert first.tzinfo is None and last.tzinfo is None and first < last
    assert last == (in_utc(end) if end else NOW)
    assert first == (in_utc(start) if start else last - span)


@given(start=st.none() | moments, end=st.none() | moments)
def test_an_open_range_keeps_missing_ends_open(start: datetime | None, end: datetime | None) -> None:
    try:
        first, last = open_range(start, end)
    except RangeError as exc:
        assert_explained(exc, start, end, None)
        return
    assert (first is None) == (start is None) and (last is None) == (end is None)
    assert first is None or first == in_utc(start)  # type: ignore[arg-type]
    assert last is None or last == in_utc(end)  # type: ignore[arg-type]


def test_range_errors_name_the_field_and_the_reason() -> None:
    with pytest.raises(RangeError) as err:
        utc_range(None, datetime(1, 1, 3), span=timedelta(days=7))
    assert (err.value.field, str(err.value)) == ("to", "too early: the default from is 7 days before it")
    assert err.value.api_error().fields == {"query.to": "too early: the default from is 7 days before it"}
    check_range(datetime(2026, 1, 1), datetime(2027, 1, 2), timedelta(days=366))
    with pytest.raises(RangeError) as err:
        check_range(datetime(2026, 1, 1), datetime(2027, 1, 2, 0, 0, 1), timedelta(days=366))
    assert (err.value.field, str(err.value)) == ("from", "must be at most 366 days before to")


BODY_EDGES = ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59", "0001-01-01T00:00:00"]


@pytest.mark.parametrize("value", BODY_EDGES)
def test_times_in_request_bodies_at_the_calendars_edge_are_422_naming_the_field(
    client: TestClient, value: str,
) -> None:
    """A body's time is moved to UTC and may get a duration added: at the calendar's
    edge both overflowed (500). They are 422s naming the field."""
    cases = [
        ("/api/v1/events", [{"type": "business", "name": "deal", "site_id": "default", "ts": value}], "body[0].ts"),
        ("/api/v1/silences", {"matchers": ["service=web"], "comment": "c", "starts_at": value,
                              "duration_seconds": 3600}, "body.starts_at"),
        ("/api/v1/silences", {"matchers": ["service=web"], "comment": "c", "ends_at": value}, "body.ends_at"),
        ("/api/v1/synthetic/results", {"run_id": "r1", "journey": "contact-form", "site_id": "default",
                                       "location": "dublin", "started": value, "duration": 1.0,
                                       "success": True}, "body.started"),
    ]
    for path, body, field in cases:
        answer = client.post(path, json=body, headers=ADMIN)
        assert answer.status_code == 422, (path, answer.text)
        assert field in answer.json()["error"]["fields"], (path, answer.text)


def test_times_in_request_bodies_keep_their_instant(client: TestClient) -> None:
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    body = {"matchers": ["service=web"], "comment": "c", "ends_at": later.astimezone(timezone(timedelta(hours=-5))).isoformat()}
    made = client.post("/api/v1/silences", json=body, headers=ADMIN)
    assert made.status_code == 201, made.text
    assert datetime.fromisoformat(made.json()["ends_at"]).astimezone(UTC) == later
