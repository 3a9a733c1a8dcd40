"""The templates of the automated response (``leads.sites.<site>.autoreply``): Jinja2
in a sandbox, plain text, only the known variables. Imports nothing of leadwatch, so
settings can check a template while they load."""

from __future__ import annotations

from typing import Any

from jinja2 import StrictUndefined, TemplateError, meta
from jinja2.sandbox import SandboxedEnvironment

VARIABLES = ("name", "company", "site", "domain")
# Plain text (no autoescape); the sandbox keeps templates from reaching Python internals.
_ENV = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True)
_SAMPLES = (
    {"name": "Ann Example", "company": "Acme", "site": "Example", "domain": "example.com"},
    {"name": "Ann Example", "company": None, "site": "Example", "domain": None},
)


def check_template(source: str) -> None:
    """Raise ValueError, saying why, unless ``source`` renders with the known variables
    (with and without the optional ones)."""
    try:
        unknown = sorted(meta.find_undeclared_variables(_ENV.parse(source)) - set(VARIABLES))
        if unknown:
            raise ValueError(f"unknown variables {', '.join(unknown)}; use {', '.join(VARIABLES)}")
        template = _ENV.from_string(source)
        for sample in _SAMPLES:
            template.render(sample)
    except TemplateError as exc:
        raise ValueError(f"not a valid template: {exc}") from None


def render(source: str, context: dict[str, Any]) -> str:
    """Raises jinja2.TemplateError when a value breaks a template that passed the check."""
    return _ENV.from_string(source).render(context)
