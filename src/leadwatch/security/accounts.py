"""What an administrator does to a UI account after creating it (``leadwatch user``):
list the accounts, reset a password, disable or enable an account, delete it.

A reset, a disable or a delete ends the account's sessions at once: a cookie stolen
before the reset must not outlive it. A reset also lifts a login lockout, so the
person can log in with the new password straight away.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from leadwatch.auth import AuthError, hash_password
from leadwatch.security.models import LoginThrottle, UserSession
from leadwatch.security.sessions import throttle_key
from leadwatch.store.models import User


def accounts(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))


def find(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise AuthError(f"no user {username.strip()!r}")
    return user


def end_sessions(session: Session, user: User) -> int:
    """Log the account out everywhere; the number of sessions ended."""
    return session.execute(delete(UserSession).where(UserSession.user_id == user.id)).rowcount or 0


def _forget_failures(session: Session, user: User) -> None:
    """Drop the account's failed-login count and lockout."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.username == throttle_key(user.username)))


def reset_password(session: Session, username: str, password: str) -> int:
    """Set a new password; the number of sessions ended."""
    user = find(session, username)
    user.password_hash = hash_password(password)
    _forget_failures(session, user)
    return end_sessions(session, user)


def set_disabled(session: Session, username: str, disabled: bool) -> int:
    """Disable (no login, no session) or enable an account; the sessions ended."""
    user = find(session, username)
    user.disabled = disabled
    return end_sessions(session, user) if disabled else 0


def delete_account(session: Session, username: str) -> int:
    """Delete the account, its sessions and its failed logins (its API tokens stay, no
    longer naming it); the sessions ended."""
    user = find(session, username)
    ended = end_sessions(session, user)
    _forget_failures(session, user)
    session.delete(user)
    return ended
