"""UI login sessions: password check with lockout and backoff, signed session cookies,
CSRF tokens, and the ``require_user`` dependency.

- A login checks the argon2 hash (``leadwatch.auth.verify_password``). An unknown
  user costs the same hash check, so timing does not tell which names exist.
- ``security.login_max_failures`` consecutive failures lock the account for
  ``login_lockout_seconds``, doubling with each further failure up to
  ``login_lockout_max_seconds``; while locked, even the right password gets 429. The
  state is in the RecordStore, so every replica enforces it. (Many failures from one
  address are the brute-force detector's business: it bans the address.)
- The cookie holds a random session id signed with HMAC-SHA256 under
  ``runtime.secret_key``; the session row holds the user and expiry, and logging out
  deletes it. The cookie is HttpOnly, SameSite=Lax and Secure on HTTPS.
- CSRF: every unsafe request authenticated by the cookie must carry the session's
  CSRF token (an HMAC of the session id): in ``X-CSRF-Token`` (scripts), or,
  in a form-encoded body, in the hidden field ``csrf_token``, so that a UI form posted
  before its script has loaded (or without JavaScript) works as well.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from fastapi import Request
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from leadwatch.auth import hash_password, verify_password
from leadwatch.security.models import LoginThrottle, UserSession
from leadwatch.settings import SecuritySettings
from leadwatch.store.models import User, now
from leadwatch.web.errors import ApiError

COOKIE = "lw_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"  # the hidden field of an HTML form
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class CurrentUser:
    id: int
    username: str
    role: str
    session_id: str
    csrf_token: str


class LoginLocked(Exception):
    def __init__(self, retry_after: float):
        super().__init__(f"locked for {retry_after:.0f}s")
        self.retry_after = retry_after


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _mac(key: bytes, purpose: str, value: str) -> str:
    return _b64(hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).digest())


def sign_session(key: bytes, session_id: str) -> str:
    return f"{session_id}.{_mac(key, 'session', session_id)}"


def unsign_session(key: bytes, cookie: str) -> str | None:
    session_id, _, mac = cookie.rpartition(".")
    if not session_id or not hmac.compare_digest(mac, _mac(key, "session", session_id)):
        return None
    return session_id


def csrf_token(key: bytes, session_id: str) -> str:
    return _mac(key, "csrf", session_id)


def verify_csrf(key: bytes, user: CurrentUser, token: str | None) -> None:
    """Raise 403 unless ``token`` is ``user``'s CSRF token."""
    if not token or not hmac.compare_digest(token, csrf_token(key, user.session_id)):
        raise ApiError(403, "the CSRF token is missing or wrong: reload the page and try again", code="csrf_failed",
                       fields={f"header.{CSRF_HEADER}": "must be the session's CSRF token",
                               f"body.{CSRF_FIELD}": "or, in a form, this hidden field"})


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(24))


def throttle_key(username: str) -> str:
    return username.strip().casefold()[:150]


def authenticate(
    session: Session, settings: SecuritySettings, username: str, password: str, at: datetime | None = None,
) -> User | None:
    """The user when the password is right; None when not (a failure is counted).
    Raises LoginLocked while the account is locked."""
    at = at or now()
    key = throttle_key(username)
    throttle = session.get(LoginThrottle, key)
    if throttle and throttle.locked_until and throttle.locked_until > at:
        raise LoginLocked((throttle.locked_until - at).total_seconds())
    user = session.scalar(select(User).where(User.username == username.strip()))
    ok = verify_password(user.password_hash if user else _dummy_hash(), password)
    if ok and user is not None and not user.disabled:
        if throttle:
            session.delete(throttle)
        user.last_login_at = at
        return user
    throttle = throttle or LoginThrottle(username=key, failures=0)
    session.add(throttle)
    throttle.failures += 1
    throttle.last_failure_at = at
    over = throttle.failures - settings.login_max_failures
    if over >= 0:
        lockout = min(settings.login_lockout_max_seconds, settings.login_lockout_seconds * 2**min(over, 32))
        throttle.locked_until = at + timedelta(seconds=lockout)
    return None


def open_session(session: Session, settings: SecuritySettings, user: User, ip: str | None) -> UserSession:
    # Expired sessions are removed as new ones open, so the table stays small.
    session.execute(delete(UserSession).where(UserSession.expires_at <= now()))
    row = UserSession(id=secrets.token_urlsafe(32), user_id=user.id, created_at=now(),
                      expires_at=now() + timedelta(seconds=settings.session_max_age_seconds), ip=ip)
    session.add(row)
    return row


def close_session(session: Session, session_id: str) -> None:
    session.execute(delete(UserSession).where(UserSession.id == session_id))


def current_user(session: Session, key: bytes, cookie: str | None) -> CurrentUser | None:
    session_id = unsign_session(key, cookie) if cookie else None
    if session_id is None:
        return None
    found = session.execute(
        select(UserSession, User).join(User, User.id == UserSession.user_id)
        .where(UserSession.id == session_id, UserSession.expires_at > now(), User.disabled.is_(False))
    ).first()
    if found is None:
        return None
    _, user = found
    return CurrentUser(user.id, user.username, user.role, session_id, csrf_token(key, session_id))


async def session_user(request: Request) -> CurrentUser:
    """The logged-in user (401 without a valid session), CSRF not checked."""
    runtime = request.app.state.runtime
    cookie = request.cookies.get(COOKIE)

    def lookup() -> CurrentUser | None:
        with runtime.records.session() as session:
            return current_user(session, runtime.secret_key, cookie)

    user = await run_in_threadpool(lookup) if cookie else None
    if user is None:
        raise ApiError(401, "log in first: no valid session", fields={f"cookie.{COOKIE}": "missing or expired"})
    return user


async def require_user(request: Request) -> CurrentUser:
    """FastAPI dependency: the logged-in user (401 without a valid session; 403 when an
    unsafe request carries no CSRF token in the header or in its form)."""
    user = await session_user(request)
    if request.method not in SAFE_METHODS:
        token = request.headers.get(CSRF_HEADER)
        if token is None and request.headers.get("content-type", "").startswith(FORM_TYPES):
            field = (await request.form()).get(CSRF_FIELD)  # Starlette keeps the parsed form for the route
            token = field if isinstance(field, str) else None
        verify_csrf(request.app.state.runtime.secret_key, user, token)
    return user
