"""``leadwatch dashboards``: generate the Grafana dashboards for stack mode."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leadwatch.cli import ConfigOption, fail, settings_or_exit

app = typer.Typer(help="Generate the Grafana dashboards and their provisioning files.",
                  no_args_is_help=True)


@app.command("export")
def export_command(
    config: ConfigOption = None,
    out: Annotated[Path, typer.Option(
        "--out", help="Directory to write the dashboards (JSON) and provisioning/ (YAML) into.",
        file_okay=False)] = Path("deploy/grafana/dashboards"),
    check: Annotated[bool, typer.Option(
        "--check", help="Write nothing; exit 1 when the files in --out differ from the generator's.",
    )] = False,
) -> None:
    """Write the Executive, Technical Operations, Marketing Intelligence and Security
    dashboards, with provisioning for a Prometheus and a PostgreSQL data source."""
    from leadwatch.dashboards.grafana.export import export, files

    settings_or_exit(config)
    if check:
        stale = [name for name, content in files().items()
                 if not (out / name).is_file() or (out / name).read_text(encoding="utf-8") != content]
        if stale:
            fail(f"out of date in {out}: {', '.join(stale)} (run leadwatch dashboards export)")
        typer.echo(f"{out} is up to date")
        return
    for path in export(out):
        typer.echo(f"wrote {path}")
