"""POST /api/v1/logs and GET /api/v1/logs, on both backends."""

from __future__ import annotations

import time

import orjson
from fastapi.testclient import TestClient

from tests.conftest import ADMIN
from tests.logs.conftest import REAL_LOG


def wait_for_rows(client: TestClient, n: int) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runtime.logs.buffer.flush()
        if runtime.logs.buffer.depth == 0 and runtime.events.count(runtime.logs.buffer.table) >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"{n} log rows not written")


def test_shipped_lines_are_searchable_with_facets_and_histogram(client: TestClient) -> None:
    lines = REAL_LOG.read_bytes().splitlines()[:2000]
    body = b"\n".join(lines) + b"\nnot a log line\n"
    response = client.post("/api/v1/logs", headers={**ADMIN, "Content-Type": "application/x-ndjson"}, content=body)
    assert response.status_code == 202
    assert response.json()["accepted"] == 2001 and response.json()["dead_letters"] == 1
    wait_for_rows(client, 2001)

    response = client.get("/api/v1/logs", headers=ADMIN, params={"dataset": "access", "q": "status>=400", "limit": 5})
    assert response.status_code == 200
    data = response.json()
    assert data["total"] > 0 and len(data["records"]) == min(5, data["total"])
    assert all(r["status"] >= 400 for r in data["records"])
    stamps = [r["ts"] for r in data["records"]]
    assert stamps == sorted(stamps, reverse=True)
    assert sum(b["count"] for b in data["histogram"]["buckets"]) == data["total"]
    assert sum(f["count"] for f in data["facets"]["status"]) <= data["total"]
    assert {f["value"] for f in data["facets"]["status"]} <= {400, 403, 404, 405, 406, 416, 500}

    page2 = client.get("/api/v1/logs", headers=ADMIN, params={"q": "status>=400", "limit": 5, "offset": 5}).json()
    assert not {r["ts"] + r["path"] for r in page2["records"]} & {r["ts"] + r["path"] for r in data["records"]} or data["total"] <= 5

    dead = client.get("/api/v1/logs", headers=ADMIN, params={"dataset": "dead-letter"}).json()
    assert dead["total"] == 1 and dead["records"][0]["props"]["error"]["type"] == "parse"


def test_ingest_needs_a_token_and_a_known_site(client: TestClient) -> None:
    assert client.post("/api/v1/logs", content=b"x").status_code == 401
    response = client.post("/api/v1/logs", headers=ADMIN, params={"site": "nowhere"}, content=b"x\n")
    assert response.status_code == 422 and "query.site" in response.json()["error"]["fields"]
    response = client.post("/api/v1/logs", headers=ADMIN, content=b"\n\n")
    assert response.status_code == 422 and "body" in response.json()["error"]["fields"]
    response = client.post("/api/v1/logs", headers=ADMIN, params={"format": "xml"}, content=b"x\n")
    assert response.status_code == 422 and "query.format" in response.json()["error"]["fields"]


def test_bad_searches_are_4xx_naming_the_field(client: TestClient) -> None:
    for params, field in [
        ({"q": "colour:red"}, "query.q"),
        ({"q": "path>3"}, "query.q"),
        ({"q": "status>=abc"}, "query.q"),
        ({"q": "bot:maybe"}, "query.q"),
        ({"dataset": "nope"}, "query.dataset"),
        ({"facets": "ip"}, "query.facets"),
        ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "query.from"),
        ({"limit": 0}, "query.limit"),
    ]:
        response = client.get("/api/v1/logs", headers=ADMIN, params=params)
        assert response.status_code == 422, params
        assert field in response.json()["error"]["fields"], params
    assert client.get("/api/v1/logs").status_code == 401


def test_app_json_over_http(client: TestClient) -> None:
    line = orjson.dumps({"ts": "2026-05-17T10:00:00Z", "msg": "lead_created", "lead": 1})
    response = client.post("/api/v1/logs", headers=ADMIN, content=line)
    assert response.json()["datasets"] == {"business-events": 1}
