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


def test_user_lifecycle_ends_sessions_and_lifts_lockouts(data_dir: Path) -> None:
    from sqlalchemy import func

    from leadwatch.security.models import LoginThrottle, UserSession
    from leadwatch.security.sessions import LoginLocked, authenticate, open_session

    assert run("user", "create", "ada", "--password-stdin", stdin="correct horse battery\n").exit_code == 0
    settings = load_settings()
    store = RecordStore.open(settings)

    def login(password: str) -> bool:
        with store.session() as session:
            user = authenticate(session, settings.security, "ada", password)
            if user is not None:
                open_session(session, settings.security, user, "203.0.113.5")
            return user is not None

    def sessions() -> int:
        with store.session() as session:
            return int(session.scalar(select(func.count()).select_from(UserSession)) or 0)

    try:
        assert login("correct horse battery") and sessions() == 1
        for _ in range(settings.security.login_max_failures):
            assert not login("not the password!")
        with pytest.raises(LoginLocked):
            login("correct horse battery")

        reset = run("user", "passwd", "ada", "--password-stdin", stdin="a brand new passphrase\n")
        assert reset.exit_code == 0 and "1 session(s) ended" in reset.output and sessions() == 0
        assert login("a brand new passphrase")  # the lockout is lifted
        assert not login("correct horse battery")  # the old password is gone

        disabled = run("user", "disable", "ada")
        assert disabled.exit_code == 0 and "1 session(s) ended" in disabled.output
        assert not login("a brand new passphrase") and "\tada\tadmin\tdisabled\t" in run("user", "list").output
        assert run("user", "enable", "ada").exit_code == 0 and login("a brand new passphrase")
        assert "\tada\tadmin\tactive\tlast login 20" in run("user", "list").output

        assert run("user", "delete", "ada", stdin="n\n").exit_code == 1  # asked, and declined
        assert not login("not the password!")  # a failed login on record
        deleted = run("user", "delete", "ada", "--yes")
        assert deleted.exit_code == 0 and "1 session(s) ended" in deleted.output and sessions() == 0
        with store.session() as session:  # its failed logins went with it
            assert session.scalar(select(func.count()).select_from(LoginThrottle)) == 0
        assert "ada" not in run("user", "list").output
        missing = run("user", "passwd", "ada", "--password-stdin", stdin="a brand new passphrase\n")
        assert missing.exit_code == 1 and "no user 'ada'" in missing.output
    finally:
        store.close()


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
