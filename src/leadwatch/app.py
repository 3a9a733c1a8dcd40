"""The app factory: ``create_app(settings)`` builds the FastAPI app; its lifespan opens
the Runtime (stores, buffers, background services) and closes it, flushing, at exit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from leadwatch import __version__
from leadwatch.alerting import api as alerting_api
from leadwatch.collect import routes as collect_routes
from leadwatch.dashboards import views as dashboard_views
from leadwatch.heap import serving_heap
from leadwatch.leads import api as leads_api
from leadwatch.logs import api as logs_api
from leadwatch.marketing import revenue_api
from leadwatch.marketing import routes as analytics_routes
from leadwatch.metrics import Metrics
from leadwatch.privacy import api as privacy_api
from leadwatch.runtime import Runtime
from leadwatch.security import api as security_api
from leadwatch.security.headers import SecurityHeadersMiddleware
from leadwatch.security.middleware import SecurityMiddleware, runtime_guard
from leadwatch.settings import Settings, load_settings
from leadwatch.synthetic import api as synthetic_api
from leadwatch.synthetic import status_page
from leadwatch.web import events, system
from leadwatch.web.errors import install_error_handlers
from leadwatch.web.middleware import ObservabilityMiddleware


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    if settings.demo.enabled:  # the demo site and its simulated visitors (serve --demo)
        from leadwatch.demo import site as demo_site
        from leadwatch.demo.simulator import TrafficSimulator

        settings = demo_site.with_demo_site(settings)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await run_in_threadpool(Runtime, settings, metrics)
        if settings.demo.enabled:
            runtime.services.append(TrafficSimulator(runtime, app))
        try:
            await run_in_threadpool(runtime.start)
            app.state.runtime = runtime
            with serving_heap():
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
    # /collect, the busiest route, first: its routes and, innermost, a shortcut to them.
    collect_routes.add_collector(app, settings)
    app.add_middleware(SecurityMiddleware, guard=runtime_guard)  # inside Observability
    app.add_middleware(
        SecurityHeadersMiddleware,
        content_security_policy=settings.security.content_security_policy,
        hsts_seconds=settings.security.hsts_seconds,
        trusted_proxies=settings.security.trusted_proxies,
    )
    app.add_middleware(
        ObservabilityMiddleware, metrics=metrics, max_body_bytes=settings.server.max_body_bytes
    )
    # The two hottest public endpoints first: routes are matched in order.
    app.include_router(collect_routes.router)
    app.include_router(leads_api.public)
    app.include_router(system.router)
    app.include_router(alerting_api.router)
    app.include_router(events.router)
    app.include_router(logs_api.router)
    app.include_router(security_api.session_router)
    app.include_router(security_api.router)
    app.include_router(analytics_routes.router)
    app.include_router(revenue_api.router)
    app.include_router(leads_api.admin)
    app.include_router(privacy_api.router)
    app.include_router(dashboard_views.router)
    app.include_router(synthetic_api.router)
    app.include_router(status_page.router)
    if settings.demo.enabled:
        app.include_router(demo_site.router)
    return app
