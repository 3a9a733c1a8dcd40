"""Alert states across a restart of a standalone leadwatch: a firing alert whose
condition still holds goes on firing with its incident (not resolved, not opened
anew, nobody paged again); one whose condition stopped resolves as usual; states
older than ``alerting.for_outage_tolerance_seconds``, or none at all, start afresh,
and the open incidents then wait for the evaluator to see their alerts stop.

Each "process" is a Runtime on the same data dir, driven by the test on its own clock
(no threads), with its snapshots loaded and saved as the SnapshotService does."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import select

from leadwatch.alerting.catalogue import load_catalogue
from leadwatch.alerting.history import History
from leadwatch.alerting.incidents import dedup_key
from leadwatch.alerting.models import Incident
from leadwatch.alerting.state import AlertStates, Instance
from leadwatch.notify.models import OutboxMessage
from leadwatch.runtime import Runtime
from leadwatch.settings import Settings, load_settings
from leadwatch.store.files import write_atomic
from leadwatch.store.snapshots import SnapshotService, encode

FOR = 60.0  # SiteDown's for
T0 = 1_800_000_000.0
SITE_DOWN = dedup_key({"alertname": "SiteDown", "service": "site"})


@dataclass
class Clock:
    t: float = T0

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(self.t, UTC)


@pytest.fixture
def settings_with(settings_for: Callable[..., Settings]) -> Callable[..., Settings]:
    """Settings on the test's one data dir, with this for-outage tolerance."""

    def make(tolerance: float = 3600.0) -> Settings:
        return settings_for(
            alerting={"site_down_for_seconds": int(FOR), "resolve_after_seconds": 60,
                      "for_outage_tolerance_seconds": tolerance},
            notify={"receivers": {"pagerduty-oncall": {"kind": "pagerduty", "routing_key": "rk",
                                                       "url": "http://127.0.0.1:9/pagerduty"}}},
        )

    return make


@pytest.fixture
def settings(settings_with: Callable[..., Settings]) -> Settings:
    return settings_with()


@contextmanager
def process(settings: Settings, clock: Clock, started: float) -> Iterator[tuple[Runtime, SnapshotService]]:
    """A process started at ``started``, its snapshot loaded (the caller saves it)."""
    clock.t = started
    with Runtime(settings) as runtime:
        runtime.migrate()
        runtime.secret_key = b"k" * 32
        runtime.alerting.clock = runtime.alerting.incidents.clock = clock
        snapshots = SnapshotService(settings.storage.data_dir / "history", {"alerting": runtime.alerting},
                                    interval=300, clock=lambda: clock.t)
        snapshots.load()
        yield runtime, snapshots


def evaluate(runtime: Runtime, clock: Clock, at: float, *, site_up: float) -> None:
    """One evaluator cycle at ``at`` with the homepage probe reading ``site_up``."""
    clock.t = at
    runtime.synthetic.metrics.success.labels("homepage", "eu").set(site_up)
    runtime.alerting.sample()
    runtime.alerting.evaluate()
    runtime.alerting.incidents.escalate_due()


def incidents(runtime: Runtime) -> list[tuple[int, str, list[str]]]:
    """SiteDown's incidents (the failing probe also burns the synthetic SLO's budget,
    whose alerts are left out here)."""
    with runtime.records.session() as session:
        return [(i.id, i.status, [t.kind for t in i.timeline])
                for i in session.scalars(select(Incident).where(Incident.dedup_key == SITE_DOWN)
                                         .order_by(Incident.id))]


def pages(runtime: Runtime) -> list[str]:
    """The actions of every message about SiteDown enqueued for PagerDuty, in order."""
    with runtime.records.session() as session:
        return [m.message["action"] for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
                if m.message["dedup_key"] == SITE_DOWN]


def site_down_since(runtime: Runtime) -> dict[str, datetime]:
    return {v.state: v.active_since for v in runtime.alerting.alerts() if v.labels["alertname"] == "SiteDown"}


def fire_and_stop(settings: Settings, clock: Clock) -> datetime:
    """A first process in which SiteDown fires and pages once; it stops at T0 + 90."""
    with process(settings, clock, T0) as (runtime, snapshots):
        for at in (T0, T0 + 30, T0 + 60, T0 + 90):
            evaluate(runtime, clock, at, site_up=0.0)
        assert incidents(runtime) == [(1, "open", ["opened", "escalated"])]
        assert pages(runtime) == ["trigger"]
        since = site_down_since(runtime)
        assert list(since) == ["firing"]
        snapshots.save()
    return since["firing"]


def test_a_firing_alert_still_firing_after_a_restart_keeps_its_incident_and_pages_nobody(settings: Settings) -> None:
    clock = Clock()
    since = fire_and_stop(settings, clock)
    with process(settings, clock, T0 + 200) as (runtime, _):
        assert {i.alert.name: i.active_since for i in runtime.alerting.states.firing()} == {"SiteDown": T0}
        for at in (T0 + 200, T0 + 215, T0 + 200 + FOR + 30):  # past a fresh for, too
            evaluate(runtime, clock, at, site_up=0.0)
            assert site_down_since(runtime) == {"firing": since}
        assert incidents(runtime) == [(1, "open", ["opened", "escalated"])]
        assert pages(runtime) == ["trigger"]  # nobody paged again


