"""Elasticsearch index templates and ILM policies matching what the sinks write:
one composable template per dataset for ``<prefix>-<dataset>-*`` (the daily
indices of the Elasticsearch sink and of Filebeat shipping the NDJSON files) and
one lifecycle policy per dataset: hot for 7 days, deleted after the dataset's
``logs.retention_days``."""

from __future__ import annotations

from typing import Any

from leadwatch.logs.record import DATASETS

HOT_DAYS = 7

_KEYWORD = {"type": "keyword", "ignore_above": 1024}


def _object(**properties: Any) -> dict[str, Any]:
    return {"properties": properties}


# ECS field types (https://www.elastic.co/guide/en/ecs/current/) for the fields written.
MAPPINGS: dict[str, Any] = {
    "dynamic": True,
    "properties": {
        "@timestamp": {"type": "date"},
        "message": {"type": "match_only_text"},
        "ecs": _object(version=_KEYWORD),
        "data_stream": _object(dataset=_KEYWORD),
        "labels": {"type": "object", "dynamic": True},
        "event": _object(
            dataset=_KEYWORD,
            kind=_KEYWORD,
            duration={"type": "long"},
            original={"type": "keyword", "index": False, "doc_values": False},
        ),
        "source": _object(
            ip={"type": "ip"},
            address=_KEYWORD,
            geo=_object(
                country_iso_code=_KEYWORD,
                region_name=_KEYWORD,
                city_name=_KEYWORD,
                location={"type": "geo_point"},
            ),
            **{"as": _object(number={"type": "long"}, organization=_object(name=_KEYWORD))},
        ),
        "user": _object(name=_KEYWORD),
        "http": _object(
            version=_KEYWORD,
            request=_object(method=_KEYWORD, referrer=_KEYWORD, x_forwarded_for=_KEYWORD),
            response=_object(status_code={"type": "long"}, body=_object(bytes={"type": "long"})),
            upstream=_object(duration={"type": "long"}),
        ),
        "url": _object(
            original={"type": "wildcard"},
            domain=_KEYWORD,
            path={"type": "wildcard"},
            query=_KEYWORD,
        ),
        "user_agent": _object(
            original=_KEYWORD,
            name=_KEYWORD,
            version=_KEYWORD,
            os=_object(name=_KEYWORD),
            device=_object(name=_KEYWORD),
        ),
        "log": _object(level=_KEYWORD, logger=_KEYWORD),
        "error": _object(message={"type": "match_only_text"}, type=_KEYWORD),
        "leadwatch": _object(
            route=_KEYWORD,
            channel=_KEYWORD,
            bot={"type": "boolean"},
            utm={"type": "object", "dynamic": True},
            threats=_object(threat=_KEYWORD, rule=_KEYWORD, field=_KEYWORD, evidence=_KEYWORD),
        ),
    },
}


def policy_name(prefix: str, dataset: str) -> str:
    return f"{prefix}-{dataset}-policy"


def ilm_policy(retention_days: int) -> dict[str, Any]:
    """Hot for 7 days (or the whole retention if shorter), deleted at the retention."""
    return {
        "policy": {
            "_meta": {"managed_by": "leadwatch"},
            "phases": {
                "hot": {"min_age": "0ms", "actions": {"set_priority": {"priority": 100}}},
                "warm": {
                    "min_age": f"{min(HOT_DAYS, retention_days)}d",
                    "actions": {"set_priority": {"priority": 50}},
                },
                "delete": {"min_age": f"{retention_days}d", "actions": {"delete": {}}},
            },
        }
    }


def index_template(prefix: str, dataset: str) -> dict[str, Any]:
    return {
        "index_patterns": [f"{prefix}-{dataset}-*"],
        "priority": 200,
        "_meta": {"managed_by": "leadwatch", "dataset": dataset},
        "template": {
            "settings": {
                "index.lifecycle.name": policy_name(prefix, dataset),
                "index.number_of_shards": 1,
                "index.refresh_interval": "5s",
            },
            "mappings": MAPPINGS,
        },
    }


def export(prefix: str, retention_days: dict[str, int]) -> dict[str, dict[str, Any]]:
    """File name -> JSON document, for every dataset: ``_ilm/policy`` bodies named
    ``ilm-<policy>.json`` and ``_index_template`` bodies named ``template-<name>.json``."""
    files: dict[str, dict[str, Any]] = {}
    for dataset in DATASETS:
        files[f"ilm-{policy_name(prefix, dataset)}.json"] = ilm_policy(retention_days[dataset])
        files[f"template-{prefix}-{dataset}.json"] = index_template(prefix, dataset)
    return files
