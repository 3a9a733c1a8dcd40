"""The journeys an installation runs: the built-in four (``defaults.yaml``) and the
files in ``synthetic.journeys_dir``, with the variables they are run with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import structlog

from leadwatch.demo.content import PREFIX as DEMO_PREFIX
from leadwatch.settings import Settings
from leadwatch.synthetic.journey import VARIABLE, Journey, JourneyError, check_references, load_file

log = structlog.get_logger(__name__)

DEFAULTS = Path(__file__).with_name("defaults.yaml")


@dataclass(frozen=True)
class Catalog:
    journeys: list[Journey]
    variables: dict[str, str]

    def get(self, name: str) -> Journey | None:
        return next((j for j in self.journeys if j.name == name), None)

    def at(self, location: str) -> list[Journey]:
        return [j for j in self.journeys if j.runs_at(location)]


def own_url(settings: Settings) -> str:
    """Where this leadwatch server answers (for the api-health journey and the demo)."""
    return settings.server.url


def base_variables(settings: Settings, demo: bool = False) -> dict[str, str]:
    synthetic = settings.synthetic
    variables = {"api_url": synthetic.api_url or own_url(settings)}
    domain = settings.sites[0].domain
    if synthetic.target_url:
        variables["site_url"] = synthetic.target_url
    elif demo:
        variables["site_url"] = own_url(settings) + DEMO_PREFIX
    elif domain:
        variables["site_url"] = f"https://{domain}"
    return variables


def load_catalog(settings: Settings, demo: bool | None = None) -> Catalog:
    """Every journey, validated; raises :class:`JourneyError` naming file and field.
    ``demo`` (default: ``demo.enabled``, set by ``serve --demo``) points the built-in
    journeys at the demo site."""
    demo = settings.demo.enabled if demo is None else demo
    variables = base_variables(settings, demo)
    site_ids = {s.id for s in settings.sites}
    site = settings.demo.site_id if demo and settings.demo.site_id in site_ids else settings.sites[0].id
    journeys: list[Journey] = []
    if settings.synthetic.default_journeys:
        for journey in load_file(DEFAULTS):
            needs = _variables_used(journey) - set(journey.variables)
            missing = needs - set(variables)
            if missing:
                # No site to visit (no domain, no target_url): leave these journeys out.
                log.info("synthetic_default_skipped", journey=journey.name,
                         missing=sorted(missing))
                continue
            journeys.append(journey.model_copy(update={"site": site}))
    directory = settings.synthetic.journeys_dir
    if directory is not None:
        if not directory.is_dir():
            raise JourneyError([f"synthetic.journeys_dir: {directory} is not a directory"])
        problems: list[str] = []
        for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
            try:
                journeys += load_file(path)
            except JourneyError as exc:
                problems += exc.problems
        if problems:
            raise JourneyError(problems)
    check_references(journeys, site_ids, settings.synthetic.locations)
    return Catalog(journeys, variables)


def _variables_used(journey: Journey) -> set[str]:
    return set(VARIABLE.findall(journey.model_dump_json()))
