"""``leadwatch demo``: manage the demo's data (``serve --demo`` writes it)."""

from __future__ import annotations

import typer

from leadwatch.cli import ConfigOption, fail, settings_or_exit

app = typer.Typer(help="The Reboot Media demo site and its simulated traffic.", no_args_is_help=True)


@app.command("reset")
def reset(
    config: ConfigOption = None,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete every row of the demo site (events, logs, leads, follow-ups, incidents,
    the bans of its attackers). Stop the server first: the embedded event store is held
    by the running server."""
    from leadwatch.demo.reset import delete_demo_events, delete_demo_records
    from leadwatch.runtime import Runtime

    settings = settings_or_exit(config)
    site_id = settings.demo.site_id
    if not yes:
        typer.confirm(f"Delete every row of the demo site {site_id!r}?", abort=True)
    try:
        runtime = Runtime(settings)
    except Exception as exc:  # DuckDB's file lock while a server runs, most often
        fail(f"cannot open the stores (is a server running on this data dir?): {exc}")
    with runtime:
        runtime.migrate()
        counts = {**delete_demo_events(runtime.events, site_id),
                  **delete_demo_records(runtime.records, site_id)}
    typer.echo("deleted " + ", ".join(f"{n} {name}" for name, n in counts.items()))
