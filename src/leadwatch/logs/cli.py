"""``leadwatch logs ingest|search|export-templates``.

``ingest`` writes straight into the stores when it can open them. A standalone
server holds its DuckDB file, so beside a running server use ``--server URL --token
T``: the lines are shipped to its ``POST /api/v1/logs`` instead (``search`` has the
same option, using ``GET /api/v1/logs``).
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from leadwatch.cli import ConfigOption, fail, settings_or_exit
from leadwatch.logs.parse import FORMATS, Format
from leadwatch.logs.pipeline import BatchResult, LineWriter
from leadwatch.settings import Settings

logs_app = typer.Typer(
    help="Ingest, search and ship access and application logs.", no_args_is_help=True
)

ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        help="Send to (or query) a running leadwatch at this URL instead of opening the "
        "stores; needed beside a running standalone server.",
        show_default=False,
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token", envvar="LEADWATCH_TOKEN", help="Bearer token for --server ($LEADWATCH_TOKEN).",
        show_default=False,
    ),
]


def _format(value: str) -> Format:
    if value not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}")
    return value  # type: ignore[return-value]


@contextmanager
def _writer(settings: Settings, server: str | None, token: str | None) -> Iterator[LineWriter]:
    if server is None:
        from leadwatch.logs.direct import direct_pipeline

        with ExitStack() as stack:
            try:
                pipeline = stack.enter_context(direct_pipeline(settings))
            except Exception as exc:  # DuckDB refuses a second process: name the way out
                fail(
                    f"cannot open the event store ({exc}); if a leadwatch server is running, "
                    "use --server URL --token T to send the lines to it"
                )
            yield pipeline
        return
    if not token:
        fail("--server needs --token (or $LEADWATCH_TOKEN)", code=2)
    from leadwatch.logs.ship import HttpShipper

    shipper = HttpShipper(server, token)
    try:
        yield shipper
    finally:
        shipper.close()


@logs_app.command("ingest")
def ingest(
    paths: Annotated[
        list[str], typer.Argument(help="Log files (plain or gzip); - reads standard input.")
    ],
    config: ConfigOption = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow", "-f",
            help="Keep reading as the files grow, across rotation (rename and copytruncate); "
            "offsets are kept in the data dir, so a restart resumes where it stopped.",
        ),
    ] = False,
    fmt: Annotated[
        str, typer.Option("--format", help="auto, combined, nginx-json or json.", callback=_format)
    ] = "auto",
    site: Annotated[str, typer.Option(help="Site id given to the records.")] = "default",
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Parse, enrich and store log lines from files, gzip files or stdin."""
    settings = settings_or_exit(config)
    if site not in {s.id for s in settings.sites}:
        fail(f"--site: unknown site {site!r}", code=2)
    if follow and "-" in paths:
        fail("--follow reads files, not standard input", code=2)
    files = [Path(p).absolute() for p in paths if p != "-"]
    for path in files:
        if not path.is_file() and not follow:
            fail(f"{path}: no such file", code=2)
    total = BatchResult()
    started = time.perf_counter()
    with _writer(settings, server, token) as writer:
        if follow:
            _follow(settings, writer, files, site, fmt, total)  # type: ignore[arg-type]
        else:
            for name in paths:
                _ingest_one(settings, writer, name, site, fmt, total)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    parts = ", ".join(f"{d} {n:,}" for d, n in sorted(total.datasets.items()))
    typer.echo(
        f"ingested {total.lines:,} lines in {elapsed:.1f} s "
        f"({total.lines / max(elapsed, 1e-9):,.0f} lines/s): {parts or 'nothing'}"
    )


def _ingest_one(
    settings: Settings, writer: LineWriter, name: str, site: str, fmt: Format, total: BatchResult
) -> None:
    from leadwatch.logs.sources import FileReader, batches

    size = settings.logs.batch_lines
    if name == "-":
        for lines in batches(sys.stdin.buffer, size):
            total.add(writer.process(lines, site_id=site, fmt=fmt))
        return
    reader = FileReader(Path(name))
    with _progress(name, reader.size) as advance:
        for lines in reader.batches(size):
            total.add(writer.process(lines, site_id=site, fmt=fmt))
            advance(reader.position(), total.lines)


