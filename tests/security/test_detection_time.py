"""When leadwatch detected it: an access log replayed as if received back then (an
in-process caller passing ``received_at``) is detected, banned and counted then; the
same lines shipped now are detected and banned now; and the HTTP ingest cannot claim a
past receipt."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from leadwatch.app import create_app
from leadwatch.runtime import Runtime
from leadwatch.security.bans import active_bans
from leadwatch.security.incidents import summary
from leadwatch.security.models import IpBan, SecurityIncident
from leadwatch.settings import Settings
from leadwatch.store.schema import utcnow
from tests.conftest import ADMIN

IP = "198.51.100.9"
SECURITY = {"failed_login_routes": ["POST /account/login"]}  # a site of its own, in its access log
FAILED_LOGIN = '{ip} - - [{at:%d/%b/%Y:%H:%M:%S} +0000] "POST /account/login HTTP/1.1" 401 12 "-" "Mozilla/5.0"'
SQLI = '{ip} - - [{at:%d/%b/%Y:%H:%M:%S} +0000] "GET /?id=1%27%20OR%20%271%27=%271 HTTP/1.1" 200 9 "-" "curl/8.5.0"'
FAILURES = 21  # one over security.brute_force_failures: the 21st line is the detection


@pytest.fixture
def runtime(settings_for: Callable[..., Settings]) -> Iterator[Runtime]:
    """A runtime whose services are not started: the test runs the incident pass."""
    with Runtime(settings_for("embedded", security=SECURITY)) as runtime:
        runtime.migrate()
        yield runtime


def _attack(start: datetime) -> list[tuple[datetime, str]]:
    """(time, line): 21 failed logins a second apart, then SQL injection ten seconds later."""
    times = [start + timedelta(seconds=s) for s in range(FAILURES)]
    lines = [(at, FAILED_LOGIN.format(ip=IP, at=at)) for at in times]
    sqli_at = times[-1] + timedelta(seconds=10)
    return [*lines, (sqli_at, SQLI.format(ip=IP, at=sqli_at))]


def _incidents(runtime: Runtime) -> dict[str, SecurityIncident]:
    runtime.security.incidents.process()
    with runtime.records.session() as session:
        return {i.threat: i for i in session.scalars(select(SecurityIncident))}


def _events(runtime: Runtime, threat: str, action: str) -> float:
    sample = runtime.metrics.registry.get_sample_value(
        "leadwatch_security_events_total", {"threat": threat, "action": action})
    return sample or 0.0


def _start(ago: timedelta) -> datetime:
    return (utcnow() - ago).replace(microsecond=0)  # access logs keep whole seconds


def test_history_replayed_as_received_back_then_is_detected_then_and_its_over_ban_not_made(
    runtime: Runtime,
) -> None:
    start = _start(timedelta(hours=3))  # longer ago than security.ban_seconds (an hour)
    for at, line in _attack(start):
        runtime.logs.pipeline.process([line], site_id="default", fmt="combined", received_at=at)

    found = _incidents(runtime)
    brute, sqli = found["brute_force"], found["sqli"]
    detected = start + timedelta(seconds=FAILURES - 1)
    assert brute.first_seen_at == start.replace(tzinfo=UTC)
    assert brute.detected_at == detected.replace(tzinfo=UTC)  # the 21st line, as it came
    assert sqli.detected_at == sqli.first_seen_at  # a content finding: detected on arrival
    window = summary(runtime.records, "default", start.replace(tzinfo=UTC), datetime.now(UTC))
    assert window["mttd_seconds"] == (FAILURES - 1) / 2  # (20 s + 0 s) / 2: the real gaps

    # The ban would have ended two hours ago: none is made, and nobody says it was.
    assert runtime.guard.bans.banned(IP) is None
    with runtime.records.session() as session:
        assert session.scalar(select(func.count()).select_from(IpBan)) == 0
    assert _events(runtime, "brute_force", "logged") == 1
    assert _events(runtime, "brute_force", "banned") == 0


def test_a_replayed_ban_lasts_ban_seconds_from_its_detection(runtime: Runtime) -> None:
    start = _start(timedelta(minutes=10))
    for at, line in _attack(start):
        runtime.logs.pipeline.process([line], site_id="default", fmt="combined", received_at=at)

    detected = (start + timedelta(seconds=FAILURES - 1)).replace(tzinfo=UTC)
    ban_seconds = runtime.settings.security.ban_seconds
    assert runtime.guard.bans.banned(IP) == detected + timedelta(seconds=ban_seconds)
    [ban] = active_bans(runtime.records)
    assert (ban.threat, ban.created_at) == ("brute_force", detected)
    assert _events(runtime, "brute_force", "banned") == 1


def test_the_same_lines_shipped_now_are_detected_and_banned_now(runtime: Runtime) -> None:
    start = _start(timedelta(hours=3))
    before = datetime.now(UTC)
    for _, line in _attack(start):
        runtime.logs.pipeline.process([line], site_id="default", fmt="combined")

    found = _incidents(runtime)
    for incident in found.values():
        assert incident.detected_at >= before  # read three hours late: detected late
    window = summary(runtime.records, "default", before, datetime.now(UTC))
    assert window["mttd_seconds"] >= (before - start.replace(tzinfo=UTC)).total_seconds() - FAILURES
    until = runtime.guard.bans.banned(IP)
    assert until is not None and until >= before + timedelta(seconds=runtime.settings.security.ban_seconds)
    assert _events(runtime, "brute_force", "banned") == 1


def test_a_shipper_cannot_claim_a_past_receipt(settings_for: Callable[..., Settings]) -> None:
    start = _start(timedelta(hours=3))
    body = "\n".join(line for _, line in _attack(start))
    with TestClient(create_app(settings_for("embedded", security=SECURITY)),
                    client=("192.0.2.200", 1)) as client:
        before = datetime.now(UTC)
        response = client.post("/api/v1/logs", headers={**ADMIN, "Content-Type": "text/plain"},
                               params={"format": "combined", "received_at": start.isoformat()},
                               content=body)
        assert response.status_code == 202
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        until = runtime.guard.bans.banned(IP)
        assert until is not None and until >= before + timedelta(seconds=runtime.settings.security.ban_seconds)
