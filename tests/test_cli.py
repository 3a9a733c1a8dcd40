"""The leadwatch command: help, config, migrate, users and tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from typer.testing import CliRunner

from leadwatch.cli import app
from leadwatch.settings import load_settings
from leadwatch.store.models import ApiToken, User
from leadwatch.store.records import RecordStore

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LEADWATCH_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def run(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), input=stdin)


def commands(typer_app=app, prefix: str = "") -> list[str]:  # type: ignore[no-untyped-def]
    """Every command path of the CLI, e.g. ``config check``."""
    found = [
        f"{prefix}{c.name or c.callback.__name__.replace('_', '-')}"  # type: ignore[union-attr]
        for c in typer_app.registered_commands
    ]
    for group in typer_app.registered_groups:
        found += commands(group.typer_instance, f"{prefix}{group.name} ")
    return found


def test_every_command_has_complete_help() -> None:
    names = commands()
    assert {"serve", "migrate", "config check", "config show", "user create", "token create"} <= set(names)
    for name in names:
        result = run(*name.split(), "--help")
        assert result.exit_code == 0, name
        assert "Usage: leadwatch " + name in " ".join(result.output.split())
        assert "--config" in result.output


def test_config_check_names_the_bad_setting(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("config", "check").exit_code == 0
    monkeypatch.setenv("LEADWATCH_STORAGE__FLUSH_BATCH_SIZE", "-1")
    result = run("config", "check")
    assert result.exit_code == 2
    assert "storage.flush_batch_size (env LEADWATCH_STORAGE__FLUSH_BATCH_SIZE): Input should be greater than or equal to 1" in result.output


def test_config_show_masks_secrets(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADWATCH_ADMIN_TOKEN", "very-secret-admin-token")
    result = run("config", "show")
    assert result.exit_code == 0
    assert "admin_token: '********'" in result.output and "very-secret" not in result.output
    assert f"data_dir: {data_dir}" in result.output
    assert '"port": 8000' in run("config", "show", "--format", "json").output


def test_migrate_is_idempotent(data_dir: Path) -> None:
    for _ in range(2):
        result = run("migrate")
        assert result.exit_code == 0, result.output
        assert "records on sqlite, events on duckdb" in result.output
    assert (data_dir / "leadwatch.sqlite3").exists() and (data_dir / "events.duckdb").exists()


def test_user_create_hashes_with_argon2(data_dir: Path) -> None:
    result = run("user", "create", "ada", "--password-stdin", stdin="correct horse battery\n")
    assert result.exit_code == 0, result.output
    store = RecordStore.open(load_settings())
    with store.session() as session:
        user = session.scalar(select(User).where(User.username == "ada"))
        assert user is not None and user.role == "admin"
        assert user.password_hash.startswith("$argon2id$")
        assert PasswordHasher().verify(user.password_hash, "correct horse battery")
    store.close()

    again = run("user", "create", "ada", "--password-stdin", stdin="correct horse battery\n")
    assert again.exit_code == 1 and "exists already" in again.output
    short = run("user", "create", "bob", "--password-stdin", stdin="short\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    role = run("user", "create", "cy", "--role", "owner", "--password-stdin", stdin="correct horse battery\n")
    assert role.exit_code == 1 and "role must be one of" in role.output


def test_tokens_are_shown_once_and_stored_hashed(data_dir: Path) -> None:
    result = run("token", "create", "filebeat", "--scope", "ingest")
    assert result.exit_code == 0
    plain = result.output.strip().rsplit(" ", 1)[1]
    assert plain.startswith("lw_") and len(plain) > 40

    listing = run("token", "list").output
    assert "filebeat" in listing and "ingest" in listing and "active" in listing
    assert plain not in listing
    store = RecordStore.open(load_settings())
    with store.session() as session:
        assert plain not in {t.token_hash for t in session.scalars(select(ApiToken))}
    store.close()

    assert run("token", "revoke", "1").exit_code == 0
    assert "revoked" in run("token", "list").output
    assert run("token", "revoke", "1").exit_code == 1
    assert run("token", "create", "x", "--scope", "root").exit_code == 1
