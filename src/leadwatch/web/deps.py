"""FastAPI dependencies shared by the routes: the runtime and bearer-token auth."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from leadwatch.auth import grants, scope_of_token
from leadwatch.runtime import Runtime
from leadwatch.web.errors import ApiError

_bearer = HTTPBearer(auto_error=False, description="An API token or LEADWATCH_ADMIN_TOKEN")


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_runtime(request: Request) -> Runtime:
    """The dependency form of :func:`runtime_of`. It is async on purpose: FastAPI runs
    a sync dependency in the thread pool, a thread hop on every request for nothing."""
    return runtime_of(request)


def require_scope(needed: str) -> Callable[..., object]:
    """A dependency that admits a bearer token granting ``needed`` (admin grants all)."""

    async def check(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    ) -> str:
        if credentials is None:
            raise ApiError(
                401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )
        runtime = runtime_of(request)
        admin = runtime.settings.auth.admin_token
        admin_token = admin.get_secret_value() if admin else None

        def lookup() -> str | None:
            with runtime.records.session() as session:
                return scope_of_token(session, credentials.credentials, admin_token)

        scope = await run_in_threadpool(lookup)
        if scope is None:
            raise ApiError(
                401, "the bearer token is not valid", headers={"WWW-Authenticate": "Bearer"}
            )
        if not grants(scope, needed):
            raise ApiError(403, f"this token's scope ({scope}) does not allow {needed}")
        return scope

    return check
