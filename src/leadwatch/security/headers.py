"""Security headers on every response leadwatch sends (pure ASGI, usable anywhere).

Content-Security-Policy without ``unsafe-inline`` (so an injected script cannot run
in leadwatch's pages even if escaping failed once), ``frame-ancestors 'none'``
against click-jacking, ``nosniff``, a referrer policy that keeps paths and queries
on this origin, and HSTS when the request came over HTTPS (directly, or through a
trusted proxy that says so in X-Forwarded-Proto). A header the app set itself wins:
a route that must be framed or embedded (``/lw.js``) can say so.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadwatch.security.clients import Network, is_trusted, networks


class SecurityHeadersMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        content_security_policy: str,
        hsts_seconds: int = 31_536_000,
        trusted_proxies: Sequence[str] = (),
    ):
        self.app = app
        self.trusted = networks(trusted_proxies)
        self.headers = [
            (b"content-security-policy", content_security_policy.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
            (b"x-frame-options", b"DENY"),
        ]
        self.hsts = (
            (b"strict-transport-security", f"max-age={hsts_seconds}; includeSubDomains".encode())
            if hsts_seconds
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(self.headers)
        if self.hsts and is_https(scope, self.trusted):
            extra.append(self.hsts)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(h for h in extra if h[0] not in present),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def is_https(scope: Scope, trusted: tuple[Network, ...]) -> bool:
    """Whether the client used HTTPS (a trusted proxy's X-Forwarded-Proto counts)."""
    if scope.get("scheme") == "https":
        return True
    client = scope.get("client")
    if client and is_trusted(client[0], trusted):
        for name, value in scope["headers"]:
            if name == b"x-forwarded-proto":
                return value.split(b",")[0].strip().lower() == b"https"
    return False
