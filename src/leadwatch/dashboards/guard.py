"""Who may see the UI: a user logged in through the security package's session
(``/api/v1/session``); anyone else is redirected to the login page, which brings
them back to the page they asked for."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from fastapi import Request

from leadwatch.security.sessions import CurrentUser, require_user
from leadwatch.web.errors import ApiError

LOGIN_PATH = "/ui/login"
HOME = "/ui/"


class LoginRequired(Exception):
    """No valid session: the UI route answers with a redirect to the login page."""


def login_url(request: Request) -> str:
    """The login page, returning to the page asked for (for an htmx request, the page
    that made it, not the fragment)."""
    url = urlsplit(request.headers.get("hx-current-url") or str(request.url))
    wanted = url.path + (f"?{url.query}" if url.query else "")
    return f"{LOGIN_PATH}?next={quote(safe_next(wanted), safe='')}"


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a UI page of this site, never another origin."""
    if target and target.startswith("/ui/") and not target.startswith(LOGIN_PATH) and "\\" not in target:
        return target
    return HOME


async def ui_user(request: Request) -> CurrentUser:
    """The logged-in user (with the CSRF token checked on a post); without a session,
    the redirect to the login page."""
    try:
        return await require_user(request)
    except ApiError as exc:
        if exc.status == 401:
            raise LoginRequired from None
        raise
