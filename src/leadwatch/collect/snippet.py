"""The built /lw.js bundle: read once, hashed, gzipped once.

``make`` builds frontend/ with esbuild into ``collect/static/lw.js`` (never
committed). The bundle is served at two addresses: ``/lw.js``, the stable one site
owners paste (revalidated hourly by its ETag, the content hash), and
``/lw.<hash>.js``, immutable and cached for a year.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

BUNDLE = Path(__file__).parent / "static" / "lw.js"


class SnippetMissing(RuntimeError):
    """The front end has not been built (run make, or npm run build in frontend/)."""


@dataclass(frozen=True)
class Snippet:
    body: bytes
    gzipped: bytes
    digest: str  # first 12 hex digits of SHA-256

    @property
    def hashed_path(self) -> str:
        return f"/lw.{self.digest}.js"


@cache
def _load(path: Path, mtime_ns: int) -> Snippet:
    body = path.read_bytes()
    return Snippet(body, gzip.compress(body, 9, mtime=0), hashlib.sha256(body).hexdigest()[:12])


def load_snippet(path: Path = BUNDLE) -> Snippet:
    """The bundle as built now (a rebuild is picked up without a restart)."""
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise SnippetMissing(
            f"{path} is missing: build the front end (make, or npm ci && npm run build in frontend/)"
        ) from None
    return _load(path, mtime)
