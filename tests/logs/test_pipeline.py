"""The pipeline end to end into the event store, on both backends."""

from __future__ import annotations

import gc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson

from leadwatch.logs.pipeline import Pipeline
from leadwatch.logs.record import LogRecord
from leadwatch.security.events import SecurityEvent
from leadwatch.store.events import EventStore
from leadwatch.store.schema import LOGS as LOGS_TABLE
from leadwatch.store.schema import utcnow
from tests.logs.conftest import REAL_LOG

ATTACK = (
    '81.2.69.160 - - [17/May/2015:10:05:03 +0000] "GET /search?q=1%27%20OR%20%271%27=%271 HTTP/1.1" '
    '200 10 "-" "Mozilla/5.0 (X11; Linux x86_64)"'
)


def test_the_real_log_is_stored_enriched_and_counted(
    make_pipeline: Callable[..., Pipeline], store: EventStore
) -> None:
    pipeline = make_pipeline()
    lines = REAL_LOG.read_text().splitlines()
    seen: list[LogRecord] = []
    pipeline.subscribe(lambda record, _received_at: seen.append(record))
    for i in range(0, len(lines), 2500):
        pipeline.process(lines[i : i + 2500], site_id="default")
    assert len(seen) == 10_000 and store.count(LOGS_TABLE, dataset="access") == 10_000
    registry = pipeline.registry  # type: ignore[attr-defined]
    assert registry.get_sample_value(
        "leadwatch_log_lines_total", {"dataset": "access", "outcome": "parsed"}
    ) == 10_000
    row = store.query(
        "SELECT * FROM logs WHERE dataset = 'access' AND ts = :ts AND path = :path",
        {"ts": datetime(2015, 5, 17, 10, 5, 3), "path": "/presentations/logstash-monitorama-2013/images/kibana-search.png"},
    )[0]
    assert (row["source_ip"], row["status"], row["country"], row["browser"], row["bot"]) == (
        "83.149.9.216", 200, "RU", "Chrome", "false",
    )
    document = LogRecord.from_row(row).ecs()
    assert document["source"]["geo"]["country_iso_code"] == "RU"
    assert document["user_agent"]["name"] == "Chrome"
    bots = store.query("SELECT count(*) AS n FROM logs WHERE bot = 'true'")[0]["n"]
    assert 1000 < bots < 5000  # Googlebot, Bingbot and friends are a good share of it


def test_attacks_are_copied_to_security_and_recorded(
    make_pipeline: Callable[..., Pipeline], store: EventStore
) -> None:
    result = make_pipeline().process([ATTACK], site_id="default")
    assert result.datasets == {"access": 1, "security": 1}
    [row] = store.query("SELECT * FROM logs WHERE dataset = 'security'")
    assert "sqli" in row["threat"].split(",")
    assert LogRecord.from_row(row).ecs()["leadwatch"]["threats"][0]["field"] == "query"
    events = store.query("SELECT name, props FROM events WHERE type = 'security'")
    assert any(e["name"] == "sqli" for e in events)
    props = next(e["props"] for e in events if e["name"] == "sqli")
    assert props["action"] == "logged" and props["source"] == "logs" and props["ip"] == "81.2.69.160"


def test_lines_are_detected_when_received_never_before_their_own_time(
    make_pipeline: Callable[..., Pipeline], store: EventStore
) -> None:
    pipeline = make_pipeline()
    detected: list[SecurityEvent] = []
    pipeline.security_log.subscribe(detected.extend)  # type: ignore[union-attr]
    received: list[datetime] = []
    pipeline.subscribe(lambda _record, received_at: received.append(received_at))
    line_time = datetime(2015, 5, 17, 10, 5, 3)

    later = line_time + timedelta(minutes=7)
    pipeline.process([ATTACK, "garbage line"], site_id="default", received_at=later.replace(tzinfo=UTC))
    pipeline.process([ATTACK], site_id="default", received_at=line_time - timedelta(hours=1))
    before = utcnow()
    pipeline.process([ATTACK], site_id="default")  # shipped now

    sqli = [e for e in detected if e.threat == "sqli"]
    assert [e.ts for e in sqli] == [line_time] * 3  # seen when the line says
    assert sqli[0].detected_at == later  # detected when received (aware input taken as UTC)
    assert sqli[1].detected_at == line_time  # a claim of receipt before the line happened
    assert sqli[2].detected_at is not None and sqli[2].detected_at >= before
    assert received[:2] == [later, line_time - timedelta(hours=1)] and received[2] >= before
    [dead] = store.query("SELECT ts FROM logs WHERE dataset = 'dead-letter'")
    assert dead["ts"] == later  # a line without a time of its own is dated when it came


def test_unparseable_lines_become_counted_dead_letters(
    make_pipeline: Callable[..., Pipeline], store: EventStore
) -> None:
    pipeline = make_pipeline()
    result = pipeline.process(["garbage line", '{"no": "time"}', "x" * 70_000, ATTACK], site_id="default")
    assert result.lines == 4 and result.dead_letters == 3
    rows = store.query("SELECT * FROM logs WHERE dataset = 'dead-letter' ORDER BY message")
    documents = [LogRecord.from_row(r).ecs() for r in rows]
    reasons = sorted(d["labels"]["reason"] for d in documents)
    assert reasons == ["missing_timestamp", "too_long", "unrecognised_format"]
    assert any(d["event"]["original"] == "garbage line" for d in documents)
    registry = pipeline.registry  # type: ignore[attr-defined]
    assert registry.get_sample_value(
        "leadwatch_log_lines_total", {"dataset": "dead-letter", "outcome": "dead_letter"}
    ) == 3
    assert registry.get_sample_value("leadwatch_log_dead_letters_total", {"reason": "too_long"}) == 1


def test_a_failing_subscriber_loses_nothing(
    make_pipeline: Callable[..., Pipeline], store: EventStore
) -> None:
    pipeline = make_pipeline()

    def broken(record: LogRecord, received_at: datetime) -> None:
        raise RuntimeError("detector bug")

    pipeline.subscribe(broken)
    pipeline.process([ATTACK], site_id="default")
    assert store.count(LOGS_TABLE, dataset="access") == 1


def test_app_log_lines_keep_their_document(
    make_pipeline: Callable[..., Pipeline], store: EventStore
) -> None:
    line = orjson.dumps({"timestamp": "2026-05-17T10:00:00Z", "level": "error", "event": "smtp_failed",
                         "logger": "leadwatch.notify", "attempt": 3}).decode()
    make_pipeline().process([line], site_id="default")
    [row] = store.query("SELECT * FROM logs WHERE dataset = 'application'")
    assert (row["level"], row["message"]) == ("error", "smtp_failed")
    document = LogRecord.from_row(row).ecs()
    assert document["log"] == {"level": "error", "logger": "leadwatch.notify"}
    assert document["labels"]["attempt"] == 3



def test_the_garbage_collector_is_paused_during_a_batch_only(
    make_pipeline: Callable[..., Pipeline], store: EventStore
) -> None:
    pipeline = make_pipeline()
    during: list[bool] = []
    pipeline.subscribe(lambda record, _received_at: during.append(gc.isenabled()))
    pipeline.process([ATTACK], site_id="default")
    assert during == [False] and gc.isenabled()
    gc.disable()  # a collector the host switched off stays off
    try:
        pipeline.process([ATTACK], site_id="default")
        assert not gc.isenabled()
    finally:
        gc.enable()
