"""``leadwatch rules`` (generated Prometheus/Alertmanager files) and ``leadwatch silence``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from leadwatch.cli import ConfigOption, fail, settings_or_exit

rules_app = typer.Typer(
    help="Generate Prometheus rules, promtool tests and the Alertmanager configuration.",
    no_args_is_help=True,
)


@rules_app.command("export")
def rules_export(
    out: Annotated[Path, typer.Option("--out", help="Directory to write prometheus/ and alertmanager/ into.")],
    config: ConfigOption = None,
    leadwatch_url: Annotated[
        str | None,
        typer.Option(help="URL Alertmanager posts alerts to (default: server.public_url, else host:port)."),
    ] = None,
    token_file: Annotated[
        str | None,
        typer.Option(help="Path, on the Alertmanager host, of the file holding leadwatch's bearer token."),
    ] = None,
) -> None:
    """Write the alerting rules, SLO recording rules (Sloth naming), their promtool unit
    tests and the Alertmanager configuration, all from the alert catalogue."""
    from leadwatch.alerting.catalogue import CatalogueError, load_catalogue
    from leadwatch.alerting.generate import DEFAULT_TOKEN_FILE, Target, export

    settings = settings_or_exit(config)
    try:
        catalogue = load_catalogue(settings.alerting)
    except CatalogueError as exc:
        fail(str(exc), code=2)
    target = Target.from_settings(settings)
    target = Target(leadwatch_url or target.leadwatch_url, token_file or DEFAULT_TOKEN_FILE)
    for path in export(settings, catalogue, out, target):
        typer.echo(f"wrote {path}")


silence_app = typer.Typer(help="Silence alerts and plan maintenance windows.", no_args_is_help=True)


@silence_app.command("add")
def silence_add(
    matchers: Annotated[list[str], typer.Argument(help='Label matchers: service=web alertname=~"WebVitals.*".')],
    comment: Annotated[str, typer.Option(help="Why (shown with the silence).")],
    config: ConfigOption = None,
    duration: Annotated[str, typer.Option(help="How long from the start: 30m, 2h, 1d.")] = "1h",
    starts: Annotated[
        datetime | None, typer.Option(help="Start (ISO 8601, UTC unless an offset is given); default now.")
    ] = None,
    maintenance: Annotated[bool, typer.Option(help="Record it as a planned maintenance window.")] = False,
    by: Annotated[str, typer.Option(help="Who creates it.")] = "cli",
) -> None:
    """Mute matching alerts for a while (no incident, no page); they still show as firing."""
    from leadwatch.alerting import silences
    from leadwatch.alerting.expr import parse_duration
    from leadwatch.cli import _records

    try:
        parsed = [silences.parse_matcher(m) for m in matchers]
        seconds = parse_duration(duration)
    except ValueError as exc:
        fail(str(exc), code=2)
    start = (starts.replace(tzinfo=UTC) if starts and starts.tzinfo is None else starts) or datetime.now(UTC)
    with _records(config) as session:
        silence = silences.create(session, parsed, start, start + timedelta(seconds=seconds), comment, by,
                                  "maintenance" if maintenance else "silence")
        typer.echo(f"{silence.kind} {silence.id}: until {silence.ends_at:%Y-%m-%d %H:%M:%S} UTC")


@silence_app.command("list")
def silence_list(
    config: ConfigOption = None,
    expired: Annotated[bool, typer.Option(help="Include expired silences.")] = False,
) -> None:
    """List active and scheduled silences and maintenance windows."""
    from leadwatch.alerting import silences
    from leadwatch.cli import _records

    with _records(config) as session:
        for s in silences.listed(session, datetime.now(UTC), expired):
            matchers = " ".join(f"{a}{op}{v}" for a, op, v in s.matchers)
            typer.echo(f"{s.id}\t{s.kind}\t{s.starts_at:%Y-%m-%d %H:%M}\t{s.ends_at:%Y-%m-%d %H:%M}\t"
                       f"{matchers}\t{s.comment}")


@silence_app.command("expire")
def silence_expire(
    silence_id: Annotated[int, typer.Argument(help="The id that silence list shows.")],
    config: ConfigOption = None,
) -> None:
    """End a silence or maintenance window now."""
    from leadwatch.alerting import silences
    from leadwatch.cli import _records

    with _records(config) as session:
        if not silences.expire(session, silence_id, datetime.now(UTC)):
            fail(f"no active silence with id {silence_id}")
    typer.echo(f"expired silence {silence_id}")
