"""The app factory: ``create_app(settings)`` builds the FastAPI app; its lifespan opens
the Runtime (stores, buffers, background services) and closes it, flushing, at exit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from leadwatch import __version__
from leadwatch.metrics import Metrics
from leadwatch.runtime import Runtime
from leadwatch.settings import Settings, load_settings
from leadwatch.web import events, system
from leadwatch.web.errors import install_error_handlers
from leadwatch.web.middleware import ObservabilityMiddleware


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await run_in_threadpool(Runtime, settings, metrics)
        try:
            await run_in_threadpool(runtime.start)
            app.state.runtime = runtime
            yield
        finally:
            # Blocking: every acknowledged event is written (or spilled) before exit.
            await run_in_threadpool(runtime.close)

    app = FastAPI(
        title="leadwatch",
        version=__version__,
        summary="Self-hosted lead-generation and site-observability platform",
        license_info={"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        lifespan=lifespan,
        openapi_url="/openapi.json",
        # FastAPI's docs pages load their scripts from a CDN; leadwatch works offline.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    install_error_handlers(app)
    app.add_middleware(
        ObservabilityMiddleware, metrics=metrics, max_body_bytes=settings.server.max_body_bytes
    )
    app.include_router(system.router)
    app.include_router(events.router)
    return app
