"""Settings: every layer, its precedence, secrets from files, and loud failures."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from leadwatch.settings import ConfigError, effective, load_settings


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults() -> None:
    settings = load_settings()
    assert settings.server.port == 8000
    assert settings.storage.data_dir == Path("data").absolute()
    assert not settings.storage.uses_postgres
    assert [s.id for s in settings.sites] == ["default"]


def test_layers_and_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(tmp_path / "lw.yaml", "server:\n  port: 8100\n  host: 0.0.0.0\nlogging:\n  level: debug\n")
    assert load_settings(config).server.port == 8100

    monkeypatch.setenv("LEADWATCH_PORT", "8200")  # short name beats the file
    assert load_settings(config).server.port == 8200
    monkeypatch.setenv("LEADWATCH_SERVER__PORT", "8300")  # the full name beats the short one
    assert load_settings(config).server.port == 8300
    settings = load_settings(config, server={"port": 8400})  # command-line flags beat all
    assert settings.server.port == 8400
    assert settings.server.host == "0.0.0.0" and settings.logging.level == "debug"

    monkeypatch.setenv("LEADWATCH_CONFIG", str(config))
    assert load_settings().server.host == "0.0.0.0"


def test_the_promised_short_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LEADWATCH_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("LEADWATCH_DATABASE_URL", "postgresql://lw:pw@db:5432/lw")
    monkeypatch.setenv("LEADWATCH_ADMIN_TOKEN", "a" * 20)
    monkeypatch.setenv("LEADWATCH_PORT", "9001")
    settings = load_settings()
    assert settings.storage.data_dir == tmp_path / "d"
    assert settings.storage.uses_postgres
    assert settings.auth.admin_token is not None and settings.auth.admin_token.get_secret_value() == "a" * 20
    assert settings.server.port == 9001


def test_secrets_from_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LEADWATCH_ADMIN_TOKEN_FILE", str(write(tmp_path / "t", "from-a-file-0123456\n")))
    monkeypatch.setenv("LEADWATCH_STORAGE__DATABASE_URL_FILE", str(write(tmp_path / "u", "postgresql://u:secret@h/db")))
    settings = load_settings()
    assert settings.auth.admin_token.get_secret_value() == "from-a-file-0123456"  # type: ignore[union-attr]
    assert settings.storage.database_url.get_secret_value() == "postgresql://u:secret@h/db"  # type: ignore[union-attr]


def test_only_secrets_come_from_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LEADWATCH_SERVER__PORT_FILE", str(write(tmp_path / "p", "9000")))
    with pytest.raises(ConfigError, match="LEADWATCH_SERVER__PORT_FILE: .* not a secret"):
        load_settings()


def test_an_unreadable_secret_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LEADWATCH_ADMIN_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="LEADWATCH_ADMIN_TOKEN_FILE: cannot read"):
        load_settings()


@pytest.mark.parametrize(
    ("env", "value", "expected"),
    [
        ("LEADWATCH_SERVER__PORT", "99999", "server.port (env LEADWATCH_SERVER__PORT): Input should be less than or equal to 65535 (got '99999')"),
        ("LEADWATCH_PORT", "http", "server.port (env LEADWATCH_SERVER__PORT): Input should be a valid integer"),
        ("LEADWATCH_DATABASE_URL", "mysql://x@y/z", "storage.database_url (env LEADWATCH_STORAGE__DATABASE_URL): must be a postgresql:// URL"),
        ("LEADWATCH_LOGGING__LEVEL", "loud", "logging.level (env LEADWATCH_LOGGING__LEVEL): Input should be 'debug', 'info', 'warning' or 'error'"),
        ("LEADWATCH_STORAGE__FLUSH_INTERVAL_SECONDS", "0", "storage.flush_interval_seconds (env LEADWATCH_STORAGE__FLUSH_INTERVAL_SECONDS): Input should be greater than 0"),
        ("LEADWATCH_ADMIN_TOKEN", "short", "auth.admin_token (env LEADWATCH_AUTH__ADMIN_TOKEN): must be at least 16 characters"),
    ],
)
def test_bad_values_name_the_setting_and_the_rule(monkeypatch: pytest.MonkeyPatch, env: str, value: str, expected: str) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.problems[0].startswith(expected)


def test_secrets_are_not_echoed_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADWATCH_ADMIN_TOKEN", "hunter2")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "hunter2" not in str(caught.value)


def test_file_mistakes(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"server\.prot \(env LEADWATCH_SERVER__PROT\): Extra inputs are not permitted"):
        load_settings(write(tmp_path / "a.yaml", "server:\n  prot: 80\n"))
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(write(tmp_path / "b.yaml", "server: [\n"))
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_settings(write(tmp_path / "c.yaml", "- 1\n"))
    with pytest.raises(ConfigError, match=r"sites\.0\.timezone: must be an IANA time zone"):
        load_settings(write(tmp_path / "d.yaml", "sites:\n  - {id: a, name: A, timezone: Mars/Olympus}\n"))
    with pytest.raises(ConfigError, match="repeated: a"):
        load_settings(write(tmp_path / "e.yaml", "sites:\n  - {id: a, name: A}\n  - {id: a, name: B}\n"))
    assert load_settings(write(tmp_path / "empty.yaml", "")).server.port == 8000


def test_effective_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADWATCH_DATABASE_URL", "postgresql://lw:s3cret@db:5432/lw")
    monkeypatch.setenv("LEADWATCH_ADMIN_TOKEN", "t0ps3cret-t0ps3cret")
    shown = effective(load_settings())
    assert shown["auth"]["admin_token"] == "********"
    assert shown["storage"]["database_url"] == "postgresql://lw:***@db:5432/lw"
    assert "s3cret" not in str(shown)


@given(st.integers())
def test_any_port_is_accepted_or_refused_with_its_name(port: int) -> None:
    if 1 <= port <= 65535:
        assert load_settings(server={"port": port}).server.port == port
    else:
        with pytest.raises(ConfigError, match=r"^invalid settings:\n  server\.port"):
            load_settings(server={"port": port})
