"""The one settings model: defaults < YAML file < secret files < short env names
< ``LEADWATCH_<SECTION>__<KEY>`` < command-line flags.

Read once at start-up by :func:`load_settings`; a bad value raises
:class:`ConfigError` naming the setting, where it came from and what is valid.
Every field here must be documented in docs/configuration.md (tests/test_docs.py).
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "LEADWATCH_"
CONFIG_ENV = "LEADWATCH_CONFIG"

# Short names the design brief promises to honour, mapped to their place in the model.
SHORTCUTS: dict[str, tuple[str, str]] = {
    "LEADWATCH_DATA_DIR": ("storage", "data_dir"),
    "LEADWATCH_DATABASE_URL": ("storage", "database_url"),
    "LEADWATCH_ADMIN_TOKEN": ("auth", "admin_token"),
    "LEADWATCH_PORT": ("server", "port"),
}

POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


class ConfigError(Exception):
    """Settings that cannot be used; ``problems`` holds one line per bad setting."""

    def __init__(self, problems: list[str]):
        super().__init__("invalid settings:\n" + "\n".join(f"  {p}" for p in problems))
        self.problems = problems


class Section(BaseModel):
    # Unknown keys are typos: refuse them rather than silently ignore a setting.
    model_config = ConfigDict(extra="forbid", validate_default=True)


class ServerSettings(Section):
    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port to listen on.")
    public_url: str | None = Field(
        None, description="Base URL users reach leadwatch at, used in links it sends."
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, le=64 * 1_048_576, description="Largest request body accepted."
    )
    shutdown_timeout_seconds: float = Field(
        30.0, gt=0, le=600, description="Longest wait for in-flight requests at shutdown."
    )

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value


class StorageSettings(Section):
    data_dir: Path = Field(Path("data"), description="Directory of the embedded stores.")
    database_url: SecretStr | None = Field(
        None, description="postgresql:// URL; when set, records and events live in PostgreSQL."
    )
    auto_migrate: bool = Field(True, description="Apply pending migrations when serve starts.")
    flush_interval_seconds: float = Field(
        1.0, gt=0, le=60, description="Longest time an accepted event waits in the write buffer."
    )
    flush_batch_size: int = Field(
        5000, ge=1, le=1_000_000, description="Buffered events that trigger an early flush."
    )
    buffer_max_events: int = Field(
        500_000,
        ge=1000,
        description="Events the buffer holds before new writes are refused with 503.",
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        scheme = value.get_secret_value().split("://", 1)[0]
        if scheme not in POSTGRES_SCHEMES:
            raise ValueError(
                "must be a postgresql:// URL (leave it unset for embedded SQLite + DuckDB)"
            )
        return value

    @property
    def uses_postgres(self) -> bool:
        return self.database_url is not None


class AuthSettings(Section):
    admin_token: SecretStr | None = Field(
        None, description="Bearer token with admin rights, for scripts. At least 16 characters."
    )

    secret_key: SecretStr | None = Field(
        None,
        description="Key that signs tokens, cookies and links; generated and stored in the "
        "record store when unset. At least 32 characters.",
    )

    @field_validator("admin_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @field_validator("secret_key")
    @classmethod
    def _long_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters")
        return value


class LoggingSettings(Section):
    level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Lowest level of leadwatch's own log lines."
    )
    format: Literal["json", "console"] = Field(
        "json", description="json: one JSON object per line; console: coloured, for humans."
    )


class SiteSettings(Section):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="Short stable id.")
    name: str = Field(min_length=1, max_length=200, description="Display name.")
    domain: str | None = Field(None, max_length=253, description="The site's host name.")
    timezone: str = Field("UTC", description="IANA time zone for business hours and days.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone such as Europe/Berlin") from None
        return value


def _default_sites() -> list[SiteSettings]:
    return [SiteSettings(id="default", name="Default site")]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    server: ServerSettings = Field(default_factory=ServerSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    sites: list[SiteSettings] = Field(default_factory=_default_sites, min_length=1)

    @field_validator("sites")
    @classmethod
    def _unique_ids(cls, sites: list[SiteSettings]) -> list[SiteSettings]:
        ids = [s.id for s in sites]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise ValueError(f"site ids must be unique; repeated: {', '.join(duplicated)}")
        return sites

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        overrides, from_file = _layers.get()
        return (
            _DictSource(settings_cls, overrides),
            _WithoutFileVariables(settings_cls, env_settings),
            _ShortcutSource(settings_cls),
            _SecretFileSource(settings_cls),
            _DictSource(settings_cls, from_file),
        )


# The YAML file and command-line overrides for the settings being loaded now.
_layers: ContextVar[tuple[dict[str, Any], dict[str, Any]]] = ContextVar(
    "leadwatch_settings_layers", default=({}, {})
)


class _DictSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]):
        super().__init__(settings_cls)
        self.data = data

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self.data


class _WithoutFileVariables(_DictSource):
    """The ``LEADWATCH_<SECTION>__<KEY>`` variables, less the ``*_FILE`` ones, which
    :class:`_SecretFileSource` reads (and which would otherwise look like typos)."""

    def __init__(self, settings_cls: type[BaseSettings], env: PydanticBaseSettingsSource):
        data = env()
        for section in data.values():
            if isinstance(section, dict):
                for key in [k for k in section if k.endswith("_file")]:
                    del section[key]
        super().__init__(settings_cls, data)


class _ShortcutSource(_DictSource):
    def __init__(self, settings_cls: type[BaseSettings]):
        data: dict[str, Any] = {}
        for env, (section, key) in SHORTCUTS.items():
            if os.environ.get(env):
                data.setdefault(section, {})[key] = os.environ[env]
        super().__init__(settings_cls, data)


class _SecretFileSource(_DictSource):
    """``<NAME>_FILE`` holds the path of a file whose content is the secret NAME."""

    def __init__(self, settings_cls: type[BaseSettings]):
        data: dict[str, Any] = {}
        for env, path in os.environ.items():
            if not (env.startswith(ENV_PREFIX) and env.endswith("_FILE")) or env == CONFIG_ENV:
                continue
            target = env.removesuffix("_FILE")
            place = SHORTCUTS.get(target) or _place_of(target)
            if place is None or not is_secret(*place):
                raise ConfigError(
                    [f"{env}: {target} is not a secret setting; only secrets may come from a file"]
                )
            try:
                value = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise ConfigError([f"{env}: cannot read {path}: {exc.strerror}"]) from None
            data.setdefault(place[0], {})[place[1]] = value
        super().__init__(settings_cls, data)


def _place_of(env: str) -> tuple[str, str] | None:
    parts = env.removeprefix(ENV_PREFIX).lower().split("__")
    return (parts[0], parts[1]) if len(parts) == 2 else None


def is_secret(section: str, key: str) -> bool:
    model = Settings.model_fields.get(section)
    if model is None or not isinstance(model.annotation, type):
        return False
    field = model.annotation.model_fields.get(key)
    return field is not None and "SecretStr" in str(field.annotation)


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Read the settings once: YAML file (``config_file`` or ``$LEADWATCH_CONFIG``),
    environment and ``overrides`` (nested dicts, e.g. ``server={"port": 9000}``)."""
    path = config_file or os.environ.get(CONFIG_ENV)
    from_file = _read_yaml(Path(path)) if path else {}
    token = _layers.set((overrides, from_file))
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc)) from None
    finally:
        _layers.reset(token)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"config file {path}: {exc.strerror}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"config file {path}: not valid YAML: {exc}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"config file {path}: must be a mapping of sections"])
    return data


