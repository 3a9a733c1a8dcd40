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
from typing import Any
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


SqliResult = dict[str, Any]  # libinjection.is_sql_injection's answer


@dataclass(frozen=True)
class Confirmation:
    """A condition a libinjection hit must also meet in some fields (rules.yaml,
    ``confirmations``): ``fingerprint`` is searched in libinjection's SQLi fingerprint
    (case matters) and, when given and the fingerprint starts with a string,
    ``continuation`` in the SQL after the quote that closes that string, as far as a
    database would parse it (case ignored; see ``parsed``); ``pattern`` is searched
    in the decoded text (case ignored)."""

    id: str
    threat: Threat
    fields: frozenset[Field]
    fingerprint: re.Pattern[str] | None = None
    continuation: re.Pattern[str] | None = None
    pattern: re.Pattern[str] | None = None
    matches: tuple[str, ...] = ()
    ignores: tuple[str, ...] = ()

    def holds(self, form: str, sqli: SqliResult | None = None) -> bool:
        """Whether it holds for ``form``, which libinjection flagged (``sqli``: its
        SQLi answer; None for an XSS hit)."""
        if self.pattern is not None:
            return self.pattern.search(form) is not None
        if sqli is None or self.fingerprint is None or not self.fingerprint.search(sqli["fingerprint"]):
            return False
        if self.continuation is None or not sqli["fingerprint"].startswith("s"):
            return True  # no string was broken: the fingerprint alone decides
        after = after_string(form, sqli)
        # Databases disagree on whether a backslash escapes a quote: either reading may
        # show the SQL the other hides, so the continuation counts if either shows it.
        return any(self.continuation.search(parsed(mask_literals(after, backslashes)))
                   for backslashes in (False, True))


def after_string(form: str, sqli: SqliResult) -> str:
    """The text after libinjection's first token, a string (and its closing quote):
    what an injection would add to the query. libinjection counts in UTF-8 bytes, and
    caps a token's ``len`` at 31 bytes: a longer string ends at the last closing quote
    before the next token, not at ``pos + len``."""
    data = form.encode()
    first, *rest = sqli["token_vector"]
    if not first["str_close"]:
        return ""  # the string runs to the end: nothing was added
    start = first["pos"] + (1 if first["str_open"] else 0)
    following = [t["pos"] for t in rest if t["type"] and t["pos"] > first["pos"]]
    end = data.rfind(first["str_close"].to_bytes(1, "big"), start, min(following, default=len(data)))
    if end < 0:
        end = start + first["len"]
    return data[end + 1:].decode("utf-8", "replace")


# A string literal: a quote, then doubled quotes or anything but that quote (and, in
# MySQL's reading, backslash escapes), up to the closing quote or the end (where the
# query's own quote closes it). In standard SQL (PostgreSQL, SQLite) a backslash escapes
# nothing: `'a\'` is closed there, and what follows it is SQL.
_LITERAL = {
    False: re.compile(r"""(['"`])((?:\1\1|(?!\1).)*)(?:\1|\Z)""", re.DOTALL),
    True: re.compile(r"""(['"`])((?:\\.|\1\1|(?!\1).)*)(?:\1|\Z)""", re.DOTALL),
}
_NUMERIC = re.compile(r"\s*[-+]?\.?\d")


def _literal_kind(match: re.Match[str]) -> str:
    quote, body = match.group(1), match.group(2)
    kind = "" if not body else "1" if _NUMERIC.match(body) else "%" if "%" in body else "x"
    return quote + kind + quote


def mask_literals(sql: str, backslash_escapes: bool = False) -> str:
    """``sql`` with each string literal's text replaced by its kind: ``1`` (it starts
    with a number), ``%`` (it holds a LIKE wildcard), ``x`` (other text) or nothing
    (empty). Operators and keywords inside a literal change nothing in a query, so
    the continuation is judged on the code around the literals. ``backslash_escapes``:
    read literals as MySQL does (``\'`` does not close one)."""
    return _LITERAL[backslash_escapes].sub(_literal_kind, sql)


# Where every dialect stops parsing: after an operand (a literal, a number, a closing
# paren), another number, or a "!" that is not "!=", "!<", "!>" or PostgreSQL's "!~"
# ("!" is prefix-only). A word is not here, even one that starts with a digit: T-SQL
# needs no ";" before a statement, and MySQL takes `'x' 1abc` as a column alias.
# Comments are skipped, not searched: text in one is no syntax error (`x'#1 2` then a
# new line and `or 1=1` is MySQL's `x' or 1=1`).
_SYNTAX_ERROR = re.compile(r"""
    (?:--|\#)[^\n]* | /\*.*?(?:\*/|\Z)                              # a comment
  | (?P<stop>(?:(['"`])[1%x]?\2|(?<![\w.])\d+(?:\.\d+)?(?![\w.])|\))\s*)(?=\d+(?:\.\d+)?(?![\w.])|!(?![=<>~]))
""", re.VERBOSE | re.DOTALL)


