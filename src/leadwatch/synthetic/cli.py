"""``leadwatch synthetic run|list`` and the top-level ``leadwatch probe``."""

from __future__ import annotations

import json
import signal
import threading
from typing import TYPE_CHECKING, Annotated

import typer

from leadwatch.cli import ConfigOption, fail, settings_or_exit

if TYPE_CHECKING:
    from leadwatch.settings import Settings
    from leadwatch.synthetic.browser import BrowserPool
    from leadwatch.synthetic.catalog import Catalog
    from leadwatch.synthetic.results import RunResult

app = typer.Typer(help="Synthetic monitoring: list the journeys, run one now.",
                  no_args_is_help=True)


def _catalog(settings: Settings, demo: bool) -> Catalog:
    """``--demo`` or the settings' ``demo.enabled`` target the demo site."""
    from leadwatch.synthetic.catalog import load_catalog
    from leadwatch.synthetic.journey import JourneyError

    try:
        return load_catalog(settings, demo=demo or None)
    except JourneyError as exc:
        fail(str(exc), code=2)


def _browsers(settings: Settings) -> BrowserPool:
    from leadwatch.synthetic.browser import BrowserPool

    return BrowserPool.from_settings(settings)


def _signing_key(settings: Settings) -> bytes:
    """The installation's key, so leads this run submits are marked synthetic."""
    from leadwatch.store.migrate import upgrade_records
    from leadwatch.store.records import RecordStore

    if settings.auth.secret_key is not None:
        return settings.auth.secret_key.get_secret_value().encode()
    store = RecordStore.open(settings)
    try:
        upgrade_records(store.engine)
        return store.instance_secret("signing_key")
    finally:
        store.close()


@app.command("list")
def list_journeys(
    config: ConfigOption = None,
    demo: Annotated[bool, typer.Option("--demo", help="Point the built-in journeys at the demo site.")] = False,
) -> None:
    """List the journeys (built-in and synthetic.journeys_dir), validating every file."""
    catalog = _catalog(settings_or_exit(config), demo)
    for j in catalog.journeys:
        where = ",".join(j.locations) if j.locations else "all"
        typer.echo(f"{j.name}\tevery {j.frequency:g} s\tSLO {j.slo:g}%\t"
                   f"warn {j.thresholds.warning} crit {j.thresholds.critical}\t"
                   f"{len(j.steps)} steps\t{where}\t{j.display}")


@app.command("run")
def run(
    journey: Annotated[str, typer.Argument(help="Name of the journey (see synthetic list).")],
    config: ConfigOption = None,
    demo: Annotated[bool, typer.Option("--demo", help="Point the built-in journeys at the demo site.")] = False,
    site_url: Annotated[str | None, typer.Option("--site-url", help="Override ${site_url}.")] = None,
    output: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Run one journey once, here, and print each step's result; exit 1 when it fails.

    The result is not stored (the server's scheduler and probes do that)."""
    from leadwatch.synthetic.marker import sign_marker
    from leadwatch.synthetic.runner import run_journey

    if output not in ("text", "json"):
        fail("--format must be text or json", code=2)
    settings = settings_or_exit(config)
    catalog = _catalog(settings, demo)
    found = catalog.get(journey)
    if found is None:
        fail(f"no journey {journey!r}; known: {', '.join(j.name for j in catalog.journeys)}", code=2)
    variables = {**catalog.variables, **({"site_url": site_url.rstrip("/")} if site_url else {})}
    key = _signing_key(settings)
    result = run_journey(
        found,
        location=settings.synthetic.location,
        variables=variables,
        browsers=_browsers(settings),
        marker=lambda run_id: (run_id, sign_marker(key, run_id)),
    )
    if output == "json":
        typer.echo(result.model_dump_json(indent=2))
    else:
        _print(result)
    if not result.success:
        raise typer.Exit(1)


def _print(result: RunResult) -> None:
    for step in result.steps:
        mark = "ok  " if step.success else "FAIL"
        typer.echo(f"{mark} {step.name:<24} {step.kind:<8} {step.duration:8.3f} s"
                   + (f"  {step.error}" if step.error else ""))
        if step.details.get("vitals"):
            typer.echo("     vitals " + json.dumps(step.details["vitals"]))
    verdict = "passed" if result.success else "FAILED"
    typer.echo(f"{result.journey} {verdict} in {result.duration:.3f} s at {result.location}")
    if result.artifacts:
        typer.echo(f"screenshot and trace: {result.artifacts}")


def probe(
    server: Annotated[str, typer.Option("--server", help="Base URL of the leadwatch server.")],
    token: Annotated[str, typer.Option("--token", help="An API token with the ingest scope.",
                                       envvar="LEADWATCH_PROBE_TOKEN")],
    location: Annotated[str, typer.Option("--location", help="This probe's location (one of the server's synthetic.locations).")],
    config: ConfigOption = None,
    refresh: Annotated[float, typer.Option(help="Seconds between journey refreshes (the heartbeat).", min=0.2)] = 60.0,
) -> None:
    """Run the server's journeys from this machine and push the results (a remote probe).

    Stops gracefully on SIGTERM or Ctrl-C, finishing the runs in progress."""
    from leadwatch.synthetic.probe import ProbeRefused, RemoteProbe

    if not server.startswith(("http://", "https://")):
        fail("--server must be an http:// or https:// URL", code=2)
    settings = settings_or_exit(config)
    s = settings.synthetic
    remote = RemoteProbe(server, token, location, browsers=_browsers(settings), refresh=refresh,
                         workers=s.workers, jitter=s.jitter_fraction)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        remote.serve(stop)
    except ProbeRefused as exc:
        fail(f"the server refuses this probe: {exc}", code=2)
