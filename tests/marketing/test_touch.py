"""Attribution tokens: round trips, tamper resistance, the journey kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from leadwatch.marketing.channels import CHANNELS
from leadwatch.marketing.touch import (
    MAX_MIDDLE,
    MAX_SESSIONS,
    SessionRef,
    Touch,
    Touches,
    _b64,
    _mac,
    read_touches,
    sign_touches,
)

SECRET = b"k" * 32
T0 = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


def touch(channel: str, days: int = 0, **kw: str) -> Touch:
    return Touch(ts=T0 + timedelta(days=days), channel=channel, **kw)


def test_round_trip() -> None:
    first = touch("Organic Search", source="google", landing_path="/services/seo",
                  referrer="https://www.google.com/")
    journey = Touches.start(first).add(touch("Paid Social", 3, source="facebook", medium="cpc",
                                             campaign="q4"))
    token = sign_touches(SECRET, journey)
    assert token.startswith("v2.")
    back = read_touches(SECRET, token)
    assert back == journey
    assert back.first.channel == "Organic Search" and back.latest.campaign == "q4"
    assert back.first.ts == first.ts


def test_compact() -> None:
    journey = Touches.start(touch("Direct"))
    assert len(sign_touches(SECRET, journey)) < 200


def test_rejects_forgeries() -> None:
    token = sign_touches(SECRET, Touches.start(touch("Email", source="newsletter")))
    version, payload, mac = token.split(".")
    assert read_touches(b"another-key-" * 3, token) is None
    assert read_touches(SECRET, f"{version}.{payload}x.{mac}") is None
    assert read_touches(SECRET, f"v3.{payload}.{mac}") is None
    assert read_touches(SECRET, f"{version}.{payload}") is None
    assert read_touches(SECRET, "") is None
    assert read_touches(SECRET, "garbage") is None
    assert read_touches(SECRET, "v1.!!!.???") is None
    assert read_touches(b"", token) is None


def test_the_latest_sessions_ride_along() -> None:
    journey = Touches.start(touch("Direct"))
    for n in range(MAX_SESSIONS + 2):
        journey = journey.with_session(f"s{n}", T0 + timedelta(hours=n)).with_session(f"s{n}", T0)
    assert [s.id for s in journey.sessions] == [f"s{n}" for n in range(2, MAX_SESSIONS + 2)]
    assert journey.sessions[0] == SessionRef("s2", int((T0 + timedelta(hours=2)).timestamp()))
    later = journey.add(touch("Email", 1))
    assert later.sessions == journey.sessions
    assert read_touches(SECRET, sign_touches(SECRET, later)) == later
    assert "sessions" not in later.to_dict()  # never stored with a lead


def test_a_v1_token_still_reads_without_sessions() -> None:
    signed = "v1." + _b64(b'[[1761989400,"Email","newsletter",null,null,"/",null]]')
    back = read_touches(SECRET, f"{signed}.{_b64(_mac(SECRET, signed))}")
    assert back is not None and back.first.source == "newsletter" and back.sessions == ()


def test_a_repeat_of_the_latest_source_moves_its_time() -> None:
    journey = Touches.start(touch("Organic Search", source="google"))
    later = journey.add(touch("Organic Search", 2, source="google"))
    assert later.path == (journey.first,)
    assert later.latest.ts == T0 + timedelta(days=2)


def test_the_middle_is_bounded_and_keeps_first_and_latest() -> None:
    journey = Touches.start(touch("Direct"))
    channels = ["Email", "Referral", "Organic Social", "Paid Search", "Display"] * 3
    for day, channel in enumerate(channels, start=1):
        journey = journey.add(touch(channel, day))
    assert journey.first.channel == "Direct"
    assert journey.latest.channel == channels[-1]
    assert len(journey.middle) == MAX_MIDDLE
    assert read_touches(SECRET, sign_touches(SECRET, journey)) == journey
    assert Touches.from_dict(journey.to_dict()) == journey


texts = st.one_of(st.none(), st.text(max_size=400))


@given(
    st.lists(
        st.tuples(st.sampled_from(CHANNELS), texts, texts, st.integers(0, 10_000_000)),
        min_size=1,
        max_size=12,
    )
)
def test_any_journey_survives_the_token(steps: list[tuple[str, str | None, str | None, int]]) -> None:
    journey: Touches | None = None
    for channel, source, landing, seconds in steps:
        t = Touch(T0 + timedelta(seconds=seconds), channel, source=source, landing_path=landing)
        journey = Touches.start(t) if journey is None else journey.add(t)
    assert journey is not None
    assert read_touches(SECRET, sign_touches(SECRET, journey)) == journey
    assert Touches.from_dict(journey.to_dict()) == journey
