"""What a run produced: one :class:`RunResult` with a :class:`StepResult` per step.

The same models are the JSON a remote probe pushes (validated by the server like any
request body) and the rows of the ``probe_results`` event table.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from leadwatch.store.schema import json_text, utc_naive
from leadwatch.synthetic.journey import NAME, STEP_NAME
from leadwatch.web.times import RequestTime

MAX_ERROR = 500


class StepResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=STEP_NAME)
    kind: str = Field(pattern=r"^(http|browser|tls|dns)$")
    success: bool
    duration: float = Field(ge=0, allow_inf_nan=False, description="Seconds.")
    error: str | None = Field(None, max_length=MAX_ERROR)
    details: dict[str, Any] = Field(default_factory=dict)


class RunResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    journey: str = Field(pattern=NAME)
    site_id: str = Field(max_length=63)
    location: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
    started: RequestTime
    duration: float = Field(ge=0, allow_inf_nan=False, description="Seconds.")
    success: bool
    error: str | None = Field(None, max_length=MAX_ERROR)
    steps: list[StepResult] = Field(default_factory=list, max_length=100)
    artifacts: str | None = Field(None, max_length=1024, description="Screenshot + trace folder.")
    marker_id: str | None = Field(None, max_length=64, description="Synthetic-lead marker used.")

    @field_validator("started")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return utc_naive(value)

    @property
    def vitals(self) -> dict[str, float]:
        found: dict[str, float] = {}
        for step in self.steps:
            found.update(step.details.get("vitals") or {})
        return found

    def rows(self) -> list[tuple[Any, ...]]:
        """``probe_results`` rows: the run, then each step (its start in ``ts``)."""
        props = {k: v for k, v in (("artifacts", self.artifacts), ("vitals", self.vitals)) if v}
        rows: list[tuple[Any, ...]] = [(self.site_id, self.started, self.run_id, self.journey, self.location, "run",
                 None, float(self.success), self.duration, self.error, json_text(props or None))]
        offset = 0.0
        for step in self.steps:
            rows.append((self.site_id, self.started + timedelta(seconds=offset), self.run_id,
                         self.journey, self.location, step.kind, step.name, float(step.success),
                         step.duration, step.error, json_text(step.details or None)))
            offset += step.duration
        return rows
