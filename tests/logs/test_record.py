"""The ECS documents records encode to: pinned byte for byte.

The NDJSON sink writes this text and the Elasticsearch sink sends it, with an ``_id``
hashed from it, so a change to how the document is built (for speed) must not
change a single byte: otherwise a resent batch would duplicate in Elasticsearch.
The store keeps a record as columns plus the rest of its document in ``props``; a
stored row must read back as the very same document.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadwatch.logs.parse import parse_combined
from leadwatch.logs.record import MAX_MESSAGE_COLUMN, LogRecord, ThreatMatch
from leadwatch.logs.sinks import NdjsonSink, _doc_id
from leadwatch.store.events import EventStore
from leadwatch.store.schema import LOGS


def _cases() -> list[LogRecord]:
    ts = datetime(2015, 5, 17, 10, 5, 3, 250000)
    full = LogRecord(
        dataset="access",
        ts=ts,
        site_id="default",
        original="(the line)",
        source_address="10.0.0.5",
        source_ip="81.2.69.160",
        forwarded_for="81.2.69.160, 8.8.4.4",
        user_name="bob",
        method="GET",
        target="http://example.com/x?utm_source=news",
        http_version="2.0",
        domain="example.com",
        path="/x",
        query="utm_source=news",
        route="/x",
        status=502,
        bytes=157,
        duration=0.512,
        upstream_duration=0.51,
        referrer="https://www.google.com/",
        user_agent="Mozilla/5.0 (iPad)",
        browser="Mobile Safari",
        browser_version="12",
        os="iOS",
        device="tablet",
        bot=False,
        country="GB",
        geo={"region": "England", "city": "London", "asn": 20712, "as_org": "Andrews & Arnold"},
        utm={"utm_source": "news"},
        channel="email",
        threats=[ThreatMatch("sqli", "libinjection", "query", "1' OR '1'='1")],
    )
    minimal = LogRecord(
        dataset="access",
        ts=datetime(2026, 3, 6, 1, 29, 59),
        site_id="s",
        source_address="2001:db8::1",
        source_ip="2001:db8::1",
        target="\x16\x03\x01",
        status=400,
        bot=True,
        geo={"asn": 64500},
    )
    country_only = LogRecord(
        dataset="access",
        ts=datetime(2026, 1, 1),
        site_id="s",
        source_ip="8.8.8.8",
        country="US",
        method="HEAD",
        path="/",
        target="/",
        status=200,
        bytes=0,
        user_agent="curl/8",
        browser="curl",
        os="Other",
        device="bot",
        bot=True,
    )
    app = LogRecord(
        dataset="application",
        ts=datetime(2026, 5, 1, 10),
        site_id="default",
        level="error",
        logger="leadwatch.notify",
        message="send failed",
        labels={"attempt": 3, "ok": False},
        source_ip="81.2.69.160",
        path="/api/x",
        status=500,
        duration=0.012,
    )
    dead = LogRecord(
        dataset="dead-letter",
        ts=datetime(2026, 1, 1),
        site_id="s",
        original="garbage",
        message="garbage",
        error="unrecognised_format: x",
        labels={"reason": "unrecognised_format", "format": "auto"},
    )
    aware = LogRecord(
        dataset="application",
        ts=datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2))),
        site_id="s",
        message="aware",
    )
    return [full, full.copy_to("security"), minimal, country_only, app, dead, aware]


EXPECTED = [
    '{"@timestamp":"2015-05-17T10:05:03.250Z","ecs":{"version":"8.11.0"},"data_stream":{"dataset":"access"},"event":{"dataset":"access","kind":"alert","duration":512000000},"labels":{"site_id":"default"},"source":{"ip":"81.2.69.160","address":"10.0.0.5","geo":{"country_iso_code":"GB","region_name":"England","city_name":"London"},"as":{"number":20712,"organization":{"name":"Andrews & Arnold"}}},"user":{"name":"bob"},"http":{"request":{"method":"GET","referrer":"https://www.google.com/","x_forwarded_for":"81.2.69.160, 8.8.4.4"},"version":"2.0","response":{"status_code":502,"body":{"bytes":157}},"upstream":{"duration":510000000}},"url":{"original":"http://example.com/x?utm_source=news","domain":"example.com","path":"/x","query":"utm_source=news"},"user_agent":{"original":"Mozilla/5.0 (iPad)","name":"Mobile Safari","version":"12","os":{"name":"iOS"},"device":{"name":"tablet"}},"leadwatch":{"route":"/x","channel":"email","bot":false,"utm":{"utm_source":"news"},"threats":[{"threat":"sqli","rule":"libinjection","field":"query","evidence":"1\' OR \'1\'=\'1"}]}}',
    '{"@timestamp":"2015-05-17T10:05:03.250Z","ecs":{"version":"8.11.0"},"data_stream":{"dataset":"security"},"event":{"dataset":"security","kind":"alert","duration":512000000},"labels":{"site_id":"default"},"source":{"ip":"81.2.69.160","address":"10.0.0.5","geo":{"country_iso_code":"GB","region_name":"England","city_name":"London"},"as":{"number":20712,"organization":{"name":"Andrews & Arnold"}}},"user":{"name":"bob"},"http":{"request":{"method":"GET","referrer":"https://www.google.com/","x_forwarded_for":"81.2.69.160, 8.8.4.4"},"version":"2.0","response":{"status_code":502,"body":{"bytes":157}},"upstream":{"duration":510000000}},"url":{"original":"http://example.com/x?utm_source=news","domain":"example.com","path":"/x","query":"utm_source=news"},"user_agent":{"original":"Mozilla/5.0 (iPad)","name":"Mobile Safari","version":"12","os":{"name":"iOS"},"device":{"name":"tablet"}},"leadwatch":{"route":"/x","channel":"email","bot":false,"utm":{"utm_source":"news"},"threats":[{"threat":"sqli","rule":"libinjection","field":"query","evidence":"1\' OR \'1\'=\'1"}]}}',
    '{"@timestamp":"2026-03-06T01:29:59.000Z","ecs":{"version":"8.11.0"},"data_stream":{"dataset":"access"},"event":{"dataset":"access","kind":"event"},"labels":{"site_id":"s"},"source":{"ip":"2001:db8::1","address":"2001:db8::1","as":{"number":64500}},"http":{"request":{},"response":{"status_code":400}},"url":{"original":"\\u0016\\u0003\\u0001"},"leadwatch":{"bot":true}}',
    '{"@timestamp":"2026-01-01T00:00:00.000Z","ecs":{"version":"8.11.0"},"data_stream":{"dataset":"access"},"event":{"dataset":"access","kind":"event"},"labels":{"site_id":"s"},"source":{"ip":"8.8.8.8","geo":{"country_iso_code":"US"}},"http":{"request":{"method":"HEAD"},"response":{"status_code":200,"body":{"bytes":0}}},"url":{"original":"/","path":"/"},"user_agent":{"original":"curl/8","name":"curl","os":{"name":"Other"},"device":{"name":"bot"}},"leadwatch":{"bot":true}}',
    '{"@timestamp":"2026-05-01T10:00:00.000Z","ecs":{"version":"8.11.0"},"data_stream":{"dataset":"application"},"event":{"dataset":"application","kind":"event","duration":12000000},"labels":{"site_id":"default","attempt":3,"ok":false},"source":{"ip":"81.2.69.160"},"http":{"request":{},"response":{"status_code":500}},"url":{"path":"/api/x"},"log":{"level":"error","logger":"leadwatch.notify"},"message":"send failed"}',
    '{"@timestamp":"2026-01-01T00:00:00.000Z","ecs":{"version":"8.11.0"},"data_stream":{"dataset":"dead-letter"},"event":{"dataset":"dead-letter","kind":"event","original":"garbage"},"labels":{"site_id":"s","reason":"unrecognised_format","format":"auto"},"message":"garbage","error":{"message":"unrecognised_format: x","type":"parse"}}',
    '{"@timestamp":"2026-01-01T12:00:00.000+02:00Z","ecs":{"version":"8.11.0"},"data_stream":{"dataset":"application"},"event":{"dataset":"application","kind":"event"},"labels":{"site_id":"s"},"message":"aware"}',
]


@pytest.mark.parametrize(("index", "expected"), list(enumerate(EXPECTED)))
def test_ecs_documents_are_unchanged(index: int, expected: str) -> None:
    record = _cases()[index]
    assert record.json == expected
    assert orjson.loads(expected) == record.ecs()


def test_ndjson_sink_and_elasticsearch_ids_use_that_text(tmp_path: Path) -> None:
    records = _cases()
    sink = NdjsonSink(tmp_path)
    sink.write_batch(records)
    sink.close()
    written = sorted(
        line for path in tmp_path.glob("*.ndjson") for line in path.read_text().splitlines()
    )
    assert written == sorted(EXPECTED)
    assert len({_doc_id(r) for r in records}) == len(records)


def _stored(record: LogRecord, props: Any = None) -> dict[str, Any]:
    """The row as a store hands it back: columns by name, ``props`` parsed."""
    row = dict(zip(LOGS.column_names, record.row(), strict=True))
    row["props"] = orjson.loads(row["props"]) if props is None else props
    return row


def test_props_keep_only_what_no_column_holds() -> None:
    full = _cases()[0]
    props = _stored(full)["props"]
    assert props["url"] == {"original": full.target, "domain": "example.com", "query": full.query}
    assert "path" not in props["url"] and "http" in props and "response" not in props["http"]
    assert "@timestamp" not in props and "name" not in props["user_agent"]
    # What the columns say already is left out: the peer is the client, the target
    # is the path; what they cannot say is kept, as null when it is absent.
    line = parse_combined(
        '83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /images/kibana.png HTTP/1.1" '
        '200 203023 "-" "curl/8"', "default")
    assert _stored(line)["props"] == {"http": {"version": "1.1"}, "user_agent": {"original": "curl/8"}}
    app = _cases()[4]
    assert _stored(app)["props"]["source"] == {"address": None}
    assert _stored(app)["props"]["url"] == {"original": None}


def test_stored_rows_read_back_as_the_same_documents(store: EventStore) -> None:
    long = LogRecord(dataset="application", ts=datetime(2026, 1, 2), site_id="s", level="info",
                     message="m" * (MAX_MESSAGE_COLUMN + 5))
    records = [r for r in _cases() if r.ts.tzinfo is None] + [long]
    store.write_batch(LOGS, [r.row() for r in records])
    stored = [LogRecord.from_row(row).json for row in store.query("SELECT * FROM logs")]
    expected = [r.json for r in records]
    if store.dialect.name == "duckdb":
        assert sorted(stored) == sorted(expected)
    # PostgreSQL's JSONB keeps object keys in an order of its own (labels, utm).
    canonical = sorted(orjson.dumps(orjson.loads(d), option=orjson.OPT_SORT_KEYS) for d in stored)
    assert canonical == sorted(orjson.dumps(orjson.loads(d), option=orjson.OPT_SORT_KEYS) for d in expected)
    [row] = store.query("SELECT * FROM logs WHERE dataset = 'application' AND ts = :ts", {"ts": datetime(2026, 1, 2)})
    assert len(row["message"]) == MAX_MESSAGE_COLUMN
    assert LogRecord.from_row(row).ecs()["message"] == long.message


_TEXT = st.text(max_size=20)
_MAYBE = st.none() | _TEXT
_SCALAR = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | _TEXT | st.floats(
    allow_nan=False, allow_infinity=False
)
_SECONDS = st.none() | st.floats(0, 10_000, allow_nan=False)


@st.composite
def _records(draw: st.DrawFn) -> LogRecord:
    geo = draw(st.none() | st.fixed_dictionaries({}, optional={
        "region": _TEXT, "city": _TEXT, "asn": st.integers(0, 2**32), "as_org": _TEXT}))
    source_ip, path, query = draw(_MAYBE), draw(_MAYBE), draw(_MAYBE)
    # Mostly what parsers make: the peer is the client, the target is path and query.
    request_target = None if path is None else f"{path}?{query}" if query else path
    return LogRecord(
        dataset=draw(st.sampled_from(["access", "security", "application", "dead-letter"])),
        ts=draw(st.datetimes(datetime(1990, 1, 1), datetime(2100, 1, 1))),
        site_id=draw(st.text(min_size=1, max_size=10)),
        original=draw(_MAYBE),
        source_ip=source_ip,
        source_address=draw(st.just(source_ip) | _MAYBE),
        path=path,
        query=query,
        target=draw(st.just(request_target) | _MAYBE),
        **{name: draw(_MAYBE) for name in (
            "forwarded_for", "user_name", "method", "http_version", "domain", "route",
            "referrer", "user_agent", "browser", "browser_version", "os", "device", "country",
            "channel", "level", "logger", "error")},
        status=draw(st.none() | st.integers(100, 599)),
        bytes=draw(st.none() | st.integers(0, 2**40)),
        duration=draw(_SECONDS),
        upstream_duration=draw(_SECONDS),
        bot=draw(st.none() | st.booleans()),
        geo=geo or None,
        utm=draw(st.none() | st.dictionaries(st.sampled_from(["utm_source", "utm_medium"]), _TEXT)),
        threats=draw(st.lists(st.builds(ThreatMatch, _TEXT, _TEXT, _TEXT, _TEXT), max_size=2)),
        message=draw(_MAYBE | st.text(min_size=MAX_MESSAGE_COLUMN + 1, max_size=MAX_MESSAGE_COLUMN + 3)),
        labels=draw(st.none() | st.dictionaries(_TEXT, _SCALAR, max_size=3)),
    )


@given(_records())
def test_any_record_reads_back_as_its_document(record: LogRecord) -> None:
    assert LogRecord.from_row(_stored(record)).json == record.json
    # Rows written before the split hold the whole document in props: same answer
    # (but for an empty parse error, which left no trace there; the pipeline never
    # makes one).
    if record.error != "":
        assert LogRecord.from_row(_stored(record, props=record.ecs())).json == record.json