def describe_errors(exc: ValidationError) -> list[str]:
    """One line per problem: dotted setting name, its env variable, the reason."""
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        name = ".".join(loc) or "settings"
        env = ENV_PREFIX + "__".join(p.upper() for p in loc[:2])
        in_section = len(loc) == 2 and loc[0] != "sites"
        hint = f" (env {env})" if in_section else ""
        reason = err["msg"].removeprefix("Value error, ")
        shown = "" if in_section and is_secret(*loc) else _shown(err)
        lines.append(f"{name}{hint}: {reason}{shown}")
    return lines


def _shown(err: Any) -> str:
    value = err.get("input")
    if value is None or isinstance(value, dict | list):
        return ""
    return f" (got {value!r})"


def effective(settings: Settings) -> dict[str, Any]:
    """The settings as plain data with secrets masked, for ``config show``."""
    data = settings.model_dump(mode="json")
    for section, fields in data.items():
        if not isinstance(fields, dict):
            continue
        for key, value in fields.items():
            if value is not None and is_secret(section, key):
                fields[key] = _mask(section, key, getattr(getattr(settings, section), key))
    return data


def _mask(section: str, key: str, secret: SecretStr) -> str:
    if (section, key) == ("storage", "database_url"):
        from sqlalchemy.engine import make_url

        return make_url(secret.get_secret_value()).render_as_string(hide_password=True)
    return "********"
