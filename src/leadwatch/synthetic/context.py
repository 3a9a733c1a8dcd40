"""What the steps of one run share: variables (with captures), the deadline, the
synthetic-lead marker, an HTTP client with its cookies and, once a browser step
needs it, a Chromium session."""

from __future__ import annotations

import functools
import ssl
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from leadwatch.synthetic.journey import substitute

if TYPE_CHECKING:
    from leadwatch.synthetic.browser import BrowserPool, BrowserSession

# The header that marks a request (and the lead it creates) as synthetic.
MARKER_HEADER = "X-Leadwatch-Synthetic"
USER_AGENT = "leadwatch-synthetic/1 (+https://github.com/leadwatch)"


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying context for every run: loading the CA store per run costs more
    than a fast site's whole answer."""
    return ssl.create_default_context()


class StepFailed(Exception):
    """A step's check did not pass; ``details`` keeps what was measured anyway."""

    def __init__(self, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.details = details or {}


@dataclass
class RunContext:
    run_id: str
    deadline: float  # time.monotonic() value
    variables: dict[str, str]
    marker: str | None = None
    browsers: BrowserPool | None = None
    failed: bool = False
    http: httpx.Client = field(init=False)
    browser: BrowserSession | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        headers = {"User-Agent": USER_AGENT}
        if self.marker:
            headers[MARKER_HEADER] = self.marker
        self.http = httpx.Client(headers=headers, verify=_tls_context())

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise StepFailed("the journey's timeout passed")
        return left

    def text(self, value: str) -> str:
        try:
            return substitute(value, self.variables)
        except KeyError as exc:
            raise StepFailed(str(exc.args[0])) from None

    def close(self) -> None:
        """Close the HTTP client (the runner closes the browser session, keeping its
        artefacts when the run failed)."""
        self.http.close()
