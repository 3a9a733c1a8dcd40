"""``leadwatch privacy``: export and erase a data subject, apply or preview the
retention of personal data, list the audit log. These commands open only the record
store, so they work beside a running server."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from leadwatch.cli import ConfigOption, fail, record_store, settings_or_exit

if TYPE_CHECKING:
    from leadwatch.privacy.service import Privacy
    from leadwatch.privacy.subjects import Subject

app = typer.Typer(help="Data-subject export and erasure (GDPR/CCPA), retention of personal data.",
                  no_args_is_help=True)

EmailOption = Annotated[str, typer.Option("--email", help="The person's e-mail address.")]
PhoneOption = Annotated[str | None, typer.Option("--phone", help="Also match leads with this phone number.")]
SiteOption = Annotated[str | None, typer.Option("--site", help="Only this site id (default: every site).")]


@contextmanager
def _privacy(config: Path | None) -> Iterator[Privacy]:
    from prometheus_client import CollectorRegistry

    from leadwatch.privacy.service import Privacy

    settings = settings_or_exit(config)
    with record_store(config) as store:
        # A command's own registry: the server's counter counts the server's requests.
        yield Privacy(store, settings.privacy, CollectorRegistry())


def _subject(config: Path | None, email: str, phone: str | None, site: str | None) -> Subject:
    from leadwatch.privacy.subjects import Subject, SubjectError

    if site is not None and site not in {s.id for s in settings_or_exit(config).sites}:
        fail(f"--site: no site {site!r} in the settings", code=2)
    try:
        return Subject.parse(email, phone, site)
    except SubjectError as exc:
        fail(f"--{exc.field}: {exc}", code=2)


@app.command("export")
def export(
    email: EmailOption,
    config: ConfigOption = None,
    phone: PhoneOption = None,
    site: SiteOption = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", dir_okay=False,
                                                help="File to write (default stdout), readable by its owner only.")] = None,
) -> None:
    """Write everything stored about a person as one JSON document (GDPR Art. 15/20)."""
    subject = _subject(config, email, phone, site)
    with _privacy(config) as privacy:
        document = privacy.export(subject, actor="cli")
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    # Personal data: not readable by other local users, whatever the umask.
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # the mode above applies to a new file only
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    typer.echo(f"wrote {len(document['leads'])} lead(s) to {output} (request {document['request_id']})")


@app.command("erase")
def erase(
    email: EmailOption,
    config: ConfigOption = None,
    phone: PhoneOption = None,
    site: SiteOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Anonymise a person's leads and drop messages not yet sent to or about them (GDPR Art. 17)."""
    subject = _subject(config, email, phone, site)
    with _privacy(config) as privacy:
        if not yes:
            found = privacy.found(subject)
            typer.echo("found: " + ", ".join(f"{n} {table}" for table, n in found.items()))
            if found["users"]:
                typer.echo("UI accounts are not erased here: remove them with leadwatch user delete.")
            typer.confirm("anonymise these records for good?", abort=True)
        done = privacy.erase(subject, actor="cli")
    typer.echo(f"erased (request {done.request_id}): "
               + ", ".join(f"{n} {table}" for table, n in done.counts.items()))


@app.command("retention")
def retention(
    config: ConfigOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be anonymised; change nothing.")] = False,
) -> None:
    """Anonymise leads older than privacy.lead_retention_days now (the server does it periodically)."""
    with _privacy(config) as privacy:
        due = privacy.due()
        if due is None:
            fail("privacy.lead_retention_days is not set: leads are kept until erased")
        if dry_run:
            oldest = f", the oldest from {due.oldest:%Y-%m-%d}" if due.oldest else ""
            typer.echo(f"would anonymise {due.leads} lead(s) created before {due.cutoff:%Y-%m-%dT%H:%M:%SZ}{oldest}")
            return
        done = privacy.apply_retention(actor="cli")
    if not done.counts.get("leads"):
        typer.echo(f"nothing due: no lead created before {due.cutoff:%Y-%m-%dT%H:%M:%SZ} left to anonymise")
        return
    typer.echo(f"anonymised (request {done.request_id}): "
               + ", ".join(f"{n} {table}" for table, n in done.counts.items()))


@app.command("requests")
def requests(
    config: ConfigOption = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many, newest first.")] = 50,
) -> None:
    """List the audit log of privacy requests: id, kind, completed, actor, site, subject hash, counts."""
    with _privacy(config) as privacy:
        for r in privacy.history(limit):
            done = f"{r.completed_at:%Y-%m-%dT%H:%M:%SZ}" if r.completed_at else "-"
            typer.echo(f"{r.id}\t{r.kind}\t{done}\t{r.actor}\t{r.site_id or '*'}\t"
                       f"{(r.subject_hash or '-')[:16]}\t{json.dumps(r.counts, sort_keys=True)}")
