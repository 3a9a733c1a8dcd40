"""The NDJSON and Elasticsearch sinks, and the exported templates.

No Elasticsearch server runs here: the official client is used for real and only
its HTTP node (elastic_transport's one choke point, ``BaseNode.perform_request``)
is replaced by one that records the requests and answers like Elasticsearch.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from elastic_transport import ApiResponseMeta, BaseNode, HttpHeaders
from elastic_transport._node import NodeApiResponse
from elasticsearch import Elasticsearch

from leadwatch.logs.record import DATASETS, LogRecord
from leadwatch.logs.retention import purge_files
from leadwatch.logs.sinks import ElasticsearchSink, NdjsonSink, SinkError
from leadwatch.logs.templates import export


def record(i: int, dataset: str = "access", day: int = 17) -> LogRecord:
    return LogRecord(dataset=dataset, ts=datetime(2026, 5, day, 10, 0, i), site_id="default",
                     source_ip="81.2.69.160", method="GET", path=f"/p{i}", status=200)


def test_ndjson_files_per_dataset_and_day(tmp_path: Path) -> None:
    sink = NdjsonSink(tmp_path, "reboot")
    sink.write_batch([record(0), record(1, day=18), record(2, "security")])
    sink.write_batch([record(3)])
    sink.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "reboot-access-2026.05.17.ndjson", "reboot-access-2026.05.18.ndjson", "reboot-security-2026.05.17.ndjson",
    ]
    docs = [orjson.loads(x) for x in (tmp_path / names[0]).read_bytes().splitlines()]
    assert [d["url"]["path"] for d in docs] == ["/p0", "/p3"]
    assert docs[0]["@timestamp"] == "2026-05-17T10:00:00.000Z" and docs[0]["http"]["response"]["status_code"] == 200
    removed = purge_files(tmp_path, "reboot", {"access": 30, "security": 365}, now=datetime(2026, 6, 18, 12))
    assert sorted(p.name for p in removed) == names[:2]


class FakeElasticsearch(BaseNode):
    """Answers _bulk like Elasticsearch; ``script`` holds per-call item statuses."""

    calls: list[tuple[str, str, bytes]] = []
    script: list[list[int] | Exception] = []

    def perform_request(self, method: str, target: str, body: bytes | None = None,
                        headers: Any = None, request_timeout: Any = None) -> NodeApiResponse:
        FakeElasticsearch.calls.append((method, target, body or b""))
        lines = (body or b"").splitlines()
        actions = [orjson.loads(x) for x in lines[0::2]]
        plan = FakeElasticsearch.script.pop(0) if FakeElasticsearch.script else [201] * len(actions)
        if isinstance(plan, Exception):
            raise plan
        items = [{"index": {"_index": a["index"]["_index"], "_id": a["index"]["_id"], "status": s,
                            **({"error": {"type": "mapper_parsing_exception"}} if s == 400 else {})}}
                 for a, s in zip(actions, plan, strict=True)]
        data = orjson.dumps({"took": 1, "errors": any(s >= 300 for s in plan), "items": items})
        headers = HttpHeaders({"content-type": "application/json", "x-elastic-product": "Elasticsearch"})
        return NodeApiResponse(ApiResponseMeta(status=200, http_version="1.1", headers=headers,
                                               duration=0.001, node=self.config), data)


@pytest.fixture
def es() -> Elasticsearch:
    FakeElasticsearch.calls, FakeElasticsearch.script = [], []
    return Elasticsearch("http://es.invalid:9200", node_class=FakeElasticsearch)


def test_bulk_sends_daily_indices_with_stable_ids(es: Elasticsearch) -> None:
    sink = ElasticsearchSink(es, "reboot", backoff=0)
    sink.write_batch([record(0), record(1, "security")])
    sink.write_batch([record(0)])  # sent again (a replay): the same _id overwrites
    (method, target, body), (_, _, again) = FakeElasticsearch.calls
    assert method == "PUT" or method == "POST"
    assert target.startswith("/_bulk")
    lines = [orjson.loads(x) for x in body.splitlines()]
    assert [x["index"]["_index"] for x in lines[0::2]] == ["reboot-access-2026.05.17", "reboot-security-2026.05.17"]
    assert lines[1]["source"]["ip"] == "81.2.69.160"
    assert orjson.loads(again.splitlines()[0])["index"]["_id"] == lines[0]["index"]["_id"]


def test_bulk_retries_refused_items_and_counts_rejections(es: Elasticsearch) -> None:
    rejected: list[int] = []
    sink = ElasticsearchSink(es, "reboot", backoff=0, on_rejected=rejected.append)
    FakeElasticsearch.script = [[201, 429, 400], [201]]
    sink.write_batch([record(0), record(1), record(2)])
    assert len(FakeElasticsearch.calls) == 2
    retried = [orjson.loads(x) for x in FakeElasticsearch.calls[1][2].splitlines()]
    assert retried[1]["url"]["path"] == "/p1"
    assert rejected == [1]


def test_bulk_raises_when_elasticsearch_never_takes_the_batch(es: Elasticsearch) -> None:
    sink = ElasticsearchSink(es, "reboot", attempts=3, backoff=0)
    FakeElasticsearch.script = [[503], [503], [503]]
    with pytest.raises(SinkError):
        sink.write_batch([record(0)])


def test_templates_cover_every_dataset_with_its_retention() -> None:
    files = export("reboot", {d: 30 for d in DATASETS} | {"security": 365})
    assert len(files) == 2 * len(DATASETS)
    template = files["template-reboot-access.json"]
    assert template["index_patterns"] == ["reboot-access-*"]
    assert template["template"]["settings"]["index.lifecycle.name"] == "reboot-access-policy"
    props = template["template"]["mappings"]["properties"]
    assert props["source"]["properties"]["ip"] == {"type": "ip"}
    assert props["http"]["properties"]["response"]["properties"]["status_code"]["type"] == "long"
    policy = files["ilm-reboot-security-policy.json"]["policy"]["phases"]
    assert policy["delete"]["min_age"] == "365d" and policy["warm"]["min_age"] == "7d"
    json.dumps(files)  # plain JSON
