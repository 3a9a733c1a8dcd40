"""Content inspection: is this input an attack, and which kind?

Inputs are decoded the way a server would before it uses them (URL decoding,
repeated for double encoding, IIS's ``%uXXXX``, HTML entities), and every decoded
form is checked, so ``%2527`` and ``&#39;`` hide nothing. SQL injection and XSS are
libinjection's verdicts (its tokenizer and fingerprints, not our regexes); path
traversal, probes and scanner user agents are our rules, kept as data in
``rules.yaml`` and matched without regard to case.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from urllib.parse import unquote, unquote_plus

import libinjection
import yaml

MAX_DECODE_ROUNDS = 3
MAX_INSPECTED_CHARS = 8192  # libinjection is linear, but bound the work per value


class Threat(StrEnum):
    # Found in one input (by inspect):
    SQLI = "sqli"
    XSS = "xss"
    PATH_TRAVERSAL = "path_traversal"
    PROBE = "probe"  # a request for a sensitive file or an admin page of other software
    SCANNER = "scanner"  # a vulnerability scanner's user agent
    # Found in the rate of requests from one client (by security.rates):
    BRUTE_FORCE = "brute_force"
    CREDENTIAL_STUFFING = "credential_stuffing"
    FLOOD = "flood"
    PROBING = "probing"  # many probes or not-found answers: someone mapping the site
    FORM_SPAM = "form_spam"


class Field(StrEnum):
    """Where a value came from; rules may apply to some kinds only."""

    QUERY = "query"
    FORM = "form"
    PATH = "path"
    HEADER = "header"


@dataclass(frozen=True)
class Finding:
    threat: Threat
    rule: str  # e.g. "libinjection.sqli", "probe.dotfile"
    evidence: str  # what matched: a libinjection fingerprint or a short excerpt


@dataclass(frozen=True)
class Rule:
    """One of our own rules (rules.yaml)."""

    id: str
    threat: Threat
    fields: frozenset[Field]
    pattern: re.Pattern[str]
    matches: tuple[str, ...] = ()
    ignores: tuple[str, ...] = ()


@cache
def load_rules() -> tuple[Rule, ...]:
    """The rules shipped in ``rules.yaml``, compiled."""
    text = resources.files("leadwatch.security").joinpath("rules.yaml").read_text("utf-8")
    return tuple(
        Rule(
            id=r["id"],
            threat=Threat(r["threat"]),
            fields=frozenset(Field(f) for f in r["fields"]),
            pattern=re.compile(r["pattern"], re.IGNORECASE),
            matches=tuple(r.get("matches", ())),
            ignores=tuple(r.get("ignores", ())),
        )
        for r in yaml.safe_load(text)["rules"]
    )


_IIS_UNICODE = re.compile(r"%u([0-9a-fA-F]{4})")


def _decode_once(value: str, field: Field) -> str:
    value = _IIS_UNICODE.sub(lambda m: chr(int(m.group(1), 16)), value)
    # A server turns "+" into a space in a query string or form body, not in a path.
    value = unquote(value) if field in (Field.PATH, Field.HEADER) else unquote_plus(value)
    return html.unescape(value)


def decoded_forms(value: str, field: Field = Field.FORM) -> list[str]:
    """``value`` and each distinct form that decoding produces, in order."""
    forms = [value[:MAX_INSPECTED_CHARS]]
    current = forms[0]
    for _ in range(MAX_DECODE_ROUNDS):
        decoded = _decode_once(current, field).replace("\x00", "")
        if decoded == current:
            break
        forms.append(decoded)
        current = decoded
    return forms


class Inspector:
    """Checks inputs against libinjection and a set of rules (all, or all but some)."""

    def __init__(self, disabled_rules: Iterable[str] = ()):
        disabled = frozenset(disabled_rules)
        unknown = disabled - {r.id for r in load_rules()}
        if unknown:
            raise ValueError(f"unknown rule ids: {', '.join(sorted(unknown))}")
        self.rules = tuple(r for r in load_rules() if r.id not in disabled)
        self._by_field = {f: tuple(r for r in self.rules if f in r.fields) for f in Field}

    def inspect(self, value: str, field: Field = Field.FORM) -> list[Finding]:
        """The threats found in ``value`` (one finding per threat at most)."""
        if not value:
            return []
        findings: dict[Threat, Finding] = {}
        rules = self._by_field[field]
        for form in decoded_forms(value, field):
            if Threat.SQLI not in findings:
                result = libinjection.is_sql_injection(form)
                if result["is_sqli"]:
                    findings[Threat.SQLI] = Finding(
                        Threat.SQLI, "libinjection.sqli", result["fingerprint"]
                    )
            if Threat.XSS not in findings and libinjection.is_xss(form)["is_xss"]:
                findings[Threat.XSS] = Finding(Threat.XSS, "libinjection.xss", form[:80])
            for rule in rules:
                if rule.threat not in findings:
                    match = rule.pattern.search(form)
                    if match:
                        findings[rule.threat] = Finding(rule.threat, rule.id, _excerpt(form, match))
        return list(findings.values())


def _excerpt(form: str, match: re.Match[str], context: int = 20) -> str:
    start = max(0, match.start() - context)
    return form[start : match.end() + context][:80]


_default = Inspector()


def inspect(value: str, field: Field = Field.FORM) -> list[Finding]:
    """The threats found in ``value`` by every rule (one finding per threat at most)."""
    return _default.inspect(value, field)
