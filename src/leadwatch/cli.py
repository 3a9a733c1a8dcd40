"""The ``leadwatch`` command. ``serve`` is the default; each capability adds a group.

Every command takes ``--config FILE`` (else ``$LEADWATCH_CONFIG``); a bad setting
stops it with exit status 2 and one line per problem.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
import yaml

from leadwatch import __version__
from leadwatch.settings import ConfigError, Settings, effective, load_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from leadwatch.store.records import RecordStore

app = typer.Typer(
    name="leadwatch",
    help="Self-hosted lead-generation and site-observability platform.",
    no_args_is_help=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
config_app = typer.Typer(help="Check and show the effective settings.", no_args_is_help=True)
user_app = typer.Typer(help="Manage the people who log in to the web UI.", no_args_is_help=True)
token_app = typer.Typer(help="Manage API tokens for scripts and shippers.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="YAML settings file (default: $LEADWATCH_CONFIG).",
        exists=True,
        dir_okay=False,
        show_default=False,
    ),
]


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"leadwatch: {message}", err=True)
    raise typer.Exit(code)


def settings_or_exit(config: Path | None, **overrides: Any) -> Settings:
    from leadwatch.applog import configure_logging

    try:
        settings = load_settings(config, **overrides)
    except ConfigError as exc:
        fail(str(exc), code=2)
    configure_logging(settings.logging)
    return settings


@app.callback(invoke_without_command=True)
def main_callback(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """With no command, run ``serve``."""
    if version:
        typer.echo(__version__)
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        serve(config=None, host=None, port=None, demo=False)


@app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port (default 8000).")] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Also serve the demo site under /demo/ with simulated traffic.")
    ] = False,
) -> None:
    """Run the leadwatch server (web UI, API, collectors, background services)."""
    import uvicorn

    from leadwatch.app import create_app

    server = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    settings = settings_or_exit(config, server=server, **({"demo": {"enabled": True}} if demo else {}))
    uvicorn.run(
        create_app(settings),
        host=settings.server.host,
        port=settings.server.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        timeout_graceful_shutdown=int(settings.server.shutdown_timeout_seconds),
    )


@app.command()
def migrate(config: ConfigOption = None) -> None:
    """Create or upgrade the record and event stores' schemas (safe to repeat)."""
    from leadwatch.runtime import Runtime

    settings = settings_or_exit(config)
    with Runtime(settings) as runtime:
        runtime.migrate()
    typer.echo(f"migrated: records on {runtime.records.backend}, events on {runtime.events.dialect.name}")


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Validate the settings; exit 2 naming each bad setting and why."""
    settings_or_exit(config)
    typer.echo("settings are valid")


@config_app.command("show")
def config_show(
    config: ConfigOption = None,
    output: Annotated[str, typer.Option("--format", help="yaml or json.")] = "yaml",
) -> None:
    """Print the effective settings (secrets masked)."""
    data = effective(settings_or_exit(config))
    if output == "json":
        typer.echo(json.dumps(data, indent=2))
    elif output == "yaml":
        typer.echo(yaml.safe_dump(data, sort_keys=False).rstrip())
    else:
        fail("--format must be yaml or json", code=2)


PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input.")]
Username = Annotated[str, typer.Argument(help="Login name.")]


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Repeat: ") != password:
        fail("the passwords differ")
    return password


@user_app.command("create")
def user_create(
    username: Username,
    config: ConfigOption = None,
    role: Annotated[str, typer.Option(help="admin or viewer.")] = "admin",
    password_stdin: PasswordStdin = False,
) -> None:
    """Create a UI user; the password is prompted for (or read from stdin) and argon2-hashed."""
    from leadwatch.auth import AuthError, create_user

    password = _read_password(password_stdin)
    with _records(config) as session:
        try:
            user = create_user(session, username, password, role)
        except AuthError as exc:
            fail(str(exc))
    typer.echo(f"created {user.role} user {user.username!r} (id {user.id})")


@user_app.command("list")
def user_list(config: ConfigOption = None) -> None:
    """List UI users: id, name, role, state and last login (never a password hash)."""
    from leadwatch.security.accounts import accounts

    with _records(config) as session:
        for u in accounts(session):
            last = f"{u.last_login_at:%Y-%m-%d %H:%M} UTC" if u.last_login_at else "never"
            typer.echo(f"{u.id}\t{u.username}\t{u.role}\t{'disabled' if u.disabled else 'active'}\tlast login {last}")


@user_app.command("passwd")
def user_passwd(username: Username, config: ConfigOption = None, password_stdin: PasswordStdin = False) -> None:
    """Set a new password; the user's sessions end and a login lockout is lifted."""
    from leadwatch.auth import AuthError
    from leadwatch.security.accounts import reset_password

    password = _read_password(password_stdin)
    with _records(config) as session:
        try:
            ended = reset_password(session, username, password)
        except AuthError as exc:
            fail(str(exc))
    typer.echo(f"new password set for {username.strip()!r}; {ended} session(s) ended")


