"""Journeys against local servers made to fail in each way a site does."""

from __future__ import annotations

import datetime as dt
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dns.message
import dns.rrset
import pytest

from leadwatch.synthetic.journey import parse_journeys
from leadwatch.synthetic.marker import sign_marker, verify_marker
from leadwatch.synthetic.results import RunResult
from leadwatch.synthetic.runner import run_journey
from tests.servers import free_port
from tests.synthetic.sites import make_certificate, now_utc, serve_site, serve_tls


def journey(steps: list[dict[str, Any]], **extra: Any):  # type: ignore[no-untyped-def]
    return parse_journeys({"name": "test", "timeout": "10s", "steps": steps, **extra}, "test")[0]


def run(steps: list[dict[str, Any]], base: str = "", **extra: Any) -> RunResult:
    return run_journey(journey(steps, **extra), location="us-east", variables={"site_url": base})


def http(name: str, path: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "http": {"url": "${site_url}" + path, **options}}


HOME = http("home", "/", expect={"status": 200, "body_contains": ["Welcome"], "meta": {}})


def test_a_healthy_site_passes_every_check() -> None:
    with serve_site() as (base, _):
        result = run([HOME], base)
    assert result.success, result.error
    assert result.steps[0].details["status"] == 200


@pytest.mark.parametrize(
    ("mode", "delay", "steps", "options", "error"),
    [
        ("error", 0.0, [HOME], {}, "home: status 500, expected 200"),
        ("ok", 0.3, [http("home", "/", expect={"max_seconds": "100ms"})], {}, "more than 0.1 s"),
        ("ok", 3.0, [HOME], {"timeout": "0.5s"}, "timeout"),
        ("wrong_content", 0.0, [HOME], {}, "body lacks 'Welcome'"),
        ("missing_meta", 0.0, [HOME], {}, "meta description missing"),
    ],
    ids=["server-error", "slow", "slower-than-timeout", "wrong-content", "missing-meta-tag"],
)
def test_a_failing_site_fails_the_run_naming_why(
    mode: str, delay: float, steps: list[dict[str, Any]], options: dict[str, Any], error: str
) -> None:
    with serve_site() as (base, site):
        site.mode, site.delay = mode, delay
        result = run(steps, base, **options)
    assert not result.success
    assert error in (result.error or "")


def test_a_site_that_is_down_fails_with_the_reason() -> None:
    base = f"http://127.0.0.1:{free_port()}"  # nothing listens here
    result = run([HOME], base)
    assert not result.success
    assert result.error is not None and result.error.startswith("home: request to")
    assert "ConnectError" in result.error


def test_captures_carry_values_into_later_steps_and_requests_carry_the_marker() -> None:
    key = b"k" * 32
    steps = [
        http("token", "/api/token", expect={"json": {"items.0.id": 7}},
             capture={"tok": {"json": "token"}, "first": {"regex": r'"id": (\d+)'}}),
        http("echo", "/api/echo", headers={"X-Token": "${tok}-${first}"},
             expect={"json": {"seen": "tok-42-7"}}, capture={"marker": {"json": "marker"}}),
    ]
    with serve_site() as (base, _):
        result = run_journey(journey(steps), location="us-east", variables={"site_url": base},
                             marker=lambda run_id: (run_id, sign_marker(key, run_id)))
    assert result.success, result.error
    assert result.marker_id == result.run_id


def test_an_unknown_variable_fails_the_step_naming_it() -> None:
    result = run([{"name": "x", "http": {"url": "${nowhere}/"}}])
    assert not result.success and "unknown variable ${nowhere}" in (result.error or "")


def test_a_failed_step_ends_the_run() -> None:
    with serve_site() as (base, site):
        site.mode = "error"
        result = run([HOME, http("contact", "/contact")], base)
    assert [s.name for s in result.steps] == ["home"]


def test_run_rows_hold_the_run_and_each_step() -> None:
    with serve_site() as (base, _):
        result = run([HOME, http("contact", "/contact")], base)
    rows = result.rows()
    assert [r[5] for r in rows] == ["run", "http", "http"]
    assert [r[6] for r in rows] == [None, "home", "contact"]
    assert {r[2] for r in rows} == {result.run_id}


# ---- TLS ----

@pytest.fixture
def cert_dir(tmp_path: Path) -> Path:
    return tmp_path


