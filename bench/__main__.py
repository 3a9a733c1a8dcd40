"""Run the benchmarks, print one table, keep the figures as JSON in bench/results/."""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench reuses tests/servers.py to start real servers

BENCHMARKS = ["eventstore", "security", "logs", "leads", "alerting", "synthetic", "dashboards", "collect", "snapshots"]


def main(names: list[str]) -> None:
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    machine = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}
    for name in names or BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")
        started = time.time()
        rows = module.run()
        record = {"benchmark": name, "started": started, "machine": machine, "results": rows}
        out = results_dir / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out.write_text(json.dumps(record, indent=2, default=str))
        print_table(name, rows)
        print(f"  (written to {out.relative_to(ROOT)})\n")


def print_table(name: str, rows: list[dict[str, object]]) -> None:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    cells = [[_fmt(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print(f"\n== {name} ==")
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)))


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if value >= 100 else f"{value:.3f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value)


if __name__ == "__main__":
    main(sys.argv[1:])