def _change_account(username: str, config: Path | None, change: str) -> None:
    from leadwatch.auth import AuthError
    from leadwatch.security.accounts import delete_account, set_disabled

    with _records(config) as session:
        try:
            if change == "delete":
                ended = delete_account(session, username)
            else:
                ended = set_disabled(session, username, change == "disable")
        except AuthError as exc:
            fail(str(exc))
    typer.echo(f"{change}d user {username.strip()!r}; {ended} session(s) ended")


@user_app.command("disable")
def user_disable(username: Username, config: ConfigOption = None) -> None:
    """Stop a user from logging in; their sessions end at once (enable undoes it)."""
    _change_account(username, config, "disable")


@user_app.command("enable")
def user_enable(username: Username, config: ConfigOption = None) -> None:
    """Let a disabled user log in again."""
    _change_account(username, config, "enable")


@user_app.command("delete")
def user_delete(
    username: Username,
    config: ConfigOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a user and end their sessions (their API tokens stay, naming no one)."""
    if not yes and not typer.confirm(f"Delete user {username.strip()!r}?"):
        fail("nothing deleted")
    _change_account(username, config, "delete")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="What the token is for.")],
    config: ConfigOption = None,
    scope: Annotated[str, typer.Option(help="ingest (send data) or admin (everything).")] = "ingest",
) -> None:
    """Create an API token and print it once (only its hash is kept)."""
    from leadwatch.auth import AuthError, create_token

    with _records(config) as session:
        try:
            token, plain = create_token(session, name, scope)
        except AuthError as exc:
            fail(str(exc))
    typer.echo(f"token {token.id} ({token.scope}): {plain}")


@token_app.command("list")
def token_list(config: ConfigOption = None) -> None:
    """List API tokens (prefix, scope, state); never the tokens themselves."""
    from sqlalchemy import select

    from leadwatch.store.models import ApiToken

    with _records(config) as session:
        for t in session.scalars(select(ApiToken).order_by(ApiToken.id)):
            state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
            typer.echo(f"{t.id}\t{t.prefix}…\t{t.scope}\t{state}\t{t.name}")


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="The id that token list shows.")],
    config: ConfigOption = None,
) -> None:
    """Revoke an API token at once."""
    from leadwatch.auth import revoke_token

    with _records(config) as session:
        if not revoke_token(session, token_id):
            fail(f"no active token with id {token_id}")
    typer.echo(f"revoked token {token_id}")


@contextmanager
def record_store(config: Path | None) -> Iterator[RecordStore]:
    """The migrated RecordStore. Only the records are opened, so commands using it
    work beside a running server (which holds the DuckDB file)."""
    from leadwatch.store.migrate import upgrade_records
    from leadwatch.store.records import RecordStore

    store = RecordStore.open(settings_or_exit(config))
    try:
        upgrade_records(store.engine)
        yield store
    finally:
        store.close()


@contextmanager
def _records(config: Path | None) -> Iterator[Session]:
    """A session on the migrated RecordStore (see :func:`record_store`)."""
    with record_store(config) as store, store.session() as session:
        yield session


# Capability groups; imported last because they use the helpers above.
from leadwatch.alerting.cli import rules_app, silence_app
from leadwatch.dashboards.cli import app as dashboards_app
from leadwatch.demo.cli import app as demo_app
from leadwatch.leads.cli import app as leads_app
from leadwatch.logs.cli import logs_app
from leadwatch.privacy.cli import app as privacy_app
from leadwatch.security.cli import app as security_app
from leadwatch.synthetic import cli as synthetic_cli

app.add_typer(rules_app, name="rules")
app.add_typer(silence_app, name="silence")
app.add_typer(security_app, name="security")
app.add_typer(leads_app, name="leads")
app.add_typer(logs_app, name="logs")
app.add_typer(privacy_app, name="privacy")
app.add_typer(dashboards_app, name="dashboards")
app.add_typer(synthetic_cli.app, name="synthetic")
app.command("probe")(synthetic_cli.probe)
app.add_typer(demo_app, name="demo")


def main() -> None:
    app()
