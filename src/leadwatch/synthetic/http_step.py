"""HTTP steps: one request, its assertions, and the values it captures for later steps."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx

from leadwatch.synthetic.context import RunContext, StepFailed
from leadwatch.synthetic.journey import Capture, HttpExpect, HttpStep
from leadwatch.synthetic.meta import meta_problems, parse_meta

_MISSING = object()


def run_http(step: HttpStep, ctx: RunContext) -> dict[str, Any]:
    url = ctx.text(step.url)
    kwargs: dict[str, Any] = {"headers": {k: ctx.text(v) for k, v in step.headers.items()}}
    if step.form is not None:
        kwargs["data"] = {k: ctx.text(v) for k, v in step.form.items()}
    elif step.json_body is not None:
        kwargs["json"] = _substituted(step.json_body, ctx)
    elif step.body is not None:
        kwargs["content"] = ctx.text(step.body)
    details: dict[str, Any] = {"method": step.method, "url": url}
    started = time.perf_counter()
    try:
        if step.verify_tls:
            response = ctx.http.request(step.method, url, follow_redirects=step.follow_redirects,
                                        timeout=ctx.remaining(), **kwargs)
        else:
            response = _unverified(step, url, ctx, kwargs)
    except httpx.TimeoutException:
        raise StepFailed(f"no answer within the journey's timeout from {url}", details) from None
    except httpx.HTTPError as exc:
        raise StepFailed(f"request to {url} failed: {type(exc).__name__}: {exc}", details) from None
    details["seconds"] = round(time.perf_counter() - started, 4)
    details["status"] = response.status_code
    problems = check_response(response, step.expect, details["seconds"])
    if problems:
        raise StepFailed("; ".join(problems), details)
    for name, capture in step.capture.items():
        ctx.variables[name] = capture_value(name, capture, response)
    if step.capture:
        details["captured"] = sorted(step.capture)
    return details


def _unverified(step: HttpStep, url: str, ctx: RunContext, kwargs: dict[str, Any]) -> httpx.Response:
    # verify_tls: false needs its own client (verification is a client setting); the
    # run's cookies go with it so a journey can still log in and carry on.
    with httpx.Client(verify=False, headers=ctx.http.headers, cookies=ctx.http.cookies) as client:
        response = client.request(step.method, url, follow_redirects=step.follow_redirects,
                                  timeout=ctx.remaining(), **kwargs)
        ctx.http.cookies.update(client.cookies)
        return response


def _substituted(value: Any, ctx: RunContext) -> Any:
    if isinstance(value, str):
        return ctx.text(value)
    if isinstance(value, list):
        return [_substituted(v, ctx) for v in value]
    if isinstance(value, dict):
        return {k: _substituted(v, ctx) for k, v in value.items()}
    return value


def check_response(response: httpx.Response, expect: HttpExpect, seconds: float) -> list[str]:
    """Every assertion that fails, one phrase each."""
    problems = []
    status = response.status_code
    if expect.status is None:
        if status >= 400:
            problems.append(f"status {status}")
    elif status not in (expect.status if isinstance(expect.status, list) else [expect.status]):
        problems.append(f"status {status}, expected {expect.status}")
    if expect.max_seconds is not None and seconds > expect.max_seconds:
        problems.append(f"took {seconds:.3f} s, more than {expect.max_seconds:g} s")
    body = response.text
    problems += [f"body lacks {t!r}" for t in expect.body_contains if t not in body]
    problems += [f"body contains {t!r}" for t in expect.body_not_contains if t in body]
    if expect.body_matches is not None and not re.search(expect.body_matches, body):
        problems.append(f"body does not match {expect.body_matches!r}")
    for name, wanted in expect.headers.items():
        value = response.headers.get(name)
        if value is None or wanted.lower() not in value.lower():
            problems.append(f"header {name} is {value!r}, expected to contain {wanted!r}")
    if expect.json_paths:
        document = _json(response)
        for path, wanted in expect.json_paths.items():
            value = json_path(document, path)
            if value is _MISSING:
                problems.append(f"JSON has no {path}")
            elif value != wanted:
                problems.append(f"JSON {path} is {value!r}, expected {wanted!r}")
    if expect.meta is not None:
        problems += meta_problems(parse_meta(body), expect.meta)
    return problems


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return _MISSING


def json_path(document: Any, path: str) -> Any:
    """``items.0.id`` in a parsed JSON document, or ``_MISSING``."""
    value = document
    for part in path.split(".") if path else []:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def capture_value(name: str, capture: Capture, response: httpx.Response) -> str:
    if capture.regex is not None:
        match = re.search(capture.regex, response.text)
        value: Any = match.group(1) if match else _MISSING
    elif capture.json_path is not None:
        value = json_path(_json(response), capture.json_path)
    else:
        value = response.headers.get(capture.header or "", _MISSING)
    if value is _MISSING or value is None:
        raise StepFailed(f"capture {name}: nothing found")
    return value if isinstance(value, str) else str(value)
