"""What a lead submission may contain, and how a JSON body or an HTML form post
becomes one. Every field has a type and a length limit; email syntax is checked
without network lookups; unknown fields are ignored (and counted by the caller)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from leadwatch.marketing.touch import AttributionToken

CLICK_IDS = ("gclid", "fbclid", "msclkid")
MAX_EXPERIMENTS = 20
# HTML forms cannot nest: these prefixes carry the nested fields.
CONSENT_PREFIX, EXPERIMENT_PREFIX = "consent_", "exp_"
TRUE_WORDS = frozenset({"1", "true", "on", "yes"})

Text = Annotated[str, StringConstraints(strip_whitespace=True)]
Short = Annotated[Text | None, Field(default=None, max_length=200)]
Url = Annotated[Text | None, Field(default=None, max_length=2048)]
Utm = Annotated[Text | None, Field(default=None, max_length=200)]
ClickId = Annotated[Text | None, Field(default=None, max_length=512)]
_PHONE = re.compile(r"^[0-9+().\s/x-]{5,50}$", re.IGNORECASE)
_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class Consent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    marketing: bool = Field(False, description="May we send marketing email?")
    processing: bool = Field(False, description="May we process the data to answer?")
    policy_version: str | None = Field(None, max_length=32, description="Privacy policy shown.")


def normalize_email(value: str) -> str:
    """An address as leads store it (checked, normalised, lower case); ValueError names
    what is wrong. Whatever looks a person up by address must normalise it the same way."""
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    return checked.normalized.lower()


class LeadIn(BaseModel):
    """A contact-form submission (JSON or form fields of the same names)."""

    model_config = ConfigDict(extra="ignore")

    site_id: str | None = Field(
        None, max_length=63, description="The site (optional when only one is configured)."
    )
    name: Text = Field(min_length=1, max_length=200)
    email: str = Field(max_length=254, description="Checked for syntax only, never looked up.")
    phone: str | None = Field(None, max_length=50)
    company: Short = None
    company_size: str | None = Field(None, max_length=32, examples=["11-50"])
    industry: Short = None
    country: str | None = Field(None, description="ISO 3166 alpha-2", examples=["GB"])
    budget: str | None = Field(None, max_length=100)
    message: Annotated[Text | None, Field(default=None, max_length=5000)] = None
    consent: Consent | None = None
    page_url: Url = None
    referrer: Url = None
    utm_source: Utm = None
    utm_medium: Utm = None
    utm_campaign: Utm = None
    utm_term: Utm = None
    utm_content: Utm = None
    gclid: ClickId = None
    fbclid: ClickId = None
    msclkid: ClickId = None
    attribution_token: AttributionToken = None
    experiments: dict[str, str] | None = Field(
        None, description="Experiment -> variant the visitor saw (at most 20)."
    )
    form_token: str | None = Field(
        None, max_length=200, description="From GET /api/leads/form-token when the form rendered."
    )

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalize_email(value)

    @field_validator("phone", "company_size", "budget", "country", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is not None and (not _PHONE.match(value) or sum(c.isdigit() for c in value) < 5):
            raise ValueError("must be a phone number: digits, spaces and + ( ) . / - x")
        return value

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z]{2}", value):
            raise ValueError("must be an ISO 3166 alpha-2 code such as GB")
        return value.upper() if value else None

    @field_validator("experiments")
    @classmethod
    def _experiments(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if not value:
            return None
        if len(value) > MAX_EXPERIMENTS:
            raise ValueError(f"at most {MAX_EXPERIMENTS} experiments")
        if not all(_KEY.match(k) and _KEY.match(v) for k, v in value.items()):
            raise ValueError("names and variants must be 1-64 of A-Z a-z 0-9 _ . : -")
        return value

    def click_ids(self) -> dict[str, str]:
        return {c: v for c in CLICK_IDS if (v := getattr(self, c))}

    def text_fields(self) -> dict[str, str]:
        """Every free-text value a person typed or a page passed, for threat checks."""
        values = self.model_dump(include=set(TEXT_FIELDS))
        values.update({f"experiments.{k}": v for k, v in (self.experiments or {}).items()})
        if self.consent and self.consent.policy_version:
            values["consent.policy_version"] = self.consent.policy_version
        return {k: v for k, v in values.items() if isinstance(v, str) and v}


KNOWN_FIELDS = frozenset(LeadIn.model_fields)
TEXT_FIELDS = tuple(
    f for f in LeadIn.model_fields
    if f not in {"consent", "experiments", "attribution_token", "form_token"}
)


def from_form(items: list[tuple[str, Any]]) -> dict[str, Any]:
    """Form fields as the JSON shape: ``consent_*`` and ``exp_*`` nest; for a repeated
    field the last value counts; uploaded files are not fields (counted as unknown)."""
    data: dict[str, Any] = {}
    consent: dict[str, Any] = {}
    experiments: dict[str, str] = {}
    for key, value in items:
        if not isinstance(value, str):
            data[f"file:{key}"] = None
        elif key.startswith(CONSENT_PREFIX):
            name = key.removeprefix(CONSENT_PREFIX)
            consent[name] = value if name == "policy_version" else value.lower() in TRUE_WORDS
        elif key.startswith(EXPERIMENT_PREFIX):
            experiments[key.removeprefix(EXPERIMENT_PREFIX)] = value
        else:
            data[key] = value
    if consent:
        data["consent"] = consent
    if experiments:
        data["experiments"] = experiments
    return data
