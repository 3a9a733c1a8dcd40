"""Who may see the UI: a user logged in through the security package's session
(``/api/v1/session``); anyone else is redirected to the login page, which brings
them back to the page they asked for."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from fastapi import Request

from leadwatch.security.sessions import CurrentUser, require_user, session_user, verify_csrf
from leadwatch.web.errors import ApiError

LOGIN_PATH = "/ui/login"
HOME = "/ui/"
# The hidden field of a plain HTML form post carrying the session's CSRF token.
CSRF_FIELD = "csrf_token"


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


async def _or_login(check: Callable[[Request], Awaitable[CurrentUser]], request: Request) -> CurrentUser:
    """``check``'s user; its 401 becomes the redirect to the login page."""
    try:
        return await check(request)
    except ApiError as exc:
        if exc.status == 401:
            raise LoginRequired from None
        raise


async def ui_user(request: Request) -> CurrentUser:
    return await _or_login(require_user, request)


async def ui_form_user(request: Request) -> CurrentUser:
    """The user of a plain HTML form post: one answered in place with a page or a
    download (which an htmx post with the CSRF header cannot save as a file). Its CSRF
    token is the form's hidden ``csrf_token`` field; 403 (ApiError) without it."""
    user = await _or_login(session_user, request)
    token = (await request.form()).get(CSRF_FIELD)
    verify_csrf(request.app.state.runtime.secret_key, user, token if isinstance(token, str) else None)
    return user
