"""The snippet's own code (tracker.js, vitals.js) stays within its budget of 4 KB
gzipped, measured by ``npm run size``: the figure docs/tracking.md quotes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.servers import missing

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
BUDGET = 4096


def test_own_snippet_code_is_under_4_kb_gzipped() -> None:
    if shutil.which("npm") is None or not (FRONTEND / "node_modules" / ".bin" / "esbuild").exists():
        missing("the frontend is not installed (make frontend)")
    run = subprocess.run(["npm", "run", "--silent", "size"], cwd=FRONTEND, capture_output=True,
                         text=True, check=True, timeout=120)
    size = int(run.stdout.split()[-1])
    assert 1000 < size < BUDGET, f"own snippet code is {size} bytes gzipped (budget {BUDGET})"
