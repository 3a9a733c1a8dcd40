"""Our own detection rules (rules.yaml): every rule finds its examples and ignores its
counter-examples, through the encodings a server would decode."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadwatch.security.detect import (
    Field,
    Inspector,
    Rule,
    Threat,
    decoded_forms,
    inspect,
    load_rules,
)

RULES = load_rules()


def finds(rule: Rule, value: str, field: Field) -> bool:
    return any(rule.pattern.search(form) for form in decoded_forms(value, field))


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule(rule: Rule) -> None:
    assert rule.matches and rule.ignores, "every rule needs examples both ways"
    for field in rule.fields:
        for value in rule.matches:
            assert finds(rule, value, field), (field, value)
            assert rule.threat in {f.threat for f in inspect(value, field)}, (field, value)
        for value in rule.ignores:
            assert not finds(rule, value, field), (field, value)


@pytest.mark.parametrize(
    ("value", "field", "threat"),
    [
        ("/%2e%2e/%2e%2e/etc/passwd", Field.PATH, Threat.PATH_TRAVERSAL),
        ("/%252e%252e%252f%252e%252e%252fsecret", Field.PATH, Threat.PATH_TRAVERSAL),  # double
        ("%u002e%u002e%u002f", Field.QUERY, Threat.PATH_TRAVERSAL),  # IIS %u
        ("/.ENV", Field.PATH, Threat.PROBE),  # case
        ("/%2Egit/config", Field.PATH, Threat.PROBE),
        ("SQLMAP/1.8", Field.HEADER, Threat.SCANNER),
        ("&#x3C;script&#x3E;alert(1)&#x3C;/script&#x3E;", Field.FORM, Threat.XSS),
        ("1&#39; OR &#39;1&#39;=&#39;1", Field.FORM, Threat.SQLI),
        ("1%00' OR '1'='1", Field.QUERY, Threat.SQLI),  # a NUL byte hides nothing
    ],
)
def test_decoding_as_a_server_would(value: str, field: Field, threat: Threat) -> None:
    assert threat in {f.threat for f in inspect(value, field)}


def test_plus_is_a_space_in_queries_but_not_in_paths() -> None:
    assert decoded_forms("a+b", Field.QUERY)[-1] == "a b"
    assert decoded_forms("/c++", Field.PATH) == ["/c++"]


def test_rules_apply_to_their_fields_only() -> None:
    assert inspect("/.env", Field.PATH)
    assert not inspect("see my .env file", Field.FORM)


def test_rules_can_be_disabled() -> None:
    inspector = Inspector(["probe.wordpress"])
    assert inspector.inspect("/wp-login.php", Field.PATH) == []
    with pytest.raises(ValueError, match="unknown rule ids: nope"):
        Inspector(["nope"])


@given(st.text(max_size=200), st.sampled_from(list(Field)))
def test_inspect_never_fails_and_finds_each_threat_once(value: str, field: Field) -> None:
    threats = [f.threat for f in inspect(value, field)]
    assert len(threats) == len(set(threats))
