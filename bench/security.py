"""Detection accuracy and middleware overhead.

Accuracy: the share of libinjection's attack collections detected (true positives)
per threat and field type, and the share of benign text flagged (false positives):
libinjection's ``false_positives.txt`` and leadwatch's own contact-form text
(tests/data/security/benign_form.txt). Targets: >= 97% of SQLi and >= 95% of XSS
detected, <= 0.5% of benign form text flagged. (libinjection was developed against
its collections, so their figures are an upper bound; the benign set is ours.)
Messages pasting executable script (tests/data/security/pasted_script.txt) are
detections by decision, not benign text (docs/security.md): their own rows show that
they are flagged and never refused, and what the benign rate would be with them.

Overhead: median time of one clean GET (a browser's: query, User-Agent, Referer,
cookies) through the security middleware, minus the same request to the bare app,
called in-process (no sockets). Target < 0.2 ms.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from tests.security.corpora import (
    LIBINJECTION,
    attacks,
    benign_form,
    benign_form_parts,
    lines,
    pasted_script,
)

from leadwatch.security.bans import BanList
from leadwatch.security.detect import Field, Threat, inspect
from leadwatch.security.events import SecurityLog
from leadwatch.security.guard import Guard
from leadwatch.security.middleware import SecurityMiddleware
from leadwatch.settings import SecuritySettings, load_settings
from leadwatch.store.migrate import upgrade_records
from leadwatch.store.records import RecordStore

TARGETS = {"sqli": 0.97, "xss": 0.95, "benign": 0.005}
REQUESTS = 20_000


def accuracy() -> list[dict[str, Any]]:
    rows = []
    for threat in (Threat.SQLI, Threat.XSS):
        corpus = attacks(str(threat))
        for field in (Field.QUERY, Field.FORM):
            found = sum(threat in {f.threat for f in inspect(v, field)} for v in corpus)
            rows.append({"corpus": f"libinjection {threat}-*", "field": str(field), "inputs": len(corpus),
                         "measure": "detected", "rate": found / len(corpus),
                         "target": f">= {TARGETS[str(threat)]:.0%}"})
    for name, corpus in (("libinjection false_positives", list(lines(LIBINJECTION / "false_positives.txt"))),
                         ("leadwatch benign_form", benign_form())):
        for field in (Field.FORM, Field.QUERY):
            found = [{f.threat for f in inspect(v, field)} for v in corpus]
            # SQLi in a form is refused (403), XSS only flagged: each has its own rate.
            for measure, hit in (("flagged sqli", lambda t: Threat.SQLI in t),
                                 ("flagged xss", lambda t: Threat.XSS in t), ("flagged (any)", bool)):
                target = (f"<= {TARGETS['benign']:.1%}" if name.startswith("leadwatch") and field is Field.FORM
                          and measure == "flagged (any)" else "")
                rows.append({"corpus": name, "field": str(field), "inputs": len(corpus), "measure": measure,
                             "rate": sum(map(hit, found)) / len(corpus), "target": target})
    # Pasted script: flagged (XSS), never refused (SQLi); and the benign rate as it would
    # be if it counted as benign, so the decision is in plain sight.
    pasted = [{f.threat for f in inspect(v, Field.FORM)} for v in pasted_script()]
    for measure, hit in (("flagged xss", lambda t: Threat.XSS in t), ("refused (sqli)", lambda t: Threat.SQLI in t)):
        rows.append({"corpus": "leadwatch pasted_script (detected by design)", "field": str(Field.FORM),
                     "inputs": len(pasted), "measure": measure, "rate": sum(map(hit, pasted)) / len(pasted),
                     "target": "100%" if measure == "flagged xss" else "0%"})
    both = benign_form() + pasted_script()
    rows.append({"corpus": "leadwatch benign_form + pasted_script as benign", "field": str(Field.FORM),
                 "inputs": len(both), "measure": "flagged (any)",
                 "rate": sum(bool(inspect(v, Field.FORM)) for v in both) / len(both), "target": ""})
    # The benign text part by part: the rules were tuned on the earlier parts.
    for part, corpus in benign_form_parts().items():
        rows.append({"corpus": f"leadwatch benign_form, {part}", "field": str(Field.FORM), "inputs": len(corpus),
                     "measure": "flagged (any)", "rate": sum(bool(inspect(v, Field.FORM)) for v in corpus) / len(corpus),
                     "target": ""})
    return rows


async def _bare(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _scope(i: int) -> dict[str, Any]:
    return {
        "type": "http", "method": "GET", "path": "/services/seo", "raw_path": b"/services/seo",
        "query_string": b"utm_source=google&utm_medium=cpc&page=2", "scheme": "http",
        "client": (f"10.0.{i % 200}.{i % 250 + 1}", 5000),
        "headers": [
            (b"host", b"example.com"),
            (b"user-agent", (b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                             b"Chrome/120.0 Safari/537.36")),
            (b"referer", b"https://www.google.com/search?q=seo+agency+dublin&hl=en"),
            (b"cookie", b"_ga=GA1.1.1234567.1700000000; consent=analytics%3Atrue; theme=dark"),
        ],
    }


async def _time(app: Any, n: int) -> list[float]:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: Any) -> None:
        return None

    samples = []
    for i in range(n):
        started = time.perf_counter()
        await app(_scope(i), receive, send)
        samples.append(time.perf_counter() - started)
    return samples


def overhead() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="leadwatch-bench-") as tmp:
        records = RecordStore.open(load_settings(storage={"data_dir": Path(tmp)}))
        upgrade_records(records.engine)
        registry = CollectorRegistry()
        rows: list[Any] = []
        guard = Guard(SecuritySettings(), SecurityLog(rows.extend, registry), BanList(records, registry, 5.0), registry)
        guarded = SecurityMiddleware(_bare, guard=guard)
        asyncio.run(_time(guarded, 2000))  # warm up
        bare = asyncio.run(_time(_bare, REQUESTS))
        with_mw = asyncio.run(_time(guarded, REQUESTS))
        records.close()
    extra = statistics.median(with_mw) - statistics.median(bare)
    return [{"corpus": "middleware, clean GET", "field": "path+query+user-agent+referer+cookies", "inputs": REQUESTS,
             "measure": "overhead median ms", "rate": extra * 1000,
             "p99 ms": statistics.quantiles(with_mw, n=100)[98] * 1000, "target": "< 0.2 ms"}]


def run() -> list[dict[str, Any]]:
    return accuracy() + overhead()
