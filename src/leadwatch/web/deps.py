"""FastAPI dependencies shared by the routes: the runtime, bearer-token auth and the
``from``/``to`` time range."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import overload

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from leadwatch.auth import grants, scope_of_token
from leadwatch.runtime import Runtime
from leadwatch.store.schema import utc_naive, utcnow
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


# ---- the from/to time range ----------------------------------------------------------------

# [from, to) as the stores keep time: naive UTC. An open range has None for an end not given.
Range = tuple[datetime, datetime]
OpenRange = tuple[datetime | None, datetime | None]


class RangeError(ValueError):
    """A time range that cannot be read; ``field`` names the query parameter at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field

    def api_error(self) -> ApiError:
        return ApiError(422, f"{self.field}: {self}", fields={f"query.{self.field}": str(self)})


def utc_value(value: datetime, field: str) -> datetime:
    """``value`` in storage form (a naive value is taken as UTC). An offset can push a
    date at the calendar's edge past year 1 or 9999, which ``datetime`` cannot hold."""
    try:
        return utc_naive(value)
    except OverflowError:
        raise RangeError(field, "out of range once moved to UTC") from None


def check_range(start: datetime, end: datetime, longest: timedelta | None = None) -> None:
    """[start, end) is a range, and at most ``longest`` long (where a route caps it)."""
    if start >= end:
        raise RangeError("from", "must be before to")
    if longest is not None and end - start > longest:
        raise RangeError("from", f"must be at most {_span(longest)} before to")


def utc_range(
    start: datetime | None,
    end: datetime | None,
    *,
    span: timedelta,
    now: datetime | None = None,
) -> Range:
    """[from, to), where a missing ``to`` is ``now`` and a missing ``from`` is ``span``
    before ``to``."""
    end_ts = utc_value(end, "to") if end is not None else (now or utcnow())
    if start is not None:
        start_ts = utc_value(start, "from")
    else:
        try:
            start_ts = end_ts - span
        except OverflowError:  # to=0001-01-01: the default from would be before year 1
            raise RangeError("to", f"too early: the default from is {_span(span)} before it") from None
    check_range(start_ts, end_ts)
    return start_ts, end_ts


def open_range(start: datetime | None, end: datetime | None) -> OpenRange:
    """[from, to), either end open when not given."""
    start_ts = utc_value(start, "from") if start is not None else None
    end_ts = utc_value(end, "to") if end is not None else None
    if start_ts is not None and end_ts is not None:
        check_range(start_ts, end_ts)
    return start_ts, end_ts


@overload
def time_range(
    *,
    span: timedelta,
    ahead: timedelta = ...,
    from_doc: str | None = ...,
    to_doc: str | None = ...,
) -> Callable[..., Awaitable[Range]]: ...


@overload
def time_range(
    *,
    span: None = None,
    ahead: timedelta = ...,
    from_doc: str | None = ...,
    to_doc: str | None = ...,
) -> Callable[..., Awaitable[OpenRange]]: ...


def time_range(
    *,
    span: timedelta | None = None,
    ahead: timedelta = timedelta(0),
    from_doc: str | None = None,
    to_doc: str | None = None,
) -> Callable[..., Awaitable[Range | OpenRange]]:
    """The dependency reading a route's ``from``/``to`` query parameters (ISO 8601; UTC
    when without an offset) as naive UTC. With ``span``, a missing ``to`` is now (plus
    ``ahead``) and a missing ``from`` is ``span`` before ``to``; without, a missing end
    stays open (None). ``from_doc``/``to_doc`` describe the parameters in /openapi.json.
    A value that cannot be read, or a from not before to, is 422 naming the field."""

    # The Query defaults (not Annotated) are evaluated here, so each route keeps its
    # own descriptions; the annotations resolve in this module's globals.
    async def read(
        start: datetime | None = Query(None, alias="from", description=from_doc),
        end: datetime | None = Query(None, alias="to", description=to_doc),
    ) -> Range | OpenRange:
        try:
            if span is None:
                return open_range(start, end)
            return utc_range(start, end, span=span, now=utcnow() + ahead)
        except RangeError as exc:
            raise exc.api_error() from None

    return read


def _span(span: timedelta) -> str:
    days = span / timedelta(days=1)
    return f"{days:g} day" if days == 1 else f"{days:g} days"
