"""The one settings model: defaults < YAML file < secret files < short env names
< ``LEADWATCH_<SECTION>__<KEY>`` < command-line flags.

Read once at start-up by :func:`load_settings`; a bad value raises
:class:`ConfigError` naming the setting, where it came from and what is valid.
Every field here must be documented in docs/configuration.md (tests/test_docs.py).
"""

from __future__ import annotations

import math
import os
import re
from contextvars import ContextVar
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
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

    @property
    def url(self) -> str:
        """Where this server answers: ``public_url``, else its own host and port."""
        if self.public_url:
            return self.public_url
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"


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
    history_snapshot_interval_seconds: float = Field(
        300.0,
        ge=5,
        le=3600,
        description="Standalone: how often the alert evaluator's and the Technical Operations "
        "page's metric histories are saved to data_dir/history/ (also at shutdown).",
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


class SecuritySettings(Section):
    """Threat detection and response (docs/security.md)."""

    enabled: bool = Field(
        True, description="Inspect requests to leadwatch itself and block, rate-limit, ban."
    )
    block_threats: list[Literal["sqli", "xss", "path_traversal", "probe", "scanner"]] = Field(
        ["sqli", "path_traversal"],
        description="Threats found in a request that refuse it with 403 (others are flagged).",
    )
    disabled_rules: list[str] = Field(
        [], description="Ids of detection rules (rules.yaml) to switch off."
    )
    trusted_proxies: list[str] = Field(
        [],
        description="Addresses or networks of reverse proxies whose X-Forwarded-For is believed.",
    )
    never_ban: list[str] = Field(
        ["127.0.0.0/8", "::1/128"],
        description="Addresses or networks never banned (automatically or by hand) nor rate-limited; "
        "their requests are still inspected and their detections recorded. The trusted proxies "
        "are never banned either.",
    )
    inspect_body_bytes: int = Field(
        65_536, ge=0, le=16 * 1_048_576,
        description="Largest form, JSON or multipart body the middleware inspects (0: bodies are not).",
    )
    body_inspected_by_route: list[str] = Field(
        ["/api/leads", "/collect", "/api/v1/events", "/api/v1/logs", "/api/v1/alertmanager/webhook"],
        description="Paths whose bodies the middleware leaves alone: their handlers inspect them "
        "(and store refused leads with a reason), or they carry attack strings as data (shipped logs).",
    )
    secret_fields: dict[str, list[str]] = Field(
        {"POST /api/v1/session": ["password"], "POST /ui/login": ["password"]},
        description='Body fields the middleware neither inspects nor keeps as evidence, by "METHOD /path": '
        "secrets that route only hashes (a strong password is any string, and one in 360 looks like SQL).",
    )
    failed_login_routes: list[str] = Field(
        ["POST /api/v1/session", "POST /ui/login"],
        description='Requests that are login attempts, as "METHOD /path".',
    )
    failed_login_statuses: list[int] = Field(
        # 429: leadwatch's own login answers it while the account is locked; an attacker
        # still guessing then must keep counting towards brute force (and a ban).
        [401, 403, 429], description="Answers to a login route that mean the login failed."
    )
    form_routes: list[str] = Field(
        ["POST /api/leads"], description='Form submissions counted for spam bursts, "METHOD /path".'
    )
    brute_force_failures: int = Field(
        20, ge=1, description="Failed logins from one address in the window that are brute force."
    )
    brute_force_window_seconds: float = Field(300, gt=0, description="Brute-force window.")
    stuffing_usernames: int = Field(
        10, ge=1, description="Distinct usernames failing from one address: credential stuffing."
    )
    stuffing_window_seconds: float = Field(600, gt=0, description="Credential-stuffing window.")
    flood_requests_per_minute: int = Field(
        1000, ge=1, description="Requests per minute from one address above which it is a flood."
    )
    flood_burst: int = Field(
        200, ge=1, description="Requests one address may send at once before rate limiting."
    )
    probing_requests: int = Field(
        20, ge=1, description="Probes or not-found answers from one address in the window: probing."
    )
    probing_window_seconds: float = Field(300, gt=0, description="Probing window.")
    form_spam_submissions: int = Field(
        10, ge=1, description="Form submissions from one address in the window: a spam burst."
    )
    form_spam_window_seconds: float = Field(600, gt=0, description="Form-spam window.")
    ban_threats: list[
        Literal["brute_force", "credential_stuffing", "probing", "flood", "form_spam"]
    ] = Field(
        ["brute_force", "credential_stuffing", "probing"],
        description="Detections that ban the address for ban_seconds.",
    )
    ban_seconds: int = Field(3600, ge=1, description="How long an automatic ban lasts.")
    ban_refresh_seconds: float = Field(
        5.0, gt=0, le=300, description="How often each replica reloads the bans of the others."
    )
    incident_window_seconds: int = Field(
        900, ge=1, description="Quiet seconds after which a contained incident ends."
    )
    incident_escalate_events: int = Field(
        100, ge=2, description="Events in one incident that raise its severity by one level."
    )
    notify_security: list[str] = Field(
        [], description="Receivers (notify.receivers) told of new incidents other than SQLi."
    )
    notify_developers: list[str] = Field(
        [], description="Receivers (notify.receivers) told of new SQL-injection incidents."
    )
    login_max_failures: int = Field(
        5, ge=1, description="Failed logins to one account before it is locked for a while."
    )
    login_lockout_seconds: float = Field(
        30, gt=0, description="First lockout; each further failure doubles it."
    )
    login_lockout_max_seconds: float = Field(
        3600, gt=0, description="Longest lockout after repeated failures."
    )
    session_max_age_seconds: int = Field(
        43_200, ge=60, description="Lifetime of a UI login session."
    )
    session_cookie_secure: Literal["auto", "always", "never"] = Field(
        "auto", description="Secure flag of the session cookie (auto: when the request is HTTPS)."
    )
    hsts_seconds: int = Field(
        31_536_000, ge=0, description="Strict-Transport-Security max-age on HTTPS (0: no header)."
    )
    content_security_policy: str = Field(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
        min_length=1,
        description="Content-Security-Policy of leadwatch's own responses.",
    )

    @field_validator("trusted_proxies", "never_ban")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return value

    @field_validator("failed_login_routes", "form_routes", "secret_fields")
    @classmethod
    def _routes(cls, value: Any) -> Any:
        for item in value:  # a list of routes, or a dict by route
            method, _, path = item.partition(" ")
            if not method.isupper() or not path.startswith("/"):
                raise ValueError(f'{item!r} must be "METHOD /path", e.g. "POST /login"')
        return value

    @field_validator("disabled_rules")
    @classmethod
    def _known_rules(cls, value: list[str]) -> list[str]:
        from leadwatch.security.detect import load_rules

        unknown = set(value) - {r.id for r in load_rules()}
        if unknown:
            raise ValueError(f"unknown rule ids: {', '.join(sorted(unknown))}")
        return value


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


# ---- notify: named receivers of notifications, delivered through the outbox ----

RECEIVER_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class WebhookReceiver(Section):
    kind: Literal["webhook"] = Field(description="A JSON POST to a URL.")
    url: str = Field(max_length=2048, description="http:// or https:// URL that receives the POST.")
    secret: SecretStr | None = Field(
        None,
        description="Signs each body: header X-Leadwatch-Signature: sha256=<hex HMAC-SHA256>.",
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra request headers (e.g. an API key)."
    )
    timeout_seconds: float = Field(10.0, gt=0, le=120, description="Longest wait for an answer.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value


class EmailReceiver(Section):
    kind: Literal["email"] = Field(description="An email through an SMTP server.")
    host: str = Field(min_length=1, max_length=253, description="SMTP server host name.")
    port: int = Field(587, ge=1, le=65535, description="SMTP server port.")
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls",
        description="starttls: upgrade with STARTTLS (refuse if not offered); tls: TLS from "
        "the start (port 465); none: plain text (only for a relay on the same host).",
    )
    username: str | None = Field(None, max_length=254, description="SMTP login, if required.")
    password: SecretStr | None = Field(None, description="SMTP password.")
    sender: str = Field(min_length=3, max_length=254, description="The From address.")
    to: list[str] = Field(min_length=1, max_length=50, description="Recipient addresses.")
    timeout_seconds: float = Field(30.0, gt=0, le=300, description="Longest wait per SMTP step.")
    verify_tls: bool = Field(True, description="Check the server's certificate.")


class PagerDutyReceiver(Section):
    kind: Literal["pagerduty"] = Field(description="PagerDuty Events API v2 (trigger/acknowledge/resolve).")
    routing_key: SecretStr = Field(description="The integration key of the PagerDuty service.")
    url: str = Field(
        "https://events.pagerduty.com/v2/enqueue",
        max_length=2048,
        description="Events API endpoint (tests point it at a local receiver).",
    )
    source: str = Field("leadwatch", max_length=255, description="The event's source field.")
    timeout_seconds: float = Field(10.0, gt=0, le=120, description="Longest wait for an answer.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return WebhookReceiver._http_url(value)


class SlackReceiver(Section):
    kind: Literal["slack"] = Field(description="A Slack incoming webhook (Block Kit with a text fallback).")
    webhook_url: SecretStr = Field(
        description="The incoming-webhook URL Slack gives (a secret: it lets anyone post)."
    )
    timeout_seconds: float = Field(10.0, gt=0, le=120, description="Longest wait for an answer.")

    @field_validator("webhook_url")
    @classmethod
    def _http_secret_url(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value


Receiver = Annotated[
    WebhookReceiver | EmailReceiver | PagerDutyReceiver | SlackReceiver, Field(discriminator="kind")
]


class NotifySettings(Section):
    receivers: dict[str, Receiver] = Field(
        default_factory=dict, description="Named receivers: name -> kind and its options."
    )
    max_attempts: int = Field(
        8, ge=1, le=100, description="Delivery attempts before a message is dead."
    )
    backoff_initial_seconds: float = Field(
        5.0, gt=0, le=3600, description="Wait before the first retry; doubles per attempt."
    )
    backoff_max_seconds: float = Field(
        3600.0, gt=0, le=86_400, description="Longest wait between attempts."
    )
    poll_interval_seconds: float = Field(
        2.0, gt=0, le=300, description="How often the worker looks for due messages."
    )
    lease_seconds: float = Field(
        300.0, ge=10, le=86_400, description="How long a claimed message is reserved for a worker."
    )

    @field_validator("receivers")
    @classmethod
    def _names(cls, receivers: dict[str, Any]) -> dict[str, Any]:
        bad = [n for n in receivers if not re.match(RECEIVER_NAME, n)]
        if bad:
            raise ValueError(f"receiver names must match {RECEIVER_NAME}; got {bad}")
        return receivers


# ---- leads: intake, defence, scoring and follow-up ----

TIERS = ("premium", "high", "standard", "low", "poor")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FACTORS = ("source", "engagement", "completion", "demographics")
Percent = Annotated[float, Field(ge=0, le=100)]
Tier = Literal["premium", "high", "standard", "low", "poor"]

_AUTOREPLY_BODY = (
    "Hello {{ name }},\n\nthank you for contacting {{ site }}. We have your message and "
    "will come back to you.\n\nThis is an automated reply.\n"
)


class AutoReplySettings(Section):
    enabled: bool = Field(False, description="Email the submitter of a lead an acknowledgement.")
    receiver: str | None = Field(
        None, description="The email receiver (notify.receivers) whose SMTP server sends it."
    )
    sender: str | None = Field(
        None, min_length=3, max_length=254, description="The From address (default: the receiver's)."
    )
    reply_to: str | None = Field(
        None, min_length=3, max_length=254, description="Where an answer to it goes (Reply-To)."
    )
    subject: str = Field(
        "Thank you for contacting {{ site }}", min_length=1, max_length=300,
        description="Subject template (Jinja2): name, company, site, domain.",
    )
    body: str = Field(
        _AUTOREPLY_BODY, min_length=1, max_length=20_000,
        description="Plain-text body template (Jinja2): name, company, site, domain.",
    )
    tiers: list[Tier] = Field(
        default_factory=lambda: ["low", "poor"],
        description="Tiers whose leads get it (those no salesperson follows up).",
    )
    require_processing_consent: bool = Field(
        True, description="Only to leads that gave processing consent (consent.processing)."
    )

    @field_validator("subject", "body")
    @classmethod
    def _template(cls, value: str) -> str:
        from leadwatch.leads.reply_template import check_template

        check_template(value)
        return value

    @model_validator(mode="after")
    def _receiver_when_enabled(self) -> AutoReplySettings:
        if self.enabled and self.receiver is None:
            raise ValueError("receiver is required when enabled: an email receiver in notify.receivers")
        return self


class LeadSiteSettings(Section):
    thank_you_url: str | None = Field(
        None, max_length=2048, description="Where form posts are redirected (303) after submit."
    )
    opens_at: time = Field(time(9, 0), description="Start of business hours (site time zone).")
    closes_at: time = Field(time(17, 0), description="End of business hours (site time zone).")
    business_days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"],
        min_length=1,
        description="Days with business hours.",
    )
    holidays: list[date] = Field(default_factory=list, description="Dates without business hours.")
    target_industries: list[str] = Field(
        default_factory=list, description="Industries that score as a demographic match."
    )
    target_countries: list[str] = Field(
        default_factory=list, description="ISO 3166 alpha-2 countries that score as a match."
    )
    sales_receivers: list[str] = Field(
        default_factory=list, description="notify receivers told at once of premium/high leads."
    )
    autoreply: AutoReplySettings = Field(
        default_factory=AutoReplySettings, description="The automated response to the submitter."
    )

    @field_validator("thank_you_url")
    @classmethod
    def _url_or_path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://", "/")):
            raise ValueError("must be an http(s):// URL or a path starting with /")
        return value

    @field_validator("target_industries")
    @classmethod
    def _folded(cls, values: list[str]) -> list[str]:
        return [v.strip().casefold() for v in values]

    @field_validator("target_countries")
    @classmethod
    def _alpha2(cls, values: list[str]) -> list[str]:
        upper = [v.strip().upper() for v in values]
        bad = [v for v in upper if not re.fullmatch(r"[A-Z]{2}", v)]
        if bad:
            raise ValueError(f"must be ISO 3166 alpha-2 codes; got {bad}")
        return upper

    @model_validator(mode="after")
    def _hours(self) -> LeadSiteSettings:
        if self.closes_at <= self.opens_at:
            raise ValueError("closes_at must be after opens_at")
        return self


def _default_weights() -> dict[str, float]:
    return {"source": 30, "engagement": 25, "completion": 25, "demographics": 20}


def _default_source_scores() -> dict[str, float]:
    return {"organic": 85, "referral": 80, "direct": 75, "email": 70, "social": 65,
            "paid": 60, "unknown": 50}


def _default_channel_sources() -> dict[str, str]:
    return {
        "Organic Search": "organic", "Paid Search": "paid", "Organic Social": "social",
        "Paid Social": "paid", "Email": "email", "Referral": "referral", "Direct": "direct",
        "Display": "paid", "AI Assistants": "referral", "Unassigned": "unknown",
    }


def _default_size_scores() -> dict[str, float]:
    return {"1-10": 40, "11-50": 70, "51-200": 90, "201-1000": 100, "1001+": 85}


class ScoringSettings(Section):
    weights: dict[str, Percent] = Field(
        default_factory=_default_weights,
        description="Weight of each factor in percent (source, engagement, completion, "
        "demographics); they sum to 100.",
    )
    source_scores: dict[str, Percent] = Field(
        default_factory=_default_source_scores, description="Sub-score of each traffic source."
    )
    channel_sources: dict[str, str] = Field(
        default_factory=_default_channel_sources,
        description="Which traffic source each channel counts as.",
    )
    engagement_neutral: Percent = Field(
        50, description="Engagement sub-score when the visitor's session is unknown."
    )
    engagement_full_seconds: float = Field(
        300, gt=0, description="Time on site that earns the full time share (40)."
    )
    engagement_full_pages: int = Field(
        5, ge=1, description="Pages viewed that earn the full pages share (40)."
    )
    completion_base: Percent = Field(55, description="Completion sub-score of name + email.")
    completion_phone: Percent = Field(15, description="Added when a phone is given.")
    completion_company: Percent = Field(10, description="Added when a company is given.")
    completion_budget: Percent = Field(20, description="Added when a budget is given.")
    company_size_scores: dict[str, Percent] = Field(
        default_factory=_default_size_scores, description="Sub-score of each company size band."
    )
    demographic_unknown: Percent = Field(50, description="Score of a demographic not given.")
    demographic_match: Percent = Field(100, description="Score of a target industry/country.")
    demographic_miss: Percent = Field(30, description="Score of a non-target industry/country.")

    @field_validator("weights")
    @classmethod
    def _four_factors(cls, weights: dict[str, float]) -> dict[str, float]:
        if set(weights) != set(FACTORS):
            raise ValueError(f"must name exactly the factors {', '.join(FACTORS)}")
        if abs(sum(weights.values()) - 100) > 1e-6:
            raise ValueError(f"must sum to 100 (they sum to {sum(weights.values())})")
        return weights

    @model_validator(mode="after")
    def _sources_scored(self) -> ScoringSettings:
        unscored = sorted(set(self.channel_sources.values()) - set(self.source_scores))
        if unscored or "unknown" not in self.source_scores:
            raise ValueError(f"source_scores needs a score for unknown and {unscored}")
        return self


class LeadsSettings(Section):
    sites: dict[str, LeadSiteSettings] = Field(
        default_factory=dict, description="Per-site lead settings, keyed by site id."
    )
    min_submit_seconds: float = Field(
        3.0, ge=0, le=3600, description="Forms submitted sooner after rendering are spam."
    )
    require_form_token: bool = Field(
        False, description="Refuse submissions without a form token (as spam_no_token)."
    )
    form_token_max_age_seconds: int = Field(
        86_400, ge=60, description="Oldest form token accepted."
    )
    honeypot_field: str = Field(
        "website", pattern=r"^[a-z_][a-z0-9_]{0,39}$", description="Name of the honeypot field."
    )
    max_body_bytes: int = Field(
        65_536, ge=4096, le=1_048_576, description="Largest lead submission body (413 above)."
    )
    rate_limit_window_seconds: int = Field(
        3600, ge=1, le=86_400 * 7, description="Window of the per-IP and per-email limits."
    )
    rate_limit_per_ip: int = Field(
        10, ge=1, description="Submissions one IP address may make per window."
    )
    rate_limit_per_email: int = Field(
        5, ge=1, description="Submissions one email address may make per window."
    )
    duplicate_window_hours: float = Field(
        24, ge=0, le=24 * 365, description="A repeat of an email within this is a duplicate."
    )
    premium_response_minutes: int = Field(
        15, ge=0, le=1440, description="Business minutes sales has to call a premium lead."
    )
    notify_tiers: list[Literal["premium", "high", "standard", "low", "poor"]] = Field(
        default_factory=lambda: ["premium", "high"],
        description="Tiers whose leads notify the site's sales receivers at once.",
    )
    scoring: ScoringSettings = Field(default_factory=ScoringSettings)

    def site(self, site_id: str) -> LeadSiteSettings:
        return self.sites.get(site_id) or _DEFAULT_LEAD_SITE


_DEFAULT_LEAD_SITE = LeadSiteSettings()


# ---- dashboards: the web UI's refresh, history and status thresholds ----


class Threshold(Section):
    """Where a number turns yellow (``warn``) and red (``critical``). When
    ``critical`` is above ``warn`` higher is worse; when below, lower is worse."""

    warn: float = Field(description="The value at which the status turns yellow.")
    critical: float = Field(description="The value at which the status turns red.")

    @model_validator(mode="after")
    def _distinct(self) -> Threshold:
        if self.warn == self.critical:
            raise ValueError("warn and critical must differ (their order gives the direction)")
        return self


def _default_thresholds() -> dict[str, Threshold]:
    return {name: Threshold(warn=w, critical=c) for name, (w, c) in DEFAULT_THRESHOLDS.items()}


# name: (warn, critical). The 0.5 s latency matches the latency SLO's bucket edge.
DEFAULT_THRESHOLDS: dict[str, tuple[float, float]] = {
    "error_rate": (0.01, 0.05),
    "latency_p95_seconds": (0.5, 1.0),
    "cpu_percent": (70, 90),
    "memory_percent": (80, 90),
    "disk_percent": (80, 90),
    "buffer_fill": (0.5, 0.9),
    "ingest_lag_seconds": (300, 3600),
}


class DashboardsSettings(Section):
    refresh_seconds: int = Field(
        30, ge=0, le=3600, description="Default auto-refresh of UI pages; 0 turns it off."
    )
    sample_interval_seconds: float = Field(
        15, ge=1, le=300, description="How often the UI samples leadwatch's metrics and the host."
    )
    history_hours: float = Field(
        24, gt=0, le=168, description="How much of that sampled history the process keeps."
    )
    tail_delay_seconds: float = Field(
        5, ge=0, le=300, description="The Logs live tail shows lines once they are this old (late writes)."
    )
    thresholds: dict[str, Threshold] = Field(
        default_factory=_default_thresholds,
        description="Status colours per number: name -> warn and critical; names not given "
        "keep their defaults.",
    )

    @field_validator("thresholds")
    @classmethod
    def _known_names(cls, given: dict[str, Threshold]) -> dict[str, Threshold]:
        unknown = sorted(set(given) - set(DEFAULT_THRESHOLDS))
        if unknown:
            raise ValueError(f"unknown thresholds {unknown}; known: {sorted(DEFAULT_THRESHOLDS)}")
        return {**_default_thresholds(), **given}


def _default_sites() -> list[SiteSettings]:
    return [SiteSettings(id="default", name="Default site")]


# ---- alerting: the alert catalogue's thresholds, the evaluator, escalation ----

TIER_NAMES = ("critical", "warning", "info")


class EscalationStep(Section):
    after_seconds: int = Field(
        ge=0, le=7 * 86_400, description="Seconds after the incident opened that this step runs."
    )
    receivers: list[str] = Field(
        min_length=1, description="notify receivers told at this step (names in notify.receivers)."
    )


def _default_escalation() -> dict[str, list[EscalationStep]]:
    # The business's policy: who hears of an unacknowledged incident, and when.
    step = EscalationStep
    return {
        "critical": [
            step(after_seconds=0, receivers=["pagerduty-oncall"]),
            step(after_seconds=300, receivers=["slack-incidents-critical"]),
            step(after_seconds=600, receivers=["email-engineering-leadership"]),
            step(after_seconds=900, receivers=["incident-commander"]),
        ],
        "warning": [
            step(after_seconds=0, receivers=["slack-team"]),
            step(after_seconds=900, receivers=["email-team"]),
            step(after_seconds=3600, receivers=["email-team-lead"]),
        ],
        "info": [step(after_seconds=0, receivers=["slack-monitoring"])],
    }


class AlertingSettings(Section):
    embedded_evaluator: bool = Field(
        True,
        description="Evaluate the alert catalogue inside leadwatch (standalone). Turn off in "
        "stack mode, where Prometheus evaluates the generated rules and Alertmanager posts "
        "to /api/v1/alertmanager/webhook.",
    )
    evaluation_interval_seconds: float = Field(
        15.0, ge=1, le=300, description="How often the embedded evaluator runs."
    )
    resolve_after_seconds: float = Field(
        60.0,
        ge=0,
        le=3600,
        description="Hysteresis: a firing alert resolves only after its condition has been "
        "false this long, so a flapping signal does not open and close incidents.",
    )
    for_outage_tolerance_seconds: float = Field(
        3600.0,
        ge=0,
        le=7 * 86_400,
        description="Standalone: after a restart, alert states (pending, firing, since when) are "
        "restored from the snapshot only if leadwatch was down at most this long, as Prometheus' "
        "--rules.alert.for-outage-tolerance; beyond it they start afresh.",
    )
    catalogue_file: Path | None = Field(
        None,
        description="YAML file of overrides to the shipped alert catalogue and SLO specs "
        "(change for, severity, summary; disable an alert; add or change an SLO).",
    )
    runbook_base_url: str = Field(
        "https://github.com/leadwatch/leadwatch/blob/main/docs/runbooks",
        description="Base URL of the runbooks; an alert's runbook_url is <base>/<runbook>.md.",
    )
    group_by: list[str] = Field(
        default_factory=lambda: ["alertname", "service"],
        min_length=1,
        description="Labels whose values make one incident (and one Alertmanager group).",
    )
    escalation: dict[Literal["critical", "warning", "info"], list[EscalationStep]] = Field(
        default_factory=_default_escalation,
        description="Per tier, the steps of escalation that run until someone acknowledges.",
    )
    escalation_time_scale: float = Field(
        1.0,
        ge=1,
        le=3600,
        description="Divides every escalation delay (60: a 5-minute step runs after 5 s), for "
        "drills and tests; 1 in production.",
    )
    link_ttl_seconds: int = Field(
        7 * 86_400, ge=60, le=90 * 86_400, description="How long signed acknowledge links work."
    )
    site_down_for_seconds: int = Field(
        30, ge=0, le=3600, description="SiteDown: how long the site must be unreachable."
    )
    conversion_drop_ratio: float = Field(
        0.3, gt=0, lt=1, description="CriticalConversionDrop: lead rate below this share of the baseline."
    )
    conversion_baseline_weeks: int = Field(
        2,
        ge=1,
        le=8,
        description="CriticalConversionDrop: weeks averaged for the same-hour baseline (Prometheus "
        "must retain that many weeks plus an hour).",
    )
    conversion_min_hourly_page_views: int = Field(
        100, ge=0, description="Minimum-traffic guard: page views in the last hour before the drop alert may fire."
    )
    conversion_min_daily_visitors: int = Field(
        200, ge=0, description="ConversionRateBelowTarget: a site's visitors in the last 24 hours "
        "before it may fire (its target is collect.conversion_target)."
    )
    lcp_p75_seconds: float = Field(2.5, gt=0, description="WebVitalsLCP: p75 threshold.")
    cls_p75: float = Field(0.1, gt=0, description="WebVitalsCLS: p75 threshold.")
    inp_p75_seconds: float = Field(0.2, gt=0, description="WebVitalsINP: p75 threshold.")
    fid_p75_seconds: float = Field(0.1, gt=0, description="WebVitalsFID: p75 threshold.")
    vitals_min_samples: int = Field(
        20, ge=0, description="Measurements in the last hour before a Web Vitals alert may fire."
    )
    availability_min: float = Field(
        0.995, gt=0, lt=1, description="AvailabilitySLOBreach: availability over the last hour."
    )
    latency_p95_seconds: float = Field(0.5, gt=0, description="LatencySLOBreach: p95 threshold.")
    error_ratio_max: float = Field(0.01, gt=0, lt=1, description="ErrorRateHigh: 5xx ratio threshold.")
    min_requests: int = Field(
        20, ge=0, description="Requests in the window before a request-ratio alert may fire."
    )

    @field_validator("runbook_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        return ServerSettings._http_url(value)


# ---- collect: the /lw.js snippet, POST /collect and the analytics built on it ----

VITALS = ("LCP", "INP", "CLS", "FCP", "TTFB", "FID")


def _default_vitals_budget() -> dict[str, float]:
    # The "good" thresholds: seconds for timings, unitless for CLS.
    return {"LCP": 2.5, "INP": 0.2, "CLS": 0.1, "FCP": 1.8, "TTFB": 0.8, "FID": 0.1}


class CollectSiteSettings(Section):
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Origins (scheme://host[:port]) whose pages may send events to /collect "
        "(CORS); empty allows only the site's own domain over https.",
    )
    consent_required: bool = Field(
        False, description="The snippet sends nothing until the page calls lw('consent', true)."
    )
    funnel_pages: list[str] = Field(
        default_factory=lambda: ["/", "/services/*", "/contact*"],
        min_length=1,
        max_length=10,
        description="Page steps of the funnel before form start and lead (paths; * matches any "
        "characters).",
    )

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, values: list[str]) -> list[str]:
        bad = [v for v in values if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?", v)]
        if bad:
            raise ValueError(f"must be origins like https://www.example.com; got {bad}")
        return [v.lower() for v in values]


class ExperimentSettings(Section):
    alpha: float = Field(
        0.05, gt=0, lt=0.5, description="Significance level of the A/B tests' two-sided z-test."
    )
    power: float = Field(
        0.8, ge=0.5, lt=1, description="Power wanted when estimating the sample size still needed."
    )
    minimum_effect: float = Field(
        0.1, gt=0, le=10,
        description="Smallest relative lift worth detecting (0.1 = 10 %), for the sample size.",
    )
    controls: dict[str, str] = Field(
        default_factory=dict,
        description="Control variant per experiment name (default: a variant named 'control', "
        "else the first in alphabetical order).",
    )
    weights: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="Intended share of visitors per variant, per experiment name (e.g. "
        "{'pricing': {'control': 90, 'new': 10}}), for the sample-ratio-mismatch check "
        "(default: an equal split).",
    )

    @field_validator("weights")
    @classmethod
    def _positive_weights(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for name, shares in value.items():
            if not shares or any(not math.isfinite(w) or w <= 0 for w in shares.values()):
                raise ValueError(f"{name}: every variant's weight must be a positive number")
        return value


class CollectSettings(Section):
    sites: dict[str, CollectSiteSettings] = Field(
        default_factory=dict, description="Per-site collector settings, keyed by site id."
    )
    max_body_bytes: int = Field(
        65_536, ge=1024, le=1_048_576, description="Largest /collect request body (413 above)."
    )
    max_batch_events: int = Field(
        50, ge=1, le=1000, description="Most events in one /collect batch (413 above)."
    )
    drop_bots: bool = Field(True, description="Drop events from bots, crawlers and headless browsers.")
    session_timeout_minutes: int = Field(
        30, ge=1, le=24 * 60, description="Inactivity after which a visitor's session ends."
    )
    geo_databases: list[Path] = Field(
        default_factory=list,
        description="MaxMind/DB-IP .mmdb files (City, Country, ASN) for region, city and network.",
    )
    attribution_lookback_days: int = Field(
        90, ge=1, le=730, description="Touches older than this before a lead get no credit."
    )
    conversion_target: float = Field(
        0.03, gt=0, le=1, description="Target conversion rate (leads / visitors)."
    )
    vitals_budget: dict[str, float] = Field(
        default_factory=_default_vitals_budget,
        description="Budget per Web Vital (seconds; CLS unitless) for the compliance share.",
    )
    experiments: ExperimentSettings = Field(
        default_factory=ExperimentSettings, description="A/B test analysis."
    )

    @field_validator("geo_databases")
    @classmethod
    def _readable(cls, paths: list[Path]) -> list[Path]:
        absent = [str(p) for p in paths if not p.expanduser().is_file()]
        if absent:
            raise ValueError(f"no such file: {', '.join(absent)}")
        return [p.expanduser().absolute() for p in paths]

    @field_validator("vitals_budget")
    @classmethod
    def _known_vitals(cls, budget: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(budget) - set(VITALS))
        if unknown or any(v <= 0 for v in budget.values()):
            raise ValueError(f"keys must be among {', '.join(VITALS)} with positive values")
        return {**_default_vitals_budget(), **budget}

    def site(self, site_id: str) -> CollectSiteSettings:
        return self.sites.get(site_id) or _DEFAULT_COLLECT_SITE


_DEFAULT_COLLECT_SITE = CollectSiteSettings()


# ---- marketing: spend budgets (channel ROI) and the value of a lead (revenue impact) ----

MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
# Spend periods (and revenue-impact ranges) stay clear of the calendar's ends, so day
# and week arithmetic on them cannot overflow.
YEARS = (1971, 9998)


class SpendBudget(Section):
    """Spend on one channel (optionally one campaign) over a month or a date range."""

    channel: str = Field(min_length=1, max_length=32, description="The channel the money was spent on.")
    campaign: str | None = Field(None, min_length=1, max_length=200, description="Only this campaign.")
    month: str | None = Field(None, pattern=MONTH, description="A calendar month, YYYY-MM.")
    start: date | None = Field(None, description="First day of a date range (with end).")
    end: date | None = Field(None, description="Last day of a date range, inclusive.")
    amount: float = Field(gt=0, le=1e12, description="The amount spent in the period (site currency).")

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, value: str) -> str:
        from leadwatch.marketing.channels import CHANNELS

        if value not in CHANNELS:
            raise ValueError(f"must be one of {', '.join(CHANNELS)}")
        return value

    @model_validator(mode="after")
    def _one_period(self) -> SpendBudget:
        if (self.month is None) == (self.start is None and self.end is None):
            raise ValueError("give either month or start and end")
        if self.month is None and (self.start is None or self.end is None or self.start > self.end):
            raise ValueError("start and end must both be given, start on or before end")
        years = [int(self.month[:4])] if self.month else [d.year for d in (self.start, self.end) if d]
        if any(not YEARS[0] <= y <= YEARS[1] for y in years):
            raise ValueError(f"the period must lie in the years {YEARS[0]} to {YEARS[1]}")
        return self


class MarketingSiteSettings(Section):
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$", description="ISO 4217 code of every amount of the site.")
    average_deal_value: float | None = Field(
        None, gt=0, description="Value of a won deal when too few outcomes are recorded to measure it."
    )
    win_rate: float | None = Field(
        None, gt=0, le=1, description="Lead-to-win rate when too few outcomes are recorded to measure it."
    )
    spend: list[SpendBudget] = Field(default_factory=list, description="Static spend budgets.")


class MarketingSettings(Section):
    sites: dict[str, MarketingSiteSettings] = Field(
        default_factory=dict, description="Per-site currency, deal value, win rate and spend, by site id."
    )
    min_outcomes: int = Field(
        20, ge=1, le=100_000,
        description="Outcomes (won or lost leads) needed before the win rate and deal value are measured.",
    )
    outcome_window_days: int = Field(
        365, ge=7, le=3650, description="Leads of this many past days give the measured win rate and deal value."
    )

    def site(self, site_id: str) -> MarketingSiteSettings:
        return self.sites.get(site_id) or _DEFAULT_MARKETING_SITE


_DEFAULT_MARKETING_SITE = MarketingSiteSettings()


LOG_DATASETS = ("application", "access", "security", "business-events", "web-vitals", "dead-letter")


def _default_log_retention() -> dict[str, int]:
    return {
        "application": 30,
        "access": 90,
        "security": 365,
        "business-events": 730,
        "web-vitals": 90,
        "dead-letter": 14,
    }


class LogSourceSettings(Section):
    path: Path = Field(description="A log file the server tails, following rotation.")
    format: Literal["auto", "combined", "nginx-json", "json"] = Field(
        "auto", description="Line format; auto decides per line."
    )
    site: str = Field("default", description="Site id given to the file's records.")

    @field_validator("path")
    @classmethod
    def _absolute_path(cls, value: Path) -> Path:
        return value.expanduser().absolute()


class LogsSettings(Section):
    sources: list[LogSourceSettings] = Field(
        default_factory=list, description="Log files the running server tails itself."
    )
    sinks: list[Literal["eventstore", "ndjson", "elasticsearch"]] = Field(
        default_factory=lambda: ["eventstore"],
        min_length=1,
        description="Where parsed records go (every one listed).",
    )
    index_prefix: str = Field(
        "reboot",
        pattern=r"^[a-z0-9][a-z0-9_-]{0,40}$",
        description="Prefix of NDJSON file and Elasticsearch index names: <prefix>-<dataset>-*.",
    )
    ndjson_dir: Path | None = Field(
        None, description="Directory of the NDJSON files; default <data_dir>/logs/ndjson."
    )
    elasticsearch_hosts: list[str] = Field(
        default_factory=list, description="Elasticsearch URLs for the elasticsearch sink."
    )
    elasticsearch_api_key: SecretStr | None = Field(
        None, description="API key (base64 id:key) the elasticsearch sink authenticates with."
    )
    retention_days: dict[str, int] = Field(
        default_factory=_default_log_retention,
        description="Days each dataset's records are kept before the purge job deletes them.",
    )
    purge_interval_seconds: float = Field(
        3600.0, ge=1, le=86_400, description="How often the purge job runs."
    )
    poll_interval_seconds: float = Field(
        1.0, gt=0, le=60, description="How often tailed files are checked for new lines."
    )
    batch_lines: int = Field(
        2000, ge=1, le=100_000, description="Lines parsed and written as one batch."
    )
    business_events: list[str] = Field(
        default_factory=lambda: ["lead_created", "lead_qualified", "form_submitted"],
        description="Application log messages that go to the business-events dataset.",
    )

    @field_validator("elasticsearch_hosts")
    @classmethod
    def _es_urls(cls, values: list[str]) -> list[str]:
        bad = [v for v in values if not v.startswith(("http://", "https://"))]
        if bad:
            raise ValueError(f"must be http:// or https:// URLs; got {bad}")
        return values

    @field_validator("retention_days")
    @classmethod
    def _known_datasets(cls, days: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(days) - set(LOG_DATASETS))
        if unknown or any(not 1 <= d <= 36_500 for d in days.values()):
            raise ValueError(
                f"keys must be among {', '.join(LOG_DATASETS)} with 1 to 36500 days"
            )
        return {**_default_log_retention(), **days}

    @model_validator(mode="after")
    def _es_needs_hosts(self) -> LogsSettings:
        if "elasticsearch" in self.sinks and not self.elasticsearch_hosts:
            raise ValueError("the elasticsearch sink needs logs.elasticsearch_hosts")
        return self


# ---- privacy: data-subject requests and the retention of personal data (docs/privacy.md) ----


class PrivacySettings(Section):
    lead_retention_days: int | None = Field(
        None, ge=1, le=36_500,
        description="Days after which a lead's personal fields are anonymised; None keeps them.",
    )
    retention_interval_seconds: float = Field(
        3600.0, ge=60, le=86_400, description="How often the retention job runs."
    )


# ---- demo: the Reboot Media demo site and its traffic simulator (serve --demo) ----


class DemoSettings(Section):
    enabled: bool = Field(
        False, description="Serve the demo site under /demo/ and run its traffic simulator."
    )
    site_id: str = Field(
        "reboot-media-demo", pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="Site id of the demo site; every demo row carries it (demo reset deletes them).",
    )
    speed: float = Field(
        60.0, ge=1, le=10_000,
        description="Time acceleration of live demo traffic (simulated seconds per real second).",
    )
    visitors_per_day: int = Field(
        80, ge=0, le=5000, description="Simulated visitors per simulated day."
    )
    backfill_days: int = Field(
        30, ge=0, le=90, description="Days of history the simulator writes at start-up."
    )
    attacks_per_day: float = Field(
        4.0, ge=0, le=100,
        description="Simulated attacks (scanners, injections, form spam, floods) per simulated day.",
    )
    access_logs: bool = Field(
        True, description="Write the demo site's access log through the log pipeline."
    )
    seed: int | None = Field(None, description="Random seed of the simulator (None: random).")


# ---- synthetic: scripted journeys, probes from several locations, the status page ----

LOCATION_NAME = r"^[a-z0-9][a-z0-9-]{0,31}$"


class SyntheticSettings(Section):
    enabled: bool = Field(True, description="The server runs the journeys itself (scheduler).")
    location: str = Field(
        "us-east", pattern=LOCATION_NAME, description="Location name of the server's own runs."
    )
    locations: list[str] = Field(
        default_factory=lambda: ["us-east", "us-west", "europe"],
        min_length=1,
        max_length=50,
        description="Locations that may report results (the server's own and remote probes').",
    )
    default_journeys: bool = Field(
        True, description="Run the four built-in journeys (contact form, SEO, API, Web Vitals)."
    )
    journeys_dir: Path | None = Field(
        None, description="Directory of journey *.yaml files, added to the built-in ones."
    )
    target_url: str | None = Field(
        None,
        description="Base URL of the site the built-in journeys visit; default https://<domain> "
        "of the first site, or leadwatch's demo site under --demo.",
    )
    api_url: str | None = Field(
        None,
        description="Base URL of the API the api-health journey checks; default this server.",
    )
    jitter_fraction: float = Field(
        0.1, ge=0, le=0.5, description="Each run starts up to this share of its period late."
    )
    workers: int = Field(4, ge=1, le=64, description="Journeys run at the same time, at most.")
    browser_pool_size: int = Field(
        2, ge=1, le=16, description="Chromium instances open at the same time, at most."
    )
    chromium_path: Path = Field(
        Path("/usr/bin/chromium"), description="The Chromium binary browser steps drive."
    )
    artifacts_dir: Path | None = Field(
        None, description="Where failed browser runs keep screenshot + trace; default <data_dir>/synthetic."
    )
    artifacts_keep: int = Field(
        200, ge=1, le=100_000, description="Failed runs whose artefacts are kept (newest first)."
    )
    dead_after_seconds: float = Field(
        300.0, ge=1, le=86_400, description="A location silent this long is marked down."
    )
    status_page: bool = Field(True, description="Serve the public status page at /status.")
    status_title: str = Field(
        "Service status", min_length=1, max_length=120, description="Title of the status page."
    )

    @field_validator("locations")
    @classmethod
    def _location_names(cls, values: list[str]) -> list[str]:
        bad = [v for v in values if not re.match(LOCATION_NAME, v)]
        if bad:
            raise ValueError(f"location names must match {LOCATION_NAME}; got {bad}")
        return list(dict.fromkeys(values))

    @field_validator("target_url", "api_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        return ServerSettings._http_url(value)

    @field_validator("journeys_dir", "artifacts_dir")
    @classmethod
    def _absolute_dir(cls, value: Path | None) -> Path | None:
        return value.expanduser().absolute() if value else value

    @model_validator(mode="after")
    def _own_location_listed(self) -> SyntheticSettings:
        if self.location not in self.locations:
            raise ValueError(f"location {self.location!r} must be one of locations")
        return self


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
    alerting: AlertingSettings = Field(default_factory=AlertingSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    sites: list[SiteSettings] = Field(default_factory=_default_sites, min_length=1)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    leads: LeadsSettings = Field(default_factory=LeadsSettings)
    dashboards: DashboardsSettings = Field(default_factory=DashboardsSettings)
    collect: CollectSettings = Field(default_factory=CollectSettings)
    marketing: MarketingSettings = Field(default_factory=MarketingSettings)
    logs: LogsSettings = Field(default_factory=LogsSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    synthetic: SyntheticSettings = Field(default_factory=SyntheticSettings)
    demo: DemoSettings = Field(default_factory=DemoSettings)

    @field_validator("sites")
    @classmethod
    def _unique_ids(cls, sites: list[SiteSettings]) -> list[SiteSettings]:
        ids = [s.id for s in sites]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise ValueError(f"site ids must be unique; repeated: {', '.join(duplicated)}")
        return sites

    @model_validator(mode="after")
    def _leads_refer_to_known_names(self) -> Settings:
        # Lead settings name sites and receivers defined elsewhere: a typo must fail here.
        problems = [
            f"leads.sites.{sid}: no site with this id in sites" for sid in self.leads.sites
            if sid not in {s.id for s in self.sites}
        ] + [
            f"leads.sites.{sid}.sales_receivers: no receiver {r!r} in notify.receivers"
            for sid, site in self.leads.sites.items()
            for r in site.sales_receivers
            if r not in self.notify.receivers
        ] + [
            f"leads.sites.{sid}.autoreply.receiver: {site.autoreply.receiver!r} is not an email "
            "receiver in notify.receivers"
            for sid, site in self.leads.sites.items()
            if site.autoreply.receiver is not None
            and getattr(self.notify.receivers.get(site.autoreply.receiver), "kind", None) != "email"
        ] + [
            f"marketing.sites.{sid}: no site with this id in sites" for sid in self.marketing.sites
            if sid not in {s.id for s in self.sites}
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

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
