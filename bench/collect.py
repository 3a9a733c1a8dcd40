"""POST /collect throughput against a real ``leadwatch serve`` process on 127.0.0.1:
a load generator (Debian's wrk when installed, else an asyncio httpx client; 64
connections) sends batches of 10 events for a bounded time; the same load then goes
to a bare FastAPI endpoint (same uvicorn, one worker) that reads the body and answers
202, in the same run. Reports requests/s and events/s of both, their ratio, and
checks that the events stored equal the events accepted (counted from the 202
answers, after a graceful stop has flushed the write buffer).
Target: /collect >= 50% of the bare endpoint's requests/s, every accepted event stored.
Each row also gives the server's CPU time per request (all its threads), and
``cpu_ratio`` compares the two by it: a figure that holds when other work shares the
cores, which requests/s does not.

A Python client on this 2-core machine tops out near the server's own rate, so both
endpoints then measure the client; wrk (C, one thread) leaves the server the bottleneck.
The security guard is off for the run: one client address at full speed is a flood.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson
import psutil
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.servers import LeadwatchProcess, free_port

SECONDS = 10  # per case
CONNECTIONS = 64
TARGET_RATIO = 0.5
ROOT = Path(__file__).resolve().parent.parent
UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/124.0.0.0 Safari/537.36")


def batch(n: int) -> bytes:
    """Ten events as /lw.js sends them: a page view, five vitals, engagement, clicks."""
    url = f"https://bench.example/page/{n % 50}"
    events = [
        {"type": "pageview", "url": url + "?utm_source=google&utm_medium=cpc", "title": "Bench",
         "referrer": "https://www.google.com/"},
        *({"type": "vital", "url": url, "name": name, "value": value, "props": {"rating": "good"}}
          for name, value in (("LCP", 1800), ("CLS", 0.02), ("INP", 120), ("FCP", 900), ("TTFB", 200))),
        {"type": "engagement", "url": url, "value": 30000, "props": {"scroll": 80}},
        {"type": "form_start", "url": url, "name": "contact"},
        {"type": "outbound", "url": url, "name": "www.linkedin.com"},
        {"type": "download", "url": url, "name": "guide.pdf"},
    ]
    return orjson.dumps(events)


bare_app = FastAPI()


@bare_app.post("/collect", status_code=202)
async def bare_collect(request: Request) -> JSONResponse:
    events = orjson.loads(await request.body())
    return JSONResponse({"accepted": len(events), "rejected": [], "token": None}, status_code=202)


async def _load(url: str, seconds: float) -> dict[str, float]:
    ok = failed = accepted = 0
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    bodies = [batch(n) for n in range(50)]
    headers = {"Content-Type": "text/plain", "User-Agent": UA}
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits, headers=headers) as client:
        deadline = time.perf_counter() + seconds

        async def worker(w: int) -> None:
            nonlocal ok, failed, accepted
            n = w
            while time.perf_counter() < deadline:
                try:
                    r = await client.post("/collect", params={"site": "default"}, content=bodies[n % 50])
                except httpx.HTTPError:
                    failed += 1
                    continue
                if r.status_code == 202:
                    ok += 1
                    accepted += r.json()["accepted"]
                else:
                    failed += 1
                n += CONNECTIONS

        started = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(CONNECTIONS)))
        elapsed = time.perf_counter() - started
    return {"requests": ok, "failed": failed, "accepted": accepted, "seconds": elapsed,
            "requests_per_s": ok / elapsed, "events_per_s": accepted / elapsed}


# Sums the "accepted" count of every 202 answer, per wrk thread, and prints the total.
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/plain"
wrk.headers["User-Agent"] = "%s"
wrk.body = [==[%s]==]
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) accepted = 0 end
function response(status, headers, body)
  if status == 202 then accepted = accepted + tonumber(string.match(body, '"accepted":(%%d+)')) end
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("accepted") end
  io.write(string.format("ACCEPTED %%d\\n", total))
end
"""


