"""Content inspection: is this input an attack, and which kind?

Inputs are decoded the way a server would before it uses them (URL decoding,
repeated for double encoding, and HTML entities), and every decoded form is
checked, so ``%2527`` and ``&#39;`` hide nothing. SQL injection and XSS are
libinjection's verdicts (its tokenizer and fingerprints, not our regexes).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote_plus

import libinjection

MAX_DECODE_ROUNDS = 3
MAX_INSPECTED_CHARS = 8192  # libinjection is linear, but bound the work per value


class Threat(StrEnum):
    SQLI = "sqli"
    XSS = "xss"


class Field(StrEnum):
    """Where a value came from; rules may apply to some kinds only."""

    QUERY = "query"
    FORM = "form"
    PATH = "path"
    HEADER = "header"


@dataclass(frozen=True)
class Finding:
    threat: Threat
    rule: str  # e.g. "libinjection.sqli"
    evidence: str  # what matched: a libinjection fingerprint or a short excerpt


def decoded_forms(value: str) -> list[str]:
    """``value`` and each distinct form that decoding produces, in order."""
    forms = [value[:MAX_INSPECTED_CHARS]]
    current = forms[0]
    for _ in range(MAX_DECODE_ROUNDS):
        decoded = html.unescape(unquote_plus(current))
        if decoded == current:
            break
        forms.append(decoded)
        current = decoded
    return forms


def inspect(value: str, field: Field = Field.FORM) -> list[Finding]:
    """The threats found in ``value`` (one finding per threat at most)."""
    if not value:
        return []
    findings: list[Finding] = []
    for form in decoded_forms(value):
        if not any(f.threat is Threat.SQLI for f in findings):
            result = libinjection.is_sql_injection(form)
            if result["is_sqli"]:
                findings.append(Finding(Threat.SQLI, "libinjection.sqli", result["fingerprint"]))
        if not any(f.threat is Threat.XSS for f in findings):
            if libinjection.is_xss(form)["is_xss"]:
                findings.append(Finding(Threat.XSS, "libinjection.xss", form[:80]))
    return findings
