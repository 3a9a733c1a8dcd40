"""``leadwatch security``: classify inputs, manage bans, export them for nginx."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from leadwatch.cli import ConfigOption, fail, record_store, settings_or_exit
from leadwatch.security.detect import Field, Inspector

app = typer.Typer(help="Security: classify inputs, manage IP bans, export bans to nginx.",
                  no_args_is_help=True)
bans_app = typer.Typer(help="List, add and lift temporary IP bans (shared by every replica).",
                       no_args_is_help=True)
app.add_typer(bans_app, name="bans")


@app.command("classify")
def classify(
    file: Annotated[str, typer.Argument(help="File of inputs, one a line; - for stdin.")] = "-",
    config: ConfigOption = None,
    field: Annotated[Field, typer.Option("--field", help="Where the inputs come from.")] = Field.QUERY,
) -> None:
    """Print one JSON object per input line: {"input", "threats", "rule"}."""
    settings = settings_or_exit(config)
    inspector = Inspector(settings.security.disabled_rules)
    stream = sys.stdin if file == "-" else _open(file)
    for line in stream:
        value = line.rstrip("\r\n")
        findings = inspector.inspect(value, field)
        typer.echo(json.dumps({
            "input": value,
            "threats": [str(f.threat) for f in findings],
            "rule": findings[0].rule if findings else None,
            "rules": [f.rule for f in findings],
        }, ensure_ascii=False))


def _open(file: str):  # type: ignore[no-untyped-def]
    try:
        return Path(file).open(encoding="utf-8", errors="replace")
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", code=2)


@bans_app.command("list")
def bans_list(config: ConfigOption = None) -> None:
    """List bans in force: id, address, expiry, who, reason."""
    from leadwatch.security.bans import active_bans

    with record_store(config) as store:
        for b in active_bans(store):
            typer.echo(f"{b.id}\t{b.network}\tuntil {b.expires_at:%Y-%m-%dT%H:%M:%SZ}\t{b.created_by}\t{b.reason}")


@bans_app.command("add")
def bans_add(
    address: Annotated[str, typer.Argument(help="IP address or network (CIDR).")],
    config: ConfigOption = None,
    seconds: Annotated[int, typer.Option(help="How long the ban lasts.", min=1)] = 3600,
    reason: Annotated[str, typer.Option(help="Why (shown in lists and the nginx file).")] = "banned by hand",
) -> None:
    """Ban an address or network for --seconds; every replica refuses it within
    security.ban_refresh_seconds."""
    from leadwatch.security.bans import add_ban
    from leadwatch.security.clients import never_banned

    never = never_banned(settings_or_exit(config).security)
    with record_store(config) as store:
        try:
            ban = add_ban(store, address, seconds=seconds, reason=reason, created_by="cli", never=never)
        except ValueError as exc:
            fail(str(exc), code=2)
    typer.echo(f"banned {ban.network} until {ban.expires_at:%Y-%m-%dT%H:%M:%SZ} (id {ban.id})")


@bans_app.command("remove")
def bans_remove(
    address: Annotated[str, typer.Argument(help="IP address or network, as banned.")],
    config: ConfigOption = None,
) -> None:
    """Lift every ban in force of an address or network."""
    from leadwatch.security.bans import lift_bans

    with record_store(config) as store:
        try:
            lifted = lift_bans(store, address)
        except ValueError as exc:
            fail(str(exc), code=2)
    if not lifted:
        fail(f"no ban in force for {address}")
    typer.echo(f"lifted {lifted} ban(s) of {address}")


@app.command("export-nginx")
def export_nginx(
    config: ConfigOption = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default stdout).")] = None,
) -> None:
    """Write the bans in force as an nginx include file of `deny` lines."""
    from leadwatch.security.bans import active_bans, nginx_deny

    with record_store(config) as store:
        text = nginx_deny(active_bans(store))
    if output is None:
        typer.echo(text, nl=False)
    else:
        tmp = output.with_name(output.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(output)  # nginx never reads a half-written file
        typer.echo(f"wrote {text.count('deny ')} deny line(s) to {output}")
