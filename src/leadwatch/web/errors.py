"""The one error shape: ``{"error": {"code", "message", "fields"}}``.

Every client mistake is a 4xx in this shape, naming the fields at fault; a 5xx
means a bug (or a store that is down: 503) and is logged with its traceback (a 500
is answered by web.middleware, which knows the request id).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: dict[str, str] = {}


class ErrorEnvelope(BaseModel):
    error: ErrorDetail


# For route declarations, so /openapi.json documents the real error shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": HTTPStatus(status).phrase}
    for status in (401, 403, 413, 422)
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message
        self.fields = fields or {}
        self.headers = headers

    def response(self) -> JSONResponse:
        return error_response(
            self.status, self.message, code=self.code, fields=self.fields, headers=self.headers
        )


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {
        "error": {
            "code": code or CODES.get(status, "error"),
            "message": message,
            "fields": fields or {},
        }
    }
    return JSONResponse(body, status_code=status, headers=headers)


def field_name(loc: tuple[Any, ...]) -> str:
    """``("body", 3, "ts")`` -> ``body[3].ts``; the query/path/header prefix is kept."""
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


def validation_fields(errors: Any) -> dict[str, str]:
    fields: dict[str, str] = {}
    for err in errors:
        key = field_name(tuple(err["loc"]))
        reason = err["msg"].removeprefix("Value error, ")
        fields[key] = f"{fields[key]}; {reason}" if key in fields else reason
    return fields


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return error_response(exc.status_code, message, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = validation_fields(exc.errors())
        return error_response(
            422, "the request has invalid fields: " + ", ".join(fields), fields=fields
        )
