"""Shipping lines to a running server's ``POST /api/v1/logs`` instead of writing the
store directly: what ``leadwatch logs ingest --server URL --token T`` does, since a
standalone server holds its DuckDB file and no second process may write it.

It behaves like :meth:`Pipeline.process` (same signature, same result), so the
file, stdin and ``--follow`` code paths are the same for both; a batch counts as
written only once the server answered ``202``, and ``503``/``429`` and network
errors are retried with backoff.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import httpx

from leadwatch.logs.parse import Format
from leadwatch.logs.pipeline import BatchResult

MAX_BODY_BYTES = 512 * 1024  # below the server's default 1 MiB body cap
RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 10.0, 10.0, 10.0)


class ShipError(RuntimeError):
    """The server refused the lines (a 4xx other than 429) or never became reachable."""


class HttpShipper:
    def __init__(self, url: str, token: str, *, timeout: float = 60.0, transport: httpx.BaseTransport | None = None):
        self.client = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
            timeout=timeout,
            transport=transport,
        )

    def process(self, lines: Sequence[str], *, site_id: str, fmt: Format = "auto") -> BatchResult:
        total = BatchResult()
        for body, count in _chunks(lines):
            data = self._post(body, {"site": site_id, "format": fmt})
            result = BatchResult(lines=count, dead_letters=int(data.get("dead_letters", 0)))
            result.datasets.update(data.get("datasets", {}))
            total.add(result)
        return total

    def _post(self, body: bytes, params: dict[str, str]) -> dict[str, object]:
        for delay in (*RETRY_DELAYS, None):
            try:
                response = self.client.post("/api/v1/logs", content=body, params=params)
            except httpx.TransportError as exc:
                problem = f"cannot reach the server: {exc}"
            else:
                if response.status_code == 202:
                    data: dict[str, object] = response.json()
                    return data
                problem = f"the server answered {response.status_code}: {response.text[:300]}"
                if response.status_code not in (429, 503) and response.status_code < 500:
                    raise ShipError(problem)
            if delay is None:
                raise ShipError(problem)
            time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        self.client.close()


def _chunks(lines: Sequence[str]) -> Iterator[tuple[bytes, int]]:
    """Bodies of at most MAX_BODY_BYTES (a single longer line goes alone)."""
    parts: list[bytes] = []
    size = 0
    for line in lines:
        encoded = line.encode() + b"\n"
        if parts and size + len(encoded) > MAX_BODY_BYTES:
            yield b"".join(parts), len(parts)
            parts, size = [], 0
        parts.append(encoded)
        size += len(encoded)
    if parts:
        yield b"".join(parts), len(parts)
