"""Parsers on the real access log and on hand-made edge cases."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadwatch.logs.parse import (
    ACCESS_LINE,
    ParseError,
    client_ip,
    parse_time,
    parser_for,
    unescape,
)
from leadwatch.logs.record import ACCESS, APPLICATION, BUSINESS_EVENTS, WEB_VITALS

REAL_LOG = Path(__file__).resolve().parent.parent / "data" / "access-logs" / "apache_logs"
auto = parser_for("auto", business_events=("lead_created",))


def test_every_line_of_the_real_log_parses() -> None:
    lines = REAL_LOG.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 10_000
    records = [auto(line, "default") for line in lines]
    assert all(r.dataset == ACCESS and r.status is not None and r.source_ip for r in records)
    assert all(r.path and r.path.startswith("/") for r in records)
    first = records[0]
    assert (first.source_ip, first.method, first.status, first.bytes, first.http_version) == (
        "83.149.9.216", "GET", 200, 203023, "1.1",
    )
    assert first.ts == datetime(2015, 5, 17, 10, 5, 3)
    assert first.referrer == "http://semicomplete.com/presentations/logstash-monitorama-2013/"
    assert first.user_agent and first.user_agent.startswith("Mozilla/5.0 (Macintosh")
    # The log spans 17-20 May 2015 and every record's ECS document encodes.
    assert min(r.ts for r in records).day == 17 and max(r.ts for r in records).day == 20
    doc = orjson.loads(first.json)
    assert doc["http"]["response"]["status_code"] == 200
    assert doc["source"]["ip"] == "83.149.9.216"
    assert doc["url"]["path"] == first.path and doc["event"]["dataset"] == "access"


def test_common_format_ipv6_user_and_empty_request() -> None:
    r = auto('2001:db8::1 - alice [05/Mar/2026:23:59:59 -0130] "-" 408 - ', "s")
    assert r.source_ip == "2001:db8::1" and r.user_name == "alice"
    assert r.method is None and r.path is None and r.status == 408 and r.bytes is None
    assert r.ts == datetime(2026, 3, 6, 1, 29, 59)


def test_escaped_quotes_and_nginx_hex_escapes() -> None:
    line = (
        '1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET /a?q=\\"x\\" HTTP/1.1" 200 5 '
        '"-" "curl \\x22quoted\\x22"'
    )
    r = auto(line, "s")
    assert r.query == 'q="x"' and r.user_agent == 'curl "quoted"' and r.referrer is None


def test_request_time_upstream_time_and_forwarded_for() -> None:
    line = (
        '10.0.0.5 - - [17/May/2015:10:05:03 +0200] "POST /contact HTTP/2.0" 502 157 '
        '"https://www.google.com/" "Mozilla/5.0" "81.2.69.160, 8.8.4.4" 0.512 0.250, 0.260'
    )
    r = auto(line, "s")
    assert r.duration == pytest.approx(0.512)
    assert r.upstream_duration == pytest.approx(0.51)  # two upstream tries add up
    assert r.forwarded_for == "81.2.69.160, 8.8.4.4"
    # The peer is a private proxy: the client is the right-most public hop.
    assert r.source_address == "10.0.0.5" and r.source_ip == "8.8.4.4"
    assert r.ts == datetime(2015, 5, 17, 8, 5, 3)


def test_key_value_timings() -> None:
    line = '1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua" rt=0.004 uct="0.001" urt="0.003"'
    r = auto(line, "s")
    assert r.duration == pytest.approx(0.004) and r.upstream_duration == pytest.approx(0.003)


def test_public_peer_is_not_overridden_by_forwarded_for() -> None:
    assert client_ip("8.8.8.8", "6.6.6.6") == "8.8.8.8"
    assert client_ip("127.0.0.1", "10.1.1.1, 192.168.0.2") == "127.0.0.1"
    assert client_ip("not-an-ip", "6.6.6.6") == "not-an-ip"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("17/May/2015:10:05:03 +0000", datetime(2015, 5, 17, 10, 5, 3)),
        ("7/may/2015:10:05:03.250 +01:00", datetime(2015, 5, 7, 9, 5, 3, 250_000)),
        ("17/May/2015:10:05:03", datetime(2015, 5, 17, 10, 5, 3)),
        ("2026-03-02T12:30:00+02:00", datetime(2026, 3, 2, 10, 30)),
        ("2026-03-02T10:30:00.123Z", datetime(2026, 3, 2, 10, 30, 0, 123_000)),
        ("1431857103.5", datetime(2015, 5, 17, 10, 5, 3, 500_000)),
        ("1431857103500", datetime(2015, 5, 17, 10, 5, 3, 500_000)),
    ],
)
def test_odd_timestamps(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["32/May/2015:10:05:03 +0000", "17/Foo/2015:10:05:03 +0000", "yesterday"])
def test_impossible_timestamps_are_parse_errors(text: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_time(text)
    assert caught.value.reason == "bad_timestamp"


def test_nginx_json() -> None:
    line = orjson.dumps({
        "time_iso8601": "2026-05-17T10:05:03+00:00", "remote_addr": "127.0.0.1",
        "http_x_forwarded_for": "81.2.69.160", "request": "GET /services/seo?utm_source=x HTTP/1.1",
        "status": "404", "body_bytes_sent": "12", "request_time": "0.010",
        "upstream_response_time": "-", "http_referer": "", "http_user_agent": "Mozilla/5.0",
    }).decode()
    r = auto(line, "s")
    assert r.dataset == ACCESS and r.source_ip == "81.2.69.160" and r.status == 404
    assert (r.path, r.query, r.duration, r.upstream_duration) == ("/services/seo", "utm_source=x", 0.01, None)
    split = orjson.dumps({"msec": "1431857103.000", "remote_addr": "::1", "request_method": "HEAD",
                          "uri": "/x", "args": "a=1", "status": 200}).decode()
    r = parser_for("nginx-json")(split, "s")
    assert (r.method, r.path, r.query, r.source_ip) == ("HEAD", "/x", "a=1", "::1")


def test_application_json_logs_and_their_datasets() -> None:
    own = orjson.dumps({"event": "http_request", "level": "info", "timestamp": "2026-05-17T10:05:03Z",
                        "logger": "leadwatch.http", "method": "GET", "route": "/api/leads",
                        "status": 201, "duration_ms": 12.5, "request_id": "abc"}).decode()
    r = auto(own, "s")
    assert r.dataset == APPLICATION and r.message == "http_request" and r.level == "info"
    assert (r.method, r.path, r.status, r.duration) == ("GET", "/api/leads", 201, 0.0125)
    assert r.labels and r.labels["request_id"] == "abc"
    ecs = orjson.dumps({"@timestamp": "2026-05-17T10:05:03Z", "log": {"level": "ERROR"},
                        "message": "boom", "event": {"dataset": "web-vitals"}}).decode()
    assert auto(ecs, "s").dataset == WEB_VITALS and auto(ecs, "s").level == "error"
    business = orjson.dumps({"ts": 1431857103, "msg": "lead_created", "lead_id": 7}).decode()
    assert auto(business, "s").dataset == BUSINESS_EVENTS


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("", "empty"),
        ("this is not a log line", "unrecognised_format"),
        ("{not json", "bad_json"),
        ("[1, 2]", "unrecognised_format"),
        ('{"message": "no time"}', "missing_timestamp"),
        ('1.2.3.4 - - [99/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 1', "bad_timestamp"),
    ],
)
def test_unparseable_lines_name_their_reason(line: str, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        auto(line, "s")
    assert caught.value.reason == reason


def test_json_format_refuses_arrays() -> None:
    with pytest.raises(ParseError) as caught:
        parser_for("json")("[1]", "s")
    assert caught.value.reason == "json_not_object"


@given(st.text(max_size=300))
def test_any_text_either_parses_or_raises_a_parse_error(line: str) -> None:
    try:
        record = auto(line, "s")
    except ParseError as exc:
        assert exc.reason
    else:
        orjson.loads(record.json)  # whatever parsed must encode


@given(st.text(alphabet=st.characters(blacklist_characters='"\\'), max_size=50))
def test_unescape_leaves_plain_text_alone(text: str) -> None:
    assert unescape(text) == text


# The quoted-field pattern as it was first written: one alternation per character.
_SLOW_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_SLOW_ACCESS_LINE = re.compile(
    r"(\S+) (\S+) (\S+) \[([^\]]+)\] " + _SLOW_QUOTED + r" (\d{3}|-) (\d+|-)"
    r"(?: " + _SLOW_QUOTED + r" " + _SLOW_QUOTED + r")?(.*)$"
)
_FIELD = st.text(alphabet=st.sampled_from('ab "\\-x1/'), max_size=12)


@given(_FIELD, _FIELD, _FIELD, _FIELD)
def test_the_unrolled_quoted_pattern_splits_lines_as_the_plain_one(
    request_: str, referrer: str, agent: str, trailer: str
) -> None:
    line = (
        f'1.2.3.4 - - [17/May/2015:10:05:03 +0000] "{request_}" 200 5 "{referrer}" "{agent}"{trailer}'
    )
    for candidate in (line, line.split(" 200 ")[0] + " 200 5" + trailer):
        slow, fast = _SLOW_ACCESS_LINE.match(candidate), ACCESS_LINE.match(candidate)
        assert (slow and slow.groups()) == (fast and fast.groups())


def test_the_real_log_splits_as_with_the_plain_pattern() -> None:
    for line in REAL_LOG.read_text(encoding="utf-8").splitlines():
        assert ACCESS_LINE.match(line).groups() == _SLOW_ACCESS_LINE.match(line).groups()  # type: ignore[union-attr]
