"""Our own detection rules (rules.yaml): every rule finds its examples and ignores its
counter-examples, through the encodings a server would decode."""

from __future__ import annotations

import re

import libinjection
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadwatch.security.detect import (
    Confirmation,
    Field,
    Inspector,
    Rule,
    SqliResult,
    Threat,
    after_string,
    decoded_forms,
    inspect,
    load_confirmations,
    load_rules,
    mask_literals,
    parsed,
)

RULES = load_rules()
CONFIRMATIONS = load_confirmations()


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


# -- confirmations: a libinjection hit in free text (form) counts only if one holds ------


def libinjection_hits(threat: Threat, value: str, field: Field) -> list[tuple[str, SqliResult | None]]:
    """(decoded form, libinjection's SQLi answer or None for XSS) for every decoded form
    libinjection flags."""
    hits: list[tuple[str, SqliResult | None]] = []
    for form in decoded_forms(value, field):
        if threat is Threat.SQLI:
            result = libinjection.is_sql_injection(form)
            if result["is_sqli"]:
                hits.append((form, result))
        elif libinjection.is_xss(form)["is_xss"]:
            hits.append((form, None))
    return hits


@pytest.mark.parametrize("confirmation", CONFIRMATIONS, ids=[c.id for c in CONFIRMATIONS])
def test_confirmation(confirmation: Confirmation) -> None:
    c = confirmation
    assert c.matches and c.ignores, "every confirmation needs examples both ways"
    for field in c.fields:
        for value in c.matches:  # an attack this confirmation keeps reported
            assert any(c.holds(form, sqli) for form, sqli in libinjection_hits(c.threat, value, field)), value
            assert c.threat in {f.threat for f in inspect(value, field)}, (field, value)
            assert c.threat in {f.threat for f in inspect(value, Field.QUERY)}, value
        for value in c.ignores:  # libinjection flags it; this confirmation does not hold
            hits = libinjection_hits(c.threat, value, field)
            assert hits, f"libinjection does not flag {value!r}: not an example of an exception"
            assert not any(c.holds(form, sqli) for form, sqli in hits), value


@pytest.mark.parametrize(
    ("value", "threat"),
    [
        ("3 < 5 and 7 > 4", Threat.SQLI),  # 1&1: comparison prose
        ("I tried 'select * from leads' in Metabase and got nothing.", Threat.SQLI),  # sEokn
        ("if (a < b && b > c) { return true; } -- is that the bug?", Threat.SQLI),  # f(n&n: code
        ("80% acrylic and 20% wool", Threat.SQLI),
        ("Can you add a <meta name=\"description\"> tag to every page?", Threat.XSS),
        ("Can you add <link rel=\"canonical\" href=\"https://example.com/\"> to the blog?", Threat.XSS),
        ("<span style=\"font-weight:bold\">x</span>", Threat.XSS),
        # A quote break followed by words only: prose, not a changed query.
        ("What's the difference between \"AND\" and \"OR\" in your filters?", Threat.SQLI),
        ("Do the \"AND\"/\"OR\" toggles in the segment builder apply to all rules?", Threat.SQLI),
        # A frame shows another origin's page, in that origin: content, not script.
        ("<iframe src=\"https://www.youtube.com/embed/abc123\"></iframe>", Threat.XSS),
    ],
)
def test_prose_libinjection_flags_is_not_an_attack_in_a_form_but_is_in_a_query(value: str, threat: Threat) -> None:
    assert libinjection_hits(threat, value, Field.FORM), "libinjection alone flags it"
    assert threat not in {f.threat for f in inspect(value, Field.FORM)}
    for strict in (Field.QUERY, Field.PATH, Field.HEADER):
        assert threat in {f.threat for f in inspect(value, strict)}, strict


@pytest.mark.parametrize(
    ("value", "threat"),
    [
        ("1' OR '1'='1", Threat.SQLI),
        ("x' UNION SELECT password FROM users--", Threat.SQLI),
        ("admin'--", Threat.SQLI),
        ("1'; DROP TABLE users; --", Threat.SQLI),
        ("1 and sleep(5)", Threat.SQLI),
        ("1%27%20OR%20%271%27%3D%271", Threat.SQLI),  # confirmed on the decoded form
        ("<script>alert(1)</script>", Threat.XSS),
        ("<img src=x onerror=alert(1)>", Threat.XSS),
        ("&lt;svg onload=alert(1)&gt;", Threat.XSS),
        ("<a href=\"javascript:alert(1)\">x</a>", Threat.XSS),
        ("<iframe src=\"javascript:alert(1)\"></iframe>", Threat.XSS),
        ("<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>", Threat.XSS),
        ("x' or 2>1 #", Threat.SQLI),
        ("x'#1 2\n or 1=1", Threat.SQLI),  # a comment hides no syntax error: MySQL runs `or 1=1`
        # A pasted script element stays reported, whatever its author meant: rendered,
        # it runs (docs/security.md, "what counts as script").
        ("The developer wrote <script src=\"/js/app.js\"></script> in the footer", Threat.XSS),
    ],
)
def test_confirmed_attacks_are_reported_in_a_form(value: str, threat: Threat) -> None:
    assert threat in {f.threat for f in inspect(value, Field.FORM)}


