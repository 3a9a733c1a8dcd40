"""The synthetic-lead marker: a token in the ``X-Leadwatch-Synthetic`` header of every
request a journey makes, signed with the installation's key (``runtime.secret_key``).

A lead submitted with a valid marker is stored as synthetic (left out of every
business number) with the marker's id, and deleted once the run that made it has
been recorded. Remote probes have no key: the server hands them a marker when they
fetch their journeys. Format: ``<id>.<expires unix seconds>.<HMAC-SHA256 hex>``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

MARKER_ID = re.compile(r"^[A-Za-z0-9_:-]{1,64}$")
DEFAULT_TTL = 3600.0


def _mac(key: bytes, payload: str) -> str:
    return hmac.new(key, b"leadwatch-synthetic:" + payload.encode(), hashlib.sha256).hexdigest()


def sign_marker(key: bytes, marker_id: str, ttl: float = DEFAULT_TTL,
                now: float | None = None) -> str:
    if not MARKER_ID.match(marker_id):
        raise ValueError("a marker id is 1 to 64 of A-Za-z0-9_:-")
    payload = f"{marker_id}.{int((now if now is not None else time.time()) + ttl)}"
    return f"{payload}.{_mac(key, payload)}"


def verify_marker(key: bytes, token: str | None, now: float | None = None) -> str | None:
    """The marker's id when ``token`` is genuine and unexpired, else None."""
    if not token or not key or len(token) > 200:
        return None
    parts = token.split(".")
    if len(parts) != 3 or not MARKER_ID.match(parts[0]) or not parts[1].isdigit():
        return None
    payload = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_mac(key, payload), parts[2]):
        return None
    if int(parts[1]) < (now if now is not None else time.time()):
        return None
    return parts[0]
