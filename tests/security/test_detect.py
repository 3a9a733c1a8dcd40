"""Content inspection: attacks are found through encodings; ordinary text is not flagged."""

from __future__ import annotations

import pytest

from leadwatch.security import Field, Threat, inspect


@pytest.mark.parametrize(
    ("value", "threat"),
    [
        ("1' OR '1'='1", Threat.SQLI),
        ("1%27%20OR%20%271%27%3D%271", Threat.SQLI),  # URL-encoded
        ("1%2527%2520OR%2520%25271%2527%253D%25271", Threat.SQLI),  # double-encoded
        ("x' UNION SELECT password FROM users--", Threat.SQLI),
        ("<script>alert(1)</script>", Threat.XSS),
        ("&lt;script&gt;alert(1)&lt;/script&gt;", Threat.XSS),  # HTML entities
        ('<img src=x onerror="alert(1)">', Threat.XSS),
    ],
)
def test_attacks_are_found(value: str, threat: Threat) -> None:
    assert threat in {f.threat for f in inspect(value, Field.QUERY)}


@pytest.mark.parametrize(
    "value",
    [
        "Siobhan O'Brien",
        "Please select the best plan for us and drop me a line",
        "I <3 your work!",
        "Our budget is 5,000-10,000 per month; call 555-0100 ext. 2",
        "42 Main St., Apt #5",
        "",
    ],
)
def test_ordinary_text_is_not_flagged(value: str) -> None:
    assert inspect(value) == []


def test_security_events_are_stored_and_counted(settings_for) -> None:  # type: ignore[no-untyped-def]
    from leadwatch.runtime import Runtime
    from leadwatch.security.events import Action, SecurityEvent

    with Runtime(settings_for("embedded")) as runtime:
        runtime.start()
        runtime.security_log.record(SecurityEvent(
            "default", "sqli", Action.BLOCKED, "leads", ip="203.0.113.9", field="message",
            rule="libinjection.sqli", evidence="x" * 500, path="/api/leads",
        ))
        runtime.event_buffer.flush()
        [row] = runtime.events.query("SELECT * FROM events WHERE type = 'security'")
        assert row["name"] == "sqli" and row["path"] == "/api/leads"
        assert row["props"]["action"] == "blocked" and row["props"]["ip"] == "203.0.113.9"
        assert len(row["props"]["evidence"]) == 200
        assert runtime.metrics.registry.get_sample_value(
            "leadwatch_security_events_total", {"threat": "sqli", "action": "blocked"}) == 1


# The benign lines still flagged in a form (their first 70 characters), each a miss
# counted against us. Read inside a quoted string, as an injection is, the prose's own
# quotes flip, and "=" becomes MySQL's '=' probe (a comparison, which the form rules
# keep): the lead is refused. The button's inline onclick handler is script, flagged
# (the lead kept), but it was written as benign text (part 7), so it counts as a false
# positive. A new line here is a regression, or a new miss to list with its reason.
KNOWN_BENIGN_FLAGS = {
    'The calculator shows "=" then nothing. Is it broken?': {Threat.SQLI},
    """We'd like to track clicks on the "Call now" button. Developer added: <""": {Threat.XSS},
}


def test_benign_form_text_is_not_flagged_but_for_the_known_misses() -> None:
    from tests.security.corpora import benign_form

    flagged = {v[:70]: {f.threat for f in inspect(v, Field.FORM)} for v in benign_form()}
    assert {v: threats for v, threats in flagged.items() if threats} == KNOWN_BENIGN_FLAGS


def test_pasted_script_in_a_form_is_flagged_as_xss_and_never_refused() -> None:
    """A client's pasted tag or widget loader is script (flag and notify: the lead is
    kept); reading it as SQL injection would refuse the lead."""
    from tests.security.corpora import pasted_script

    verdicts = {v[:70]: {f.threat for f in inspect(v, Field.FORM)} for v in pasted_script()}
    assert len(verdicts) >= 10 and all(threats == {Threat.XSS} for threats in verdicts.values()), verdicts
