"""The log pipeline end to end on the real access log, against GoAccess.

The 10,000-line real log (tests/data/access-logs/apache_logs) is replicated to
500,000 lines (the size issue 5 names); each copy shifts the client addresses (second octet), so geo
lookups are not all cache hits. leadwatch ingests the file the way
``leadwatch logs ingest FILE`` does: read, parse, enrich (geo, user agent, route,
channel, threat matching), write to a fresh DuckDB event store, in one process.
GoAccess (Debian's ``goaccess``) parses the same file in the same run
(``goaccess FILE --log-format=COMBINED -o report.json``).
Target: leadwatch >= 0.5x GoAccess's lines/s.

Both are measured in wall time (the headline) and in CPU time (user + system, all
threads; for GoAccess its child-process usage): on a machine shared with other work
the wall-time ratio swings with the load, the CPU-time ratio much less.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from leadwatch.logs.direct import direct_pipeline
from leadwatch.logs.sources import FileReader
from leadwatch.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
REAL_LOG = ROOT / "tests" / "data" / "access-logs" / "apache_logs"
LINES = int(os.environ.get("LEADWATCH_BENCH_LOG_LINES", "500000"))  # the size
TARGET_RATIO = 0.5
_IP = re.compile(rb"^(\d+)\.(\d+)\.")


def replicate(target: Path, lines: int) -> None:
    source = REAL_LOG.read_bytes().splitlines()
    with target.open("wb") as out:
        written, copy = 0, 0
        while written < lines:
            chunk = source[: lines - written]
            if copy:
                shift = copy
                chunk = [
                    _IP.sub(lambda m: m.group(1) + b"." + str((int(m.group(2)) + shift) % 256).encode() + b".", line, count=1)
                    for line in chunk
                ]
            out.write(b"\n".join(chunk) + b"\n")
            written += len(chunk)
            copy += 1


def leadwatch_rate(path: Path, workdir: Path) -> tuple[float, float]:
    """Wall and CPU seconds of ``leadwatch logs ingest``'s work, start-up included."""
    settings = load_settings(
        storage={"data_dir": workdir / "data"}, logs={"batch_lines": 20_000}
    )
    started, cpu = time.perf_counter(), time.process_time()
    with direct_pipeline(settings) as pipeline:
        for lines in FileReader(path).batches(settings.logs.batch_lines):
            pipeline.process(lines, site_id="default", fmt="combined")
    return time.perf_counter() - started, time.process_time() - cpu


def goaccess_rate(path: Path, workdir: Path) -> tuple[float, float] | None:
    binary = shutil.which("goaccess")
    if binary is None:
        return None
    started, cpu = time.perf_counter(), _children_cpu()
    subprocess.run(
        [binary, str(path), "--log-format=COMBINED", "-o", str(workdir / "report.json")],
        check=True, capture_output=True,
    )
    return time.perf_counter() - started, _children_cpu() - cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run() -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory(prefix="leadwatch-bench-logs-") as tmp:
        workdir = Path(tmp)
        path = workdir / "access.log"
        replicate(path, LINES)
        goaccess = goaccess_rate(path, workdir)
        seconds, cpu = leadwatch_rate(path, workdir)
    rows: list[dict[str, object]] = [
        _row("leadwatch (parse+enrich+threats+DuckDB)", seconds, cpu),
    ]
    if goaccess is None:
        rows.append({"tool": "goaccess", "note": "skipped: goaccess not installed (apt-get install goaccess)"})
        return rows
    rows.append(_row("goaccess", *goaccess))
    # The same lines for both: the ratio of the rates is the inverse ratio of the times.
    ratio, cpu_ratio = goaccess[0] / seconds, goaccess[1] / cpu
    rows.append({"tool": "ratio leadwatch/goaccess", "lines_per_s": round(ratio, 3),
                 "lines_per_cpu_s": round(cpu_ratio, 3), "target": TARGET_RATIO,
                 "meets": ratio >= TARGET_RATIO})
    return rows


def _row(tool: str, seconds: float, cpu: float) -> dict[str, object]:
    return {"tool": tool, "lines": LINES, "seconds": round(seconds, 2), "lines_per_s": LINES / seconds,
            "cpu_seconds": round(cpu, 2), "lines_per_cpu_s": LINES / cpu}
