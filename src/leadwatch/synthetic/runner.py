"""Running one journey once: its steps in order until one fails or the timeout passes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import structlog

from leadwatch.store.schema import utcnow
from leadwatch.synthetic.browser import BrowserPool, run_browser
from leadwatch.synthetic.context import RunContext, StepFailed
from leadwatch.synthetic.http_step import run_http
from leadwatch.synthetic.journey import Journey, Step
from leadwatch.synthetic.network import run_dns, run_tls
from leadwatch.synthetic.results import MAX_ERROR, RunResult, StepResult

log = structlog.get_logger(__name__)

# A marker for synthetic leads, given the run id: (marker id, signed token).
MarkerFactory = Callable[[str], tuple[str, str]]


def run_step(step: Step, ctx: RunContext) -> dict[str, Any]:
    if step.http is not None:
        return run_http(step.http, ctx)
    if step.browser is not None:
        return run_browser(step.browser, ctx)
    if step.tls is not None:
        return run_tls(step.tls, ctx)
    assert step.dns is not None
    return run_dns(step.dns, ctx)


def run_journey(
    journey: Journey,
    *,
    location: str,
    variables: dict[str, str],
    browsers: BrowserPool | None = None,
    marker: MarkerFactory | None = None,
) -> RunResult:
    """Run every step; the first failure ends the run (later steps depend on it)."""
    run_id = uuid.uuid4().hex
    marker_id, token = marker(run_id) if marker else (None, None)
    started_at = utcnow()
    started = time.perf_counter()
    ctx = RunContext(
        run_id=run_id,
        deadline=time.monotonic() + journey.timeout,
        variables={**variables, **journey.variables},
        marker=token,
        browsers=browsers,
    )
    steps: list[StepResult] = []
    error = None
    artifacts = None
    try:
        for step in journey.steps:
            step_started = time.perf_counter()
            try:
                details = run_step(step, ctx)
            except StepFailed as exc:
                ctx.failed = True
                error = f"{step.name}: {exc}"[:MAX_ERROR]
                steps.append(_step(step, False, step_started, str(exc), exc.details))
                break
            except Exception as exc:  # a bug in a step must fail the run, not the scheduler
                log.exception("synthetic_step_crashed", journey=journey.name, step=step.name)
                ctx.failed = True
                error = f"{step.name}: {type(exc).__name__}: {exc}"[:MAX_ERROR]
                steps.append(_step(step, False, step_started, error, {}))
                break
            steps.append(_step(step, True, step_started, None, details))
    finally:
        if ctx.browser is not None:
            kept = ctx.browser.close(keep_artifacts=ctx.failed)
            artifacts = str(kept) if kept else None
            ctx.browser = None
        ctx.close()
    return RunResult(
        run_id=run_id,
        journey=journey.name,
        site_id=journey.site,
        location=location,
        started=started_at,
        duration=round(time.perf_counter() - started, 4),
        success=error is None,
        error=error,
        steps=steps,
        artifacts=artifacts,
        marker_id=marker_id,
    )


def _step(step: Step, ok: bool, started: float, error: str | None,
          details: dict[str, Any]) -> StepResult:
    return StepResult(
        name=step.name,
        kind=step.kind,
        success=ok,
        duration=round(time.perf_counter() - started, 4),
        error=error[:MAX_ERROR] if error else None,
        details=details,
    )
