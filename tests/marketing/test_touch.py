"""Attribution tokens: round trips, tamper resistance, the journey kept."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from leadwatch.marketing.channels import CHANNELS
from leadwatch.marketing.touch import (
    MAC_BYTES,
    MAX_MIDDLE,
    MAX_SESSION_ID,
    MAX_SESSIONS,
    MAX_TOKEN_CHARS,
    SHORT_URL,
    SessionRef,
    Touch,
    Touches,
    _b64,
    _mac,
    _signed,
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


# Short values, and long ones (often of multi-byte characters): the journeys that
# test the token's cap.
texts = st.one_of(
    st.none(), st.text(max_size=40), st.text(min_size=1, max_size=3).map(lambda s: (s * 400)[:400])
)
touches = st.builds(
    lambda channel, seconds, *values: Touch(T0 + timedelta(seconds=seconds), channel, *values),
    st.sampled_from(CHANNELS), st.integers(0, 10_000_000), texts, texts, texts, texts, texts,
)
session_ids = st.text("0123456789abcdef", min_size=1, max_size=MAX_SESSION_ID)


def attribution(t: Touch) -> tuple[object, ...]:
    """What first- and last-touch attribution read of a touch."""
    return t.ts, t.channel, t.source, t.medium, t.campaign


def journey_of(steps: list[Touch], sessions: list[str]) -> Touches:
    journey = Touches.start(steps[0])
    for t in steps[1:]:
        journey = journey.add(t)
    for n, session_id in enumerate(sessions):
        journey = journey.with_session(session_id, T0 + timedelta(hours=n))
    return journey


@given(st.lists(touches, min_size=1, max_size=12), st.lists(session_ids, max_size=MAX_SESSIONS + 2))
def test_any_journey_fits_in_a_token_keeping_its_first_and_latest_touch(
    steps: list[Touch], sessions: list[str]
) -> None:
    journey = journey_of(steps, sessions)
    token = sign_touches(SECRET, journey)
    assert len(token) <= MAX_TOKEN_CHARS
    back = read_touches(SECRET, token)
    assert back is not None
    assert attribution(back.first) == attribution(journey.first)
    assert attribution(back.latest) == attribution(journey.latest)
    # What was given up went oldest first.
    dropped = len(journey.middle) - len(back.middle)
    assert [attribution(t) for t in back.middle] == [attribution(t) for t in journey.middle[dropped:]]
    assert back.sessions == journey.sessions[len(journey.sessions) - len(back.sessions):]
    # A journey that fits is not trimmed at all.
    if len(_signed(journey)) + len(".") + len(_b64(bytes(MAC_BYTES))) <= MAX_TOKEN_CHARS:
        assert back == journey
    assert Touches.from_dict(journey.to_dict()) == replace(journey, sessions=())


def test_a_journey_of_long_addresses_gives_up_address_tails_then_the_oldest_middle() -> None:
    # Eight touches with long landing paths, referrers and campaigns, ten sessions.
    steps = [touch(channel, day, source=f"source-{day}", medium="cpc",
                   campaign=f"campaign-{day}-" + "c" * 80,
                   landing_path="/landing/" + "p" * 290, referrer="https://ref.example/" + "r" * 280)
             for day, channel in enumerate(["Organic Search", *["Paid Social", "Email"] * 4][:8])]
    journey = journey_of(steps, [f"{n:032x}" for n in range(MAX_SESSIONS)])
    assert len(_signed(journey)) > MAX_TOKEN_CHARS
    back = read_touches(SECRET, sign_touches(SECRET, journey))
    assert back is not None
    assert back.first == replace(journey.first, landing_path=journey.first.landing_path[:SHORT_URL],
                                 referrer=journey.first.referrer[:SHORT_URL])
    assert attribution(back.latest) == attribution(journey.latest)
    assert 0 < len(back.middle) < len(journey.middle)
    assert back.middle[-1].source == journey.middle[-1].source  # the newest middle kept
    assert back.sessions == journey.sessions


def test_the_largest_journey_fits_with_its_first_and_latest_touch_exact() -> None:
    big = "\U0001d518" * 400  # four bytes in UTF-8, cut to each field's limit
    steps = [Touch(T0 + timedelta(days=n), CHANNELS[n % len(CHANNELS)], f"{n}{big}", big, big, big, big)
             for n in range(MAX_MIDDLE + 2)]
    journey = journey_of(steps, ["f" * MAX_SESSION_ID + str(n) for n in range(MAX_SESSIONS)])
    token = sign_touches(SECRET, journey)
    assert len(token) <= MAX_TOKEN_CHARS
    back = read_touches(SECRET, token)
    assert back is not None
    assert back.first == replace(journey.first, landing_path=None, referrer=None)
    assert back.latest == replace(journey.latest, landing_path=None, referrer=None)
    assert back.middle == () and back.sessions == ()


def test_control_characters_are_not_kept() -> None:
    # Junk in a UTM value, and six bytes each in the token once JSON-escaped.
    t = touch("Email", source="news\x00let\tter", campaign="\x1f" * 200 + "q4")
    assert t.source == "newsletter" and t.campaign == "q4"