@contextmanager
def _progress(name: str, size: int) -> Iterator[Any]:
    """A rich progress bar (bytes read, lines, lines/s, ETA) on a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[lines]:,} lines, {task.fields[rate]:,.0f} lines/s"),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    started = time.perf_counter()

    def advance(position: int, lines: int) -> None:
        rate = lines / max(time.perf_counter() - started, 1e-9)
        progress.update(task, completed=position, lines=lines, rate=rate)

    with progress:
        task = progress.add_task(Path(name).name, total=size, lines=0, rate=0.0)
        yield advance


def _follow(
    settings: Settings,
    writer: LineWriter,
    files: list[Path],
    site: str,
    fmt: Format,
    total: BatchResult,
) -> None:
    from leadwatch.logs.tail import Followed, Tailer, offset_store

    tailer = Tailer(
        writer,
        [Followed(path, site, fmt) for path in files],
        offset_store(settings.storage.data_dir),
        batch_lines=settings.logs.batch_lines,
        poll_interval=settings.logs.poll_interval_seconds,
    )
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        tailer.run(stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        tailer.close()
        total.add(tailer.total)


@logs_app.command("search")
def search_command(
    query: Annotated[str, typer.Argument(help="e.g. 'status>=500 path:/contact*'.")] = "",
    config: ConfigOption = None,
    dataset: Annotated[str | None, typer.Option(help="access, application, security, ...")] = None,
    site: Annotated[str | None, typer.Option(help="Only this site's records.")] = None,
    start: Annotated[
        datetime | None, typer.Option("--from", help="ISO 8601 start (UTC), inclusive.")
    ] = None,
    end: Annotated[datetime | None, typer.Option("--to", help="ISO 8601 end (UTC), exclusive.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Records to show.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole result as JSON.")] = False,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Search stored log records, newest first, with facet counts."""
    settings = settings_or_exit(config)
    if server is not None:
        result = _remote_search(server, token, query, dataset, site, start, end, limit)
    else:
        result = _local_search(settings, query, dataset, site, start, end, limit)
    if as_json:
        typer.echo(json.dumps(result, indent=2, default=str))
        return
    typer.echo(f"{result['total']:,} records")
    for r in result["records"]:
        status = "" if r.get("status") is None else int(r["status"])
        what = r.get("path") or r.get("message") or ""
        typer.echo(
            f"{r['ts']}  {r['dataset']:<12} {r.get('source_ip') or '-':<15} "
            f"{r.get('method') or '':<6} {status!s:<4} {what}"
        )
    for name, counts in result["facets"].items():
        shown = ", ".join(f"{c['value']} ({c['count']:,})" for c in counts)
        if shown:
            typer.echo(f"  {name}: {shown}")


def _local_search(
    settings: Settings, query: str, dataset: str | None, site: str | None,
    start: datetime | None, end: datetime | None, limit: int,
) -> dict[str, Any]:
    from leadwatch.logs.search import SearchError, filters, search
    from leadwatch.store.events import open_event_store

    try:
        where = filters(q=query, site_id=site, dataset=dataset, start=start, end=end)
    except SearchError as exc:
        fail(str(exc), code=2)
    try:
        store = open_event_store(settings)
    except Exception as exc:
        fail(f"cannot open the event store ({exc}); beside a running server use --server URL --token T")
    try:
        store.migrate()
        return search(store, where, limit=limit)
    finally:
        store.close()


def _remote_search(
    server: str, token: str | None, query: str, dataset: str | None, site: str | None,
    start: datetime | None, end: datetime | None, limit: int,
) -> dict[str, Any]:
    import httpx

    if not token:
        fail("--server needs --token (or $LEADWATCH_TOKEN)", code=2)
    params: dict[str, Any] = {"q": query, "limit": limit}
    for key, value in (("dataset", dataset), ("site", site), ("from", start), ("to", end)):
        if value is not None:
            params[key] = value.isoformat() if isinstance(value, datetime) else value
    response = httpx.get(
        f"{server.rstrip('/')}/api/v1/logs", params=params,
        headers={"Authorization": f"Bearer {token}"}, timeout=60,
    )
    if response.status_code != 200:
        fail(f"the server answered {response.status_code}: {response.text[:300]}")
    data: dict[str, Any] = response.json()
    return data


@logs_app.command("export-templates")
def export_templates(
    config: ConfigOption = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Directory to write the JSON files to.")
    ] = Path("elasticsearch"),
) -> None:
    """Write Elasticsearch index templates and ILM policies for the datasets."""
    from leadwatch.logs.templates import export

    settings = settings_or_exit(config)
    output.mkdir(parents=True, exist_ok=True)
    for name, body in export(settings.logs.index_prefix, settings.logs.retention_days).items():
        (output / name).write_text(json.dumps(body, indent=2) + "\n")
        typer.echo(str(output / name))