def tls_step(port: int, ca: Path, **options: Any) -> dict[str, Any]:
    return {"name": "cert", "tls": {"host": "127.0.0.1", "port": port, "ca_file": str(ca), **options}}


def test_a_valid_certificate_passes_and_reports_days_left(cert_dir: Path) -> None:
    now = now_utc()
    cert, key = make_certificate(cert_dir, not_before=now - dt.timedelta(days=1),
                                 not_after=now + dt.timedelta(days=90))
    with serve_tls(cert, key) as port:
        result = run([tls_step(port, cert)])
    assert result.success, result.error
    details = result.steps[0].details
    assert 89 < details["days_left"] <= 90 and details["verified"] is True
    assert details["target"] == f"127.0.0.1:{port}"


def test_an_expired_certificate_fails(cert_dir: Path) -> None:
    now = now_utc()
    cert, key = make_certificate(cert_dir, not_before=now - dt.timedelta(days=60),
                                 not_after=now - dt.timedelta(days=3))
    with serve_tls(cert, key) as port:
        verified = run([tls_step(port, cert)])
        unverified = run([tls_step(port, cert, verify=False)])
    assert not verified.success and "expired" in (verified.error or "")
    assert verified.steps[0].details["days_left"] < -2.9
    assert not unverified.success and "expired 3.0 days ago" in (unverified.error or "")


def test_a_certificate_close_to_expiry_fails_on_min_days(cert_dir: Path) -> None:
    now = now_utc()
    cert, key = make_certificate(cert_dir, not_before=now - dt.timedelta(days=1),
                                 not_after=now + dt.timedelta(days=5))
    with serve_tls(cert, key) as port:
        result = run([tls_step(port, cert, min_days=14)])
    assert not result.success and "less than 14" in (result.error or "")


def test_an_untrusted_certificate_fails_verification(cert_dir: Path, tmp_path: Path) -> None:
    now = now_utc()
    cert, key = make_certificate(cert_dir, not_before=now - dt.timedelta(days=1),
                                 not_after=now + dt.timedelta(days=90))
    with serve_tls(cert, key) as port:
        result = run([{"name": "cert", "tls": {"host": "127.0.0.1", "port": port}}])
    assert not result.success and "does not verify" in (result.error or "")


# ---- DNS ----

@contextmanager
def dns_server(answers: dict[str, str]) -> Iterator[int]:
    """A one-zone DNS server over UDP on 127.0.0.1 answering A queries."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text()
            if name in answers:
                response.answer.append(dns.rrset.from_text(name, 60, "IN", "A", answers[name]))
            else:
                response.set_rcode(3)  # NXDOMAIN
            sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        sock.close()


def test_dns_over_a_nameserver_checks_the_answers() -> None:
    with dns_server({"www.example.test.": "192.0.2.10"}) as port:
        ok = run([{"name": "dns", "dns": {"name": "www.example.test", "nameserver": "127.0.0.1",
                                          "port": port, "expect": ["192.0.2.10"]}}])
        wrong = run([{"name": "dns", "dns": {"name": "www.example.test", "nameserver": "127.0.0.1",
                                             "port": port, "expect": ["192.0.2.99"]}}])
        absent = run([{"name": "dns", "dns": {"name": "gone.example.test", "nameserver": "127.0.0.1",
                                              "port": port}}])
    assert ok.success, ok.error
    assert ok.steps[0].details["answers"] == ["192.0.2.10"]
    assert not wrong.success and "lack ['192.0.2.99']" in (wrong.error or "")
    assert not absent.success and "does not resolve" in (absent.error or "")


def test_dns_through_the_system_resolver() -> None:
    result = run([{"name": "dns", "dns": {"name": "localhost", "expect": ["127.0.0.1"]}}])
    assert result.success, result.error


# ---- marker ----

def test_markers_verify_only_with_the_key_and_before_expiry() -> None:
    key = b"s" * 32
    token = sign_marker(key, "run-1", ttl=60, now=1000)
    assert verify_marker(key, token, now=1059) == "run-1"
    assert verify_marker(key, token, now=1061) is None
    assert verify_marker(b"t" * 32, token, now=1000) is None
    assert verify_marker(key, token.replace("run-1", "run-2"), now=1000) is None
    assert verify_marker(key, "garbage", now=1000) is None
