"""The journey format: a YAML document naming a journey, its schedule, SLO, locations,
alert thresholds and steps. Each step is exactly one of ``http``, ``browser``, ``tls``
or ``dns``. Strings may use ``${name}`` variables: the journey's ``variables``, the
built-in ``site_url`` and ``api_url``, and values captured by earlier steps.

Loading validates everything up front; a mistake raises :class:`JourneyError` with
one line per problem naming the file and the field (``steps[2].http.expect.status``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from leadwatch.web.errors import field_name

NAME = r"^[a-z0-9][a-z0-9-]{0,62}$"
STEP_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"
# The step label of a whole run's duration in leadwatch_probe_duration_seconds.
TOTAL_STEP = "total"
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


class JourneyError(ValueError):
    """Journeys that cannot be used; ``problems`` holds one line per mistake."""

    def __init__(self, problems: list[str]):
        super().__init__("invalid journeys:\n" + "\n".join(f"  {p}" for p in problems))
        self.problems = problems


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string such as ``30s``, ``2m``, ``1h``, ``500ms``."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 30s, 2m or 1h")
    if isinstance(value, int | float):
        return float(value)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*", str(value))
    if not match:
        raise ValueError("must be a duration such as 30s, 2m or 1h")
    return float(match.group(1)) * _UNITS[match.group(2)]


Duration = Annotated[float, BeforeValidator(parse_duration)]


class Spec(BaseModel):
    # A misspelt key must fail loudly, not leave a check silently unchecked.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def _one_of(model: BaseModel, names: tuple[str, ...]) -> str:
    given = [n for n in names if getattr(model, n) is not None]
    if len(given) != 1:
        raise ValueError(f"needs exactly one of {', '.join(names)} (got {len(given)})")
    return given[0]


class MetaExpect(Spec):
    """What a page's head must declare. ``true``: present and not empty; a string:
    present and containing it; ``false``: not checked."""

    title: bool | str = True
    description: bool | str = True
    canonical: bool | str = True
    open_graph: list[str] = Field(
        default_factory=lambda: ["og:title", "og:description", "og:url"],
        description="Open Graph properties that must be present and not empty.",
    )
    robots: str | None = Field(
        None, description="Comma-separated directives the robots meta tag must hold (index, follow)."
    )
    h1: int | None = Field(1, ge=0, description="Exact number of h1 elements; null: not checked.")


class HttpExpect(Spec):
    status: int | list[int] | None = Field(
        None, description="Expected final status (or any of a list); default any below 400."
    )
    body_contains: list[str] = Field(default_factory=list)
    body_not_contains: list[str] = Field(default_factory=list)
    body_matches: str | None = None
    json_paths: dict[str, Any] = Field(
        default_factory=dict,
        alias="json",
        description="Dotted paths (items.0.id) in a JSON body and the value each must equal.",
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Response headers that must contain these values."
    )
    max_seconds: Duration | None = Field(None, gt=0)
    meta: MetaExpect | None = None

    @field_validator("body_matches")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class Capture(Spec):
    """Where a value for later steps comes from: a regex's first group in the body,
    a dotted path in a JSON body, or a response header."""

    regex: str | None = None
    json_path: str | None = Field(None, alias="json")
    header: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Capture:
        _one_of(self, ("regex", "json_path", "header"))
        if self.regex is not None:
            try:
                if re.compile(self.regex).groups < 1:
                    raise ValueError("regex must have a capturing group")
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return self


class HttpStep(Spec):
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    form: dict[str, str] | None = None
    json_body: Any = Field(None, alias="json")
    body: str | None = None
    follow_redirects: bool = True
    verify_tls: bool = True
    expect: HttpExpect = Field(default_factory=HttpExpect)
    capture: dict[str, Capture] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://", "${")):
            raise ValueError("must start with http://, https:// or a ${variable}")
        return value

    @model_validator(mode="after")
    def _one_body(self) -> HttpStep:
        if sum(x is not None for x in (self.form, self.json_body, self.body)) > 1:
            raise ValueError("give at most one of form, json and body")
        return self


VitalName = Literal["LCP", "CLS", "FCP", "TTFB", "INP", "FID"]


def _default_budget() -> dict[VitalName, float]:
    return {"LCP": 2.5, "CLS": 0.1, "INP": 0.2, "FID": 0.1}


class Vitals(Spec):
    """Measure the loaded page's Core Web Vitals; a value over its budget fails the step."""

    budget: dict[VitalName, float] = Field(
        default_factory=_default_budget,
        description="Largest acceptable value per vital: seconds, CLS unitless.",
    )
    interact: str | None = Field(
        "body", description="Selector clicked to measure INP and FID; null: no interaction."
    )


class BrowserAction(Spec):
    goto: str | None = None
    click: str | None = None
    fill: dict[str, str] | None = Field(None, description="Selector -> text typed into it.")
    submit: str | None = Field(None, description="Selector of a form to submit (or a field in it).")
    wait_for_text: str | None = None
    wait_for_selector: str | None = None
    expect_meta: MetaExpect | None = None
    vitals: Vitals | None = None

    @property
    def kind(self) -> str:
        return _one_of(self, ACTIONS)

    @model_validator(mode="after")
    def _exactly_one(self) -> BrowserAction:
        _one_of(self, ACTIONS)
        return self


