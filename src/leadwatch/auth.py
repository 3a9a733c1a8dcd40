"""Who may do what: argon2 password hashes for UI users, hashed bearer tokens for scripts.

Scopes: ``ingest`` may send data; ``admin`` may do everything (and ingest).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadwatch.store.models import ApiToken, User, now

SCOPES = ("ingest", "admin")
ROLES = ("admin", "viewer")
TOKEN_PREFIX = "lw_"
MIN_PASSWORD_LENGTH = 12

_hasher = PasswordHasher()


class AuthError(ValueError):
    """A request to create or change credentials that cannot be honoured."""


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_user(session: Session, username: str, password: str, role: str = "admin") -> User:
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}")
    username = username.strip()
    if not 1 <= len(username) <= 150:
        raise AuthError("username must be 1 to 150 characters")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise AuthError(f"user {username!r} exists already")
    user = User(username=username, password_hash=hash_password(password), role=role)
    session.add(user)
    session.flush()
    return user


def token_digest(token: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is enough (no brute force).
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, name: str, scope: str) -> tuple[ApiToken, str]:
    """A new token; the plain text is returned once and never stored."""
    if scope not in SCOPES:
        raise AuthError(f"scope must be one of {', '.join(SCOPES)}")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, prefix=plain[:10], token_hash=token_digest(plain), scope=scope)
    session.add(token)
    session.flush()
    return token, plain


def revoke_token(session: Session, token_id: int, when: datetime | None = None) -> bool:
    token = session.get(ApiToken, token_id)
    if token is None or token.revoked_at is not None:
        return False
    token.revoked_at = when or now()
    return True


def scope_of_token(session: Session, plain: str, admin_token: str | None) -> str | None:
    """The scope a presented bearer token grants, or None when it grants nothing."""
    if admin_token and hmac.compare_digest(plain.encode(), admin_token.encode()):
        return "admin"
    token = session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == token_digest(plain), ApiToken.revoked_at.is_(None)
        )
    )
    return token.scope if token else None


def grants(scope: str, needed: str) -> bool:
    return scope == needed or scope == "admin"