def test_form_evidence_names_the_confirmation() -> None:
    [finding] = inspect("x' UNION SELECT password FROM users--", Field.FORM)
    assert finding.rule == "libinjection.sqli" and finding.evidence.endswith("(form.sqli.union)")
    [strict] = inspect("x' UNION SELECT password FROM users--", Field.QUERY)
    assert "(" not in strict.evidence  # strict fields: the fingerprint, as before


@pytest.mark.parametrize(("value", "after"), [
    ("1' OR '1'='1", " OR '1'='1"),
    ("'abc' or 1=1 --", " or 1=1 --"),
    ("Zoë Ó Súilleabháin' or 'é'='é", " or 'é'='é"),  # libinjection counts UTF-8 bytes
    # libinjection caps a token's length at 31 bytes: the string still ends at its quote
    ("A quoted string longer than thirty-one bytes' or 1=1", " or 1=1"),
    ('/search/handmade?search_submit=&q="MOD"&view_type=gallery', 'MOD"&view_type=gallery'),
])
def test_the_continuation_is_the_text_after_the_closing_quote(value: str, after: str) -> None:
    result = libinjection.is_sql_injection(value)
    assert result["fingerprint"].startswith("s") and after_string(value, result) == after


@pytest.mark.parametrize(("sql", "masked"), [
    (" OR '1'='1", " OR '1'='1'"),  # a number, closed by the query's own quote
    ('MOD"&view_type=gallery&page=14', 'MOD"x"'),  # SQL inside a literal is text
    (" like '%admin", " like '%'"),  # a LIKE wildcard
    ("+''", "+''"),  # empty
    ("+'it''s' or 'a'", "+'x' or 'x'"),  # a doubled quote stays inside
])
def test_literals_are_masked_by_kind(sql: str, masked: str) -> None:
    assert mask_literals(sql) == masked


def test_a_backslash_escapes_a_quote_only_in_mysqls_reading() -> None:
    sql = "or 'a\\' union select 1 -- '"
    assert mask_literals(sql) == "or 'x' union select 1 -- ''"  # standard SQL: closed
    assert mask_literals(sql, backslash_escapes=True) == "or 'x'"  # MySQL: one literal


@given(st.text(alphabet=st.sampled_from("ab1% '\"`\\=-"), max_size=40))
def test_masking_changes_only_literals(sql: str) -> None:
    masked = mask_literals(sql)
    if not any(q in sql for q in "'\"`"):
        assert masked == sql  # no literal: the code is untouched
    assert mask_literals(masked) == masked  # a masked literal is its own kind
    assert re.fullmatch(r"""(?:[^'"`]|(['"`])[1%x]?\1)*""", masked)  # every literal is just a kind


@pytest.mark.parametrize(("after", "kept"), [
    (" OR '1'='1'", " OR '1'='1'"),  # parses to the end
    (" or 1.5=1.5 --", " or 1.5=1.5 --"),  # a decimal is one number
    ("!='x'", "!='x'"),  # "!=" takes a left operand
    ("/'x'24/7'x'", "/'x'"),  # The "/" in "24/7": a number after a string
    ("!'x'#'x'", ""),  # one of "!", "#": "!" after the string takes no left operand
    ("1 or 1=1", ""),  # x'1: a number right after the string
    (") 2 or 1=1", ") "),  # a number after a closing paren
    (" waitfor delay '1'", " waitfor delay '1'"),  # T-SQL needs no ";" before a statement
    ("#1 2\n or 1=1", "#1 2\n or 1=1"),  # text in a comment is no syntax error
    (" 1abc or 1=1", " 1abc or 1=1"),  # MySQL: a column alias may start with a digit
    (" or `t`.1abc=1", " or `t`.1abc=1"),  # ... and so may a column
    ("!~'x' or 1=1", "!~'x' or 1=1"),  # PostgreSQL's "does not match"
    ("/*1 2*/ or 1=1 2", "/*1 2*/ or 1=1 "),
])
def test_the_continuation_is_judged_as_far_as_the_query_parses(after: str, kept: str) -> None:
    assert parsed(after) == kept


@given(st.text(alphabet=st.sampled_from("ab1.!=<> ()'\"`"), max_size=30))
def test_the_parsed_part_is_a_prefix_that_parses_alone(after: str) -> None:
    kept = parsed(after)
    assert after.startswith(kept) and parsed(kept) == kept