ACTIONS = ("goto", "click", "fill", "submit", "wait_for_text", "wait_for_selector",
           "expect_meta", "vitals")


class TlsCheck(Spec):
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(443, ge=1, le=65535)
    min_days: float = Field(14, ge=0, description="Fewer days left than this fails the step.")
    verify: bool = Field(True, description="The certificate chain and host name must verify.")
    ca_file: Path | None = Field(None, description="Trust these CA certificates (PEM) too.")


class DnsCheck(Spec):
    name: str = Field(min_length=1, max_length=253)
    type: Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS"] = "A"
    expect: list[str] = Field(
        default_factory=list, description="Values that must all be among the answers."
    )
    nameserver: str | None = Field(
        None, description="Ask this server (IP) over DNS; default the system resolver."
    )
    port: int = Field(53, ge=1, le=65535)


class Step(Spec):
    name: str = Field(pattern=STEP_NAME)
    http: HttpStep | None = None
    browser: list[BrowserAction] | None = Field(None, min_length=1)
    tls: TlsCheck | None = None
    dns: DnsCheck | None = None

    @property
    def kind(self) -> str:
        return _one_of(self, KINDS)

    @field_validator("name")
    @classmethod
    def _not_total(cls, value: str) -> str:
        if value == TOTAL_STEP:
            raise ValueError(f"{TOTAL_STEP!r} is reserved for the whole run")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Step:
        _one_of(self, KINDS)
        return self


KINDS = ("http", "browser", "tls", "dns")


class Thresholds(Spec):
    warning: int = Field(2, ge=1, le=1000, description="Consecutive failures that warn.")
    critical: int = Field(3, ge=1, le=1000, description="Consecutive failures that page.")


class Journey(Spec):
    name: str = Field(pattern=NAME)
    title: str | None = Field(None, max_length=200)
    site: str = "default"
    frequency: Duration = Field(60.0, ge=1, le=86_400)
    timeout: Duration = Field(30.0, gt=0, le=3600)
    slo: float = Field(99.9, gt=0, le=100, description="Target success ratio, percent.")
    locations: list[str] | None = Field(None, description="Where it runs; default everywhere.")
    thresholds: Thresholds = Field(default_factory=Thresholds)
    variables: dict[str, str] = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1, max_length=100)

    @property
    def display(self) -> str:
        return self.title or self.name

    @property
    def uses_browser(self) -> bool:
        return any(s.browser for s in self.steps)

    def runs_at(self, location: str) -> bool:
        return self.locations is None or location in self.locations

    @field_validator("steps")
    @classmethod
    def _unique_steps(cls, steps: list[Step]) -> list[Step]:
        again = repeated([s.name for s in steps])
        if again:
            raise ValueError(f"step names must be unique; repeated: {', '.join(again)}")
        return steps


def repeated(names: list[str]) -> list[str]:
    """The names that occur more than once, sorted."""
    return sorted({n for n in names if names.count(n) > 1})


def parse_journeys(data: Any, source: str) -> list[Journey]:
    """Journeys from one YAML document: a journey (a mapping with ``steps``), a list
    of them, or a mapping with a ``journeys`` list."""
    if isinstance(data, dict) and "journeys" in data and "steps" not in data:
        data, prefix = data["journeys"], "journeys"
    elif isinstance(data, dict):
        data, prefix = [data], None
    else:
        prefix = ""
    if not isinstance(data, list):
        raise JourneyError([f"{source}: must be a journey, a list of journeys or journeys: [...]"])
    journeys, problems = [], []
    for i, item in enumerate(data):
        where = f"{prefix}[{i}]" if prefix is not None else ""
        try:
            journeys.append(Journey.model_validate(item))
        except ValidationError as exc:
            for err in exc.errors():
                field = field_name(tuple(err["loc"])) or "journey"
                field = f"{where}.{field}" if where and not field.startswith("[") else where + field
                problems.append(f"{source}: {field}: {err['msg'].removeprefix('Value error, ')}")
    if problems:
        raise JourneyError(problems)
    return journeys


def load_file(path: Path) -> list[Journey]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise JourneyError([f"{path}: {exc.strerror}"]) from None
    except yaml.YAMLError as exc:
        raise JourneyError([f"{path}: not valid YAML: {exc}"]) from None
    return parse_journeys(data, str(path))


def check_references(journeys: list[Journey], sites: set[str], locations: list[str]) -> None:
    """Names must be unique; sites and locations must be configured."""
    problems = []
    for name in repeated([j.name for j in journeys]):
        problems.append(f"journey {name!r}: defined more than once")
    for j in journeys:
        if j.site not in sites:
            problems.append(f"journey {j.name!r}: site: no site {j.site!r} in sites")
        unknown = [loc for loc in j.locations or [] if loc not in locations]
        if unknown:
            problems.append(
                f"journey {j.name!r}: locations: {unknown} not in synthetic.locations {locations}"
            )
    if problems:
        raise JourneyError(problems)


def substitute(text: str, variables: dict[str, str]) -> str:
    """Replace ``${name}``; an unknown name is an error naming it."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise KeyError(f"unknown variable ${{{name}}}")
        return variables[name]

    return VARIABLE.sub(value, text)
