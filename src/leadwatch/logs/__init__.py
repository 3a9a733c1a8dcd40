"""The log pipeline: read access and application logs (files, stdin, HTTP, tailing),
parse them, enrich them, route them to datasets and write them to sinks.

The pieces, in the order a line meets them: ``sources`` (files, gzip, follow with
offsets), ``parse`` (combined/common, nginx JSON, application JSON, auto), ``enrich``
(geo, user agent, URL, channel, threats), ``pipeline`` (routing, dead letters,
metrics, subscribers), ``sinks`` (EventStore, NDJSON files, Elasticsearch).
"""
