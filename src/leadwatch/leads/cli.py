"""``leadwatch leads``: list, export and rescore leads from the command line. These
commands open only the record store, so they work beside a running server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leadwatch.cli import ConfigOption, _records, fail, settings_or_exit

app = typer.Typer(help="List, export and rescore contact-form leads.", no_args_is_help=True)

SiteOption = Annotated[str | None, typer.Option("--site", help="Only this site id.")]
TierOption = Annotated[str | None, typer.Option("--tier", help="premium, high, standard, low or poor.")]
RejectedOption = Annotated[
    bool, typer.Option("--rejected", help="Rejected submissions (spam, duplicates...) instead of leads.")
]


def _filter(site: str | None, tier: str | None, rejected: bool):  # type: ignore[no-untyped-def]
    from leadwatch.leads.queries import LeadFilter
    from leadwatch.settings import TIERS

    if tier is not None and tier not in TIERS:
        fail(f"--tier must be one of {', '.join(TIERS)}", code=2)
    return LeadFilter(site_id=site, tier=tier, rejected=rejected)


@app.command("list")
def list_leads(
    config: ConfigOption = None,
    site: SiteOption = None,
    tier: TierOption = None,
    rejected: RejectedOption = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many, newest first.")] = 50,
) -> None:
    """Print leads, newest first: id, time, tier, score, status, email, name."""
    from leadwatch.leads.queries import find_leads

    where = _filter(site, tier, rejected)
    with _records(config) as session:
        total, rows = find_leads(session, where, limit)
        for lead in rows:
            state = lead.rejected_reason or lead.status
            typer.echo(f"{lead.id}\t{lead.created_at:%Y-%m-%d %H:%M}\t{lead.tier}\t{lead.score}\t"
                       f"{state}\t{lead.email}\t{lead.name}")
    typer.echo(f"{min(total, limit)} of {total} shown", err=True)


@app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="CSV file to write ('-' for stdout).", dir_okay=False)],
    config: ConfigOption = None,
    site: SiteOption = None,
    tier: TierOption = None,
    rejected: RejectedOption = False,
) -> None:
    """Write leads as CSV (the same columns as GET /api/v1/leads/export.csv)."""
    from leadwatch.leads.queries import csv_lines, iter_leads

    where = _filter(site, tier, rejected)
    with _records(config) as session:
        lines = csv_lines(iter_leads(session, where))
        if str(out) == "-":
            for chunk in lines:
                typer.echo(chunk, nl=False)
            return
        partial = out.with_name(out.name + ".partial")
        with partial.open("w", encoding="utf-8", newline="") as f:
            f.writelines(lines)
        partial.replace(out)  # a half-written export never looks complete
    typer.echo(f"wrote {out}", err=True)


@app.command("rescore")
def rescore(
    config: ConfigOption = None,
    site: SiteOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count, change nothing.")] = False,
) -> None:
    """Score again every lead made by another model version (after changing
    leads.scoring); leads nobody has followed up get the due time of their new tier."""
    from leadwatch.leads import queries

    settings = settings_or_exit(config)
    with _records(config) as session:
        seen, changed = queries.rescore(session, settings, site, dry_run=dry_run)
    verb = "would change" if dry_run else "changed"
    typer.echo(f"rescored {seen} leads of older models; {verb} the score or tier of {changed}")
