"""Real servers for tests and benchmarks: a throwaway PostgreSQL cluster, leadwatch
itself as a process, Prometheus, Alertmanager and nginx, and the lookups that decide
whether a server can run here.

When a server's binaries are missing, tests skip with a one-line reason, except
under CI (``CI`` set), where the same absence fails the run: CI must test it all.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx
import psycopg
import pytest


def missing(reason: str) -> None:
    """Skip (or, under CI, fail) the current test because a real server cannot run."""
    if os.environ.get("CI"):
        pytest.fail(f"CI needs it: {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_bindir() -> Path | None:
    """Debian keeps the server binaries under /usr/lib/postgresql/<major>/bin."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3])
    )
    return versions[-1].parent if versions else None


class PostgresServer:
    """A PostgreSQL cluster in a temporary directory on a free loopback port.

    Tests turn durability off (throwaway data); benchmarks keep PostgreSQL's
    defaults (``durable=True``) so their figures mean what a user would see.
    PostgreSQL refuses to run as root, so as root it runs as the ``postgres`` user.
    """

    def __init__(self, bindir: Path, durable: bool = False):
        self.bindir = bindir
        self.durable = durable
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="leadwatch-pg-"))
        self.data = self.dir / "data"
        self._as: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self._as, *args], check=True, capture_output=True, text=True, cwd=self.dir
        )

    def start(self) -> PostgresServer:
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "-E", "UTF8", "--no-sync",
        )
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.dir / "server.log"), "-w", "-t", "60", "start",
        )
        return self

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def create_database(self) -> str:
        name = f"lw_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def wait_ready(
    proc: subprocess.Popen[bytes], url: str, name: str, log: Callable[[], str], timeout: float
) -> None:
    """Poll ``url`` until it answers 200; fail with the server's log if ``proc`` exits
    first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}: {log()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not become ready: {log()}")


class LeadwatchProcess:
    """``leadwatch serve`` in its own process, as a user runs it."""

    def __init__(self, env: Mapping[str, str], log_path: Path, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env, "LEADWATCH_PORT": str(self.port)}
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> LeadwatchProcess:
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "leadwatch", "serve"],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_ready(self.proc, f"{self.url}/ready", "leadwatch", self.log, timeout)
        return self

    def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 60) -> int:
        assert self.proc is not None
        code = self.proc.wait(timeout)
        self._log.close()
        return code

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


class _Daemon:
    """A server binary on a free loopback port, its files and output in ``workdir``."""

    output = "server.log"  # where its stdout and stderr go, in workdir

    def __init__(self, binary: str, workdir: Path):
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None

    def _spawn(self, *args: str) -> None:
        self._log = (self.workdir / self.output).open("ab")
        self.proc = subprocess.Popen([self.binary, *args], stdout=self._log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(30)
            self._log.close()


class PrometheusServer(_Daemon):
    """Debian's Prometheus on a free loopback port, scraping the given targets; with
    ``rule_files``, evaluating them, and with ``alertmanagers`` (host:port), sending
    its alerts there."""

    output = "prometheus.log"

    def __init__(self, binary: str, workdir: Path, targets: list[str], interval: str = "1s",
                 rule_files: Sequence[Path] = (), alertmanagers: Sequence[str] = ()):
        super().__init__(binary, workdir)
        quoted = ", ".join(f'"{t}"' for t in targets)
        config = (
            f"global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n"
            f"scrape_configs:\n  - job_name: leadwatch\n    static_configs:\n"
            f"      - targets: [{quoted}]\n"
        )
        if rule_files:
            config += "rule_files:\n" + "".join(f'  - "{p}"\n' for p in rule_files)
        if alertmanagers:
            managers = ", ".join(f'"{a}"' for a in alertmanagers)
            config += f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [{managers}]\n"
        (workdir / "prometheus.yml").write_text(config)

    def start(self) -> PrometheusServer:
        self._spawn(
            f"--config.file={self.workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        )
        return self

    def query(self, promql: str) -> list[dict[str, object]]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
        response.raise_for_status()
        result: list[dict[str, object]] = response.json()["data"]["result"]
        return result

    def wait_for(self, promql: str, timeout: float = 60) -> list[dict[str, object]]:
        """Poll until ``promql`` returns a non-empty result."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                result = self.query(promql)
                if result:
                    return result
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"no result for {promql!r}")


class AlertmanagerServer(_Daemon):
    """Debian's Alertmanager (``prometheus-alertmanager``) on a free loopback port with
    the given configuration, clustering off (no gossip port, no settling wait)."""

    output = "alertmanager.log"

    def __init__(self, binary: str, workdir: Path, config: str):
        super().__init__(binary, workdir)
        self.address = f"127.0.0.1:{self.port}"
        (workdir / "alertmanager.yml").write_text(config)

    def start(self, timeout: float = 60) -> AlertmanagerServer:
        self._spawn(
            f"--config.file={self.workdir / 'alertmanager.yml'}",
            f"--storage.path={self.workdir / 'data'}",
            f"--web.listen-address={self.address}",
            "--cluster.listen-address=",
        )
        wait_ready(self.proc, f"{self.url}/-/ready", "alertmanager", self.log, timeout)
        return self

    def log(self) -> str:
        return (self.workdir / "alertmanager.log").read_text(errors="replace")[-4000:]


class NginxServer(_Daemon):
    """Debian's nginx with ``site`` (what one would put in ``/etc/nginx/conf.d/``:
    ``upstream`` and ``server`` blocks) inside its ``http`` block; its files live in
    ``workdir``. The site must listen on ``self.port`` (127.0.0.1). ``reload``
    re-reads the configuration the way ``nginx -s reload`` does."""

    output = "nginx.out"

    def __init__(self, binary: str, workdir: Path, site: Callable[[int], str]):
        super().__init__(binary, workdir)
        # As root, nginx's workers would run as nobody and could not reach the
        # test's private temporary directories.
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
        temp = "".join(f"  {kind}_temp_path {workdir / kind};\n"
                       for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (workdir / "nginx.conf").write_text(
            f"{user}pid {workdir / 'nginx.pid'};\nerror_log {workdir / 'error.log'} warn;\n"
            "worker_processes 1;\nevents { worker_connections 64; }\n"
            f"http {{\n  access_log {workdir / 'access.log'};\n{temp}{site(self.port)}\n}}\n"
        )

    def _args(self) -> list[str]:
        conf, log = self.workdir / "nginx.conf", self.workdir / "error.log"
        return ["-p", str(self.workdir), "-c", str(conf), "-e", str(log)]

    def check(self) -> None:
        """``nginx -t``: the configuration is valid (raises with nginx's words if not)."""
        subprocess.run([self.binary, *self._args(), "-t", "-q"], check=True, capture_output=True)

    def start(self, ready_path: str = "/", timeout: float = 30) -> NginxServer:
        self.check()
        self._spawn(*self._args(), "-g", "daemon off;")
        wait_ready(self.proc, self.url + ready_path, "nginx", self.log, timeout)
        return self

    def reload(self) -> None:
        assert self.proc is not None
        self.check()
        self.proc.send_signal(signal.SIGHUP)

    def log(self) -> str:
        return (self.workdir / "error.log").read_text(errors="replace")[-4000:]