def test_a_firing_alert_that_stopped_during_the_restart_resolves_as_usual(settings: Settings) -> None:
    clock = Clock()
    fire_and_stop(settings, clock)
    with process(settings, clock, T0 + 200) as (runtime, _):
        evaluate(runtime, clock, T0 + 200, site_up=1.0)
        assert incidents(runtime)[0][1] == "open"  # false for less than resolve_after
        evaluate(runtime, clock, T0 + 260, site_up=1.0)
        assert incidents(runtime) == [(1, "resolved", ["opened", "escalated", "resolved"])]
        assert pages(runtime) == ["trigger", "resolve"]
        assert site_down_since(runtime) == {}


@pytest.mark.parametrize("memory", ["beyond the tolerance", "no snapshot", "a snapshot without states"])
def test_without_restored_states_an_open_incident_waits_for_its_alert_to_stop(
        settings_with: Callable[..., Settings], memory: str) -> None:
    clock = Clock()
    since = fire_and_stop(settings_with(), clock)
    settings = settings_with(100.0 if memory == "beyond the tolerance" else 3600.0)  # down 110 s
    path = settings.storage.data_dir / "history" / "alerting.snap"
    start = T0 + 200
    if memory == "no snapshot":
        path.unlink()
    elif memory == "a snapshot without states":  # as the previous version wrote it: the history alone
        with process(settings, clock, T0 + 90) as (runtime, _):
            old = runtime.alerting.history
            write_atomic(path, encode("alerting", History.snapshot_version, old.dump()))
    with process(settings, clock, start) as (runtime, _):
        assert runtime.alerting.states.instances == {}
        assert (runtime.alerting.history.size() > 0) == (memory != "no snapshot")
        # The alert of the open incident is taken as firing since it started, not
        # resolved because the evaluator remembers nothing of it.
        evaluate(runtime, clock, start, site_up=0.0)
        assert site_down_since(runtime) == {"firing": since}
        evaluate(runtime, clock, start + FOR + 30, site_up=0.0)
        assert incidents(runtime) == [(1, "open", ["opened", "escalated"])]
        assert pages(runtime) == ["trigger"]
        # It resolves once it has been evaluated false for resolve_after.
        evaluate(runtime, clock, start + 200, site_up=1.0)
        evaluate(runtime, clock, start + 260, site_up=1.0)
        assert incidents(runtime)[0][1] == "resolved"
        assert pages(runtime) == ["trigger", "resolve"]


def test_pending_states_are_restored_within_the_tolerance_and_forgotten_beyond(
        settings_with: Callable[..., Settings]) -> None:
    clock = Clock()
    with process(settings_with(), clock, T0) as (runtime, snapshots):
        evaluate(runtime, clock, T0, site_up=0.0)
        evaluate(runtime, clock, T0 + 30, site_up=0.0)
        assert site_down_since(runtime) == {"pending": Clock(T0)()}
        snapshots.save()
    # Down 100 s (from the last evaluation). Beyond the tolerance, the alert is pending
    # afresh; within it, the restored pending alert is moved on by the downtime: its
    # for counts only the time it was watched, as in Prometheus. (In this order: the
    # second run's incident would be taken up by a third.)
    for tolerance, pending_since in ((50.0, T0 + 130), (3600.0, T0 + 100)):
        with process(settings_with(tolerance), clock, T0 + 130) as (runtime, _):
            evaluate(runtime, clock, T0 + 130, site_up=0.0)
            assert site_down_since(runtime) == {"pending": Clock(pending_since)()}
            evaluate(runtime, clock, T0 + 130 + FOR - 30, site_up=0.0)
            assert list(site_down_since(runtime)) == ["firing" if tolerance > 100 else "pending"]
            assert len(incidents(runtime)) == (1 if tolerance > 100 else 0)


def test_dumped_states_restore_firing_as_they_were_and_pending_moved_on_by_the_downtime() -> None:
    catalogue = load_catalogue(load_settings(None).alerting)
    alert = catalogue.alert("AvailabilitySLOBreach")[0]
    states = AlertStates(resolve_after=60)
    states.instances = {
        ("x", ()): Instance(alert, {"alertname": alert.name, "route": "/"}, 100.0, 0.5, firing_since=400.0,
                            false_since=1000.0),
        ("y", ()): Instance(alert, {"alertname": alert.name, "route": "/contact"}, 900.0, math.nan),
    }
    states.evaluated_at = 1000.0
    gone = replace(alert, name="Renamed")
    states.instances[("z", ())] = Instance(gone, {"alertname": "Renamed"}, 100.0, 1.0, firing_since=400.0)
    dumped = orjson.loads(orjson.dumps(states.dump()))  # as the snapshot's JSON header holds it
    restored = AlertStates(resolve_after=60)
    assert restored.restore(dumped, catalogue.alerts, now=1300.0) == 1  # Renamed: no longer in the catalogue
    assert restored.evaluated_at == 1000.0  # a restart before the next evaluation measures from here
    firing, pending = sorted(restored.instances.values(), key=lambda i: i.active_since)
    assert (firing.labels["route"], firing.active_since, firing.value, firing.firing_since, firing.false_since) == (
        "/", 100.0, 0.5, 400.0, 1000.0)
    assert (pending.labels["route"], pending.active_since, pending.firing, math.isnan(pending.value)) == (
        "/contact", 1200.0, False, True)
