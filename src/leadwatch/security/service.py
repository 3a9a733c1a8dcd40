"""The security capability inside a running leadwatch: the ban list (a service that
reloads the other replicas' bans), the Guard the middleware, the login and the log
pipeline ask, and the incident tracker (a service that groups events into incidents)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leadwatch.security.bans import BanList
from leadwatch.security.guard import Guard
from leadwatch.security.incidents import IncidentTracker
from leadwatch.settings import ConfigError

if TYPE_CHECKING:
    from leadwatch.runtime import Runtime, Service


class SecurityRuntime:
    def __init__(self, runtime: Runtime):
        settings = runtime.settings.security
        registry = runtime.metrics.registry
        self.bans = BanList(runtime.records, registry, settings.ban_refresh_seconds)
        self.guard = Guard(settings, runtime.security_log, self.bans, registry,
                           site_id=runtime.settings.sites[0].id)
        self.incidents = IncidentTracker(
            runtime.records, registry,
            window_seconds=settings.incident_window_seconds,
            escalate_events=settings.incident_escalate_events,
            receivers=self._receivers(runtime),
            # The outbox is built later in Runtime.__init__; it is looked up when used.
            enqueue=lambda receiver, message, session: runtime.outbox.enqueue(receiver, message, session),
        )
        runtime.security_log.subscribe(self.incidents)
        runtime.logs.pipeline.subscribe(self.guard.observe_log)
        self.services: list[Service] = [self.bans, self.incidents]

    @staticmethod
    def _receivers(runtime: Runtime) -> dict[str, list[str]]:
        security = runtime.settings.security
        known = runtime.settings.notify.receivers
        unknown = [f"security.{key}: no receiver {name!r} in notify.receivers"
                   for key in ("notify_security", "notify_developers")
                   for name in getattr(security, key) if name not in known]
        if unknown:
            raise ConfigError(unknown)
        return {"security": security.notify_security, "developers": security.notify_developers}