def _wrk(url: str, seconds: float, workdir: Path) -> dict[str, float]:
    script = workdir / "collect.lua"
    script.write_text(WRK_SCRIPT % (UA, batch(0).decode()))
    out = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "-s", str(script),
         f"{url}/collect?site=default"],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    ).stdout
    total = int(re.search(r"(\d+) requests in ([\d.]+)(\w+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = (int(bad.group(1)) if bad else 0) + (sum(map(int, errors.groups())) if errors else 0)
    accepted = int(re.search(r"ACCEPTED (\d+)", out).group(1))  # type: ignore[union-attr]
    ok = total - (int(bad.group(1)) if bad else 0)
    return {"requests": ok, "failed": failed, "accepted": accepted, "seconds": seconds,
            "requests_per_s": ok / seconds, "events_per_s": accepted / seconds}


def _measure(url: str, seconds: float, workdir: Path, pid: int) -> dict[str, float]:
    """The load's figures, with the server's CPU time per answered request: unlike
    requests/s, that barely moves when other work shares the machine's cores."""
    server = psutil.Process(pid)
    before = server.cpu_times()
    result = _wrk(url, seconds, workdir) if shutil.which("wrk") else asyncio.run(_load(url, seconds))
    after = server.cpu_times()
    cpu = (after.user - before.user) + (after.system - before.system)
    result["cpu_us_per_request"] = cpu / max(1, result["requests"]) * 1e6
    return result


def _bare(workdir: Path) -> dict[str, float]:
    port = free_port()
    log = (workdir / "bare.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.collect:bare_app", "--host", "127.0.0.1",
         # As `leadwatch serve` runs uvicorn: no access log, no proxy headers.
         "--port", str(port), "--log-level", "warning", "--no-access-log", "--no-proxy-headers"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.post(f"http://127.0.0.1:{port}/collect", content=b"[]", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        _measure(f"http://127.0.0.1:{port}", 1, workdir, proc.pid)  # warm-up
        return _measure(f"http://127.0.0.1:{port}", SECONDS, workdir, proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def _leadwatch(workdir: Path) -> dict[str, float]:
    data = workdir / "data"
    env = {"LEADWATCH_DATA_DIR": str(data), "LEADWATCH_LOGGING__LEVEL": "warning",
           # One client address at full speed is a flood to the security guard.
           "LEADWATCH_SECURITY__ENABLED": "false"}
    server = LeadwatchProcess(env, workdir / "leadwatch.log").start()
    try:
        assert server.proc is not None
        warm = _measure(server.url, 1, workdir, server.proc.pid)
        result = _measure(server.url, SECONDS, workdir, server.proc.pid)
    finally:
        server.stop()  # graceful: flushes the write buffer
    from leadwatch.settings import load_settings
    from leadwatch.store.events import open_event_store

    store = open_event_store(load_settings(None, storage={"data_dir": data}))
    try:
        stored = store.count(site_id="default")
    finally:
        store.close()
    result["stored"] = stored
    result["accepted_total"] = warm["accepted"] + result["accepted"]
    return result


def run() -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory(prefix="leadwatch-bench-collect-") as tmp:
        workdir = Path(tmp)
        bare = _bare(workdir)
        lw = _leadwatch(workdir)
    ratio = lw["requests_per_s"] / bare["requests_per_s"] if bare["requests_per_s"] else 0.0
    client = "wrk" if shutil.which("wrk") else "httpx"
    return [
        {"endpoint": "bare FastAPI", "client": client, "requests_per_s": bare["requests_per_s"],
         "events_per_s": bare["events_per_s"], "failed": int(bare["failed"]),
         "cpu_us_per_request": bare["cpu_us_per_request"]},
        {"endpoint": "leadwatch /collect", "client": client, "requests_per_s": lw["requests_per_s"],
         "events_per_s": lw["events_per_s"], "failed": int(lw["failed"]),
         "cpu_us_per_request": lw["cpu_us_per_request"],
         "ratio": round(ratio, 3), "target_ratio": TARGET_RATIO, "ok": ratio >= TARGET_RATIO,
         # The same comparison by server CPU time per request (bare / leadwatch): what the
         # ratio of requests/s is when each server has a core to itself.
         "cpu_ratio": round(bare["cpu_us_per_request"] / lw["cpu_us_per_request"], 3),
         "accepted": int(lw["accepted_total"]), "stored": int(lw["stored"]),
         # wrk stops with requests in flight: those may be stored without their 202
         # having been counted, so stored >= accepted; fewer would be a loss.
         "none_lost": lw["stored"] >= lw["accepted_total"]},
    ]