def parsed(after: str) -> str:
    """The start of ``after`` (masked SQL that follows a closed string) up to its
    first syntax error: an injection changes the query only as far as the query
    parses, so SQL after that point (prose whose quotes flipped, as in ``The "/" in
    "24/7"``, which reads ``'…' / ' in ' 24/7``) changes nothing."""
    code = "''" + after  # the closed string is itself an operand
    stop = next((m.end("stop") for m in _SYNTAX_ERROR.finditer(code) if m.group("stop") is not None), None)
    return after if stop is None else after[: max(0, stop - 2)]


@cache
def _rules_yaml() -> dict[str, Any]:
    text = resources.files("leadwatch.security").joinpath("rules.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


@cache
def load_confirmations() -> tuple[Confirmation, ...]:
    """The confirmations shipped in ``rules.yaml``, compiled."""
    out = []
    for c in _rules_yaml().get("confirmations", []):
        threat = Threat(c["threat"])
        if (threat not in (Threat.SQLI, Threat.XSS) or ("fingerprint" in c) == ("pattern" in c)
                or ("continuation" in c and "fingerprint" not in c)):
            raise ValueError(f"confirmation {c['id']}: sqli or xss, and one of fingerprint "
                             "(with an optional continuation) or pattern")
        out.append(Confirmation(
            id=c["id"], threat=threat, fields=frozenset(Field(f) for f in c["fields"]),
            fingerprint=re.compile(c["fingerprint"]) if "fingerprint" in c else None,
            continuation=re.compile(c["continuation"], re.IGNORECASE) if "continuation" in c else None,
            pattern=re.compile(c["pattern"], re.IGNORECASE) if "pattern" in c else None,
            matches=tuple(c.get("matches", ())),
            ignores=tuple(c.get("ignores", ())),
        ))
    return tuple(out)


@cache
def load_rules() -> tuple[Rule, ...]:
    """The rules shipped in ``rules.yaml``, compiled."""
    return tuple(
        Rule(
            id=r["id"],
            threat=Threat(r["threat"]),
            fields=frozenset(Field(f) for f in r["fields"]),
            pattern=re.compile(r["pattern"], re.IGNORECASE),
            matches=tuple(r.get("matches", ())),
            ignores=tuple(r.get("ignores", ())),
        )
        for r in _rules_yaml()["rules"]
    )


_IIS_UNICODE = re.compile(r"%u([0-9a-fA-F]{4})")
_ENCODED = re.compile(r"[%+&\x00]")  # what _decode_once could change


def _decode_once(value: str, field: Field) -> str:
    value = _IIS_UNICODE.sub(lambda m: chr(int(m.group(1), 16)), value)
    # A server turns "+" into a space in a query string or form body, not in a path.
    value = unquote(value) if field in (Field.PATH, Field.HEADER) else unquote_plus(value)
    return html.unescape(value)


def decoded_forms(value: str, field: Field = Field.FORM) -> list[str]:
    """``value`` and each distinct form that decoding produces, in order."""
    forms = [value[:MAX_INSPECTED_CHARS]]
    current = forms[0]
    if _ENCODED.search(current) is None:  # most values: nothing to decode
        return forms
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
        # Per field and threat: the confirmations a libinjection hit needs (none: strict).
        self._confirm = {
            (f, t): tuple(c for c in load_confirmations() if c.threat is t and f in c.fields)
            for f in Field for t in (Threat.SQLI, Threat.XSS)
        }

    def _confirmed(self, field: Field, threat: Threat, form: str, sqli: SqliResult | None = None) -> str | None:
        """Why a libinjection hit counts in ``field``: "" when the field is strict, the id
        of the first confirmation that holds, or None (not an attack here)."""
        confirmations = self._confirm[field, threat]
        if not confirmations:
            return ""
        return next((c.id for c in confirmations if c.holds(form, sqli)), None)

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
                    fingerprint = result["fingerprint"]
                    why = self._confirmed(field, Threat.SQLI, form, result)
                    if why is not None:
                        evidence = f"{fingerprint} ({why})" if why else fingerprint
                        findings[Threat.SQLI] = Finding(Threat.SQLI, "libinjection.sqli", evidence)
            if (Threat.XSS not in findings and libinjection.is_xss(form)["is_xss"]
                    and self._confirmed(field, Threat.XSS, form) is not None):
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
