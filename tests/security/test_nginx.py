"""leadwatch behind a real nginx, configured as docs/security.md says: the client is
the address nginx saw (not nginx's, and not what the client wrote in
X-Forwarded-For), and a ban holds in leadwatch at once and at the edge once
``export-nginx`` has written the deny file and nginx has reloaded.

Every address is on loopback: the attacker's requests leave from 127.0.0.2 (all of
127/8 is the loopback interface), the analyst's and nginx's from 127.0.0.1. So the
default ``security.never_ban`` (loopback) is emptied: nginx, the trusted proxy, stays
never banned.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import ADMIN, ADMIN_TOKEN
from tests.servers import LeadwatchProcess, NginxServer, missing
from tests.synthetic.sites import wait_until

DOCS = Path(__file__).parents[2] / "docs" / "security.md"
ATTACKER = "127.0.0.2"
LOOPBACK_BANNABLE = {"LEADWATCH_SECURITY__NEVER_BAN": "[]"}


def documented(language: str) -> str:
    """The code block in ``language`` of docs/security.md's "Behind nginx"."""
    section = DOCS.read_text().split("## Behind nginx", 1)[1].split("\n## ", 1)[0]
    found = re.search(rf"```{language}\n(.*?)```", section, re.DOTALL)
    assert found, f"docs/security.md, Behind nginx: no {language} block"
    return found.group(1)


def documented_site(replicas: list[LeadwatchProcess], deny: Path) -> Callable[[int], str]:
    """docs/security.md's nginx site, on a test port, in front of ``replicas``."""
    site = documented("nginx")
    servers = "".join(f"    server 127.0.0.1:{r.port};\n" for r in replicas)
    site, one = re.subn(r"    server 127\.0\.0\.1:8000;.*\n", servers, site)
    assert one == 1, "the documented upstream has one server line to repeat"
    site = site.replace("/etc/nginx/leadwatch-deny.conf", str(deny))
    return lambda port: site.replace("listen 80;", f"listen 127.0.0.1:{port};")


def documented_settings(path: Path) -> Path:
    path.write_text(documented("yaml"))
    assert yaml.safe_load(path.read_text())["security"]["trusted_proxies"]
    return path


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if found is None:
        missing("needs Debian's nginx package")
    assert found is not None
    return found


def from_address(address: str, url: str, **options: Any) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=10, transport=httpx.HTTPTransport(local_address=address),
                        **options)


@pytest.fixture
def started(tmp_path: Path) -> Iterator[Callable[[Any], Any]]:
    """Start a server (anything with start and stop); stopped at the end, last first."""
    servers: list[Any] = []

    def start(server: Any, *args: Any, **kwargs: Any) -> Any:
        servers.append(server)
        return server.start(*args, **kwargs)

    yield start
    for server in reversed(servers):
        server.stop()


def test_behind_nginx_the_client_is_who_nginx_saw_and_bans_hold_at_the_edge(
    tmp_path: Path, started: Callable[..., Any]
) -> None:
    binary = nginx_binary()
    env = {"LEADWATCH_DATA_DIR": str(tmp_path / "data"),
           "LEADWATCH_CONFIG": str(documented_settings(tmp_path / "leadwatch.yaml")),
           "LEADWATCH_ADMIN_TOKEN": ADMIN_TOKEN, "LEADWATCH_LOGGING__LEVEL": "warning", **LOOPBACK_BANNABLE}
    leadwatch = started(LeadwatchProcess(env, tmp_path / "leadwatch.log"))
    deny = tmp_path / "leadwatch-deny.conf"
    deny.write_text("")
    nginx = started(NginxServer(binary, tmp_path / "nginx", documented_site([leadwatch], deny)),
                    ready_path="/ready")
    with from_address(ATTACKER, nginx.url) as attacker, \
            httpx.Client(base_url=nginx.url, headers=ADMIN, timeout=10) as analyst:
        # An attack through nginx is refused and recorded under the attacker's address,
        # whatever the attacker wrote in X-Forwarded-For.
        refused = attacker.get("/health", params={"id": "1' OR '1'='1"},
                               headers={"X-Forwarded-For": "198.51.100.9"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "blocked"
        wait_until(lambda: {i["ip"] for i in analyst.get("/api/v1/security/incidents").json()} == {ATTACKER},
                   timeout=15, what="the attack's incident, under the attacker's address")

        # The analyst (nginx's own address, 127.0.0.1, as far as leadwatch knows) bans
        # the attacker: leadwatch refuses them at once, and no one else.
        banned = analyst.post("/api/v1/security/bans", json={"address": ATTACKER, "reason": "sqli"})
        assert banned.status_code == 201, banned.text
        refused = attacker.get("/health", headers={"X-Forwarded-For": "198.51.100.9"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "banned"
        assert analyst.get("/health").status_code == 200

        # At the edge: the deny file, then nginx reloads; nginx itself refuses them,
        # so the request never reaches leadwatch (nginx's page, not leadwatch's JSON).
        subprocess.run([sys.executable, "-m", "leadwatch", "security", "export-nginx",
                        "--output", str(deny)], env={**os.environ, **env}, check=True)
        assert f"deny {ATTACKER};" in deny.read_text().splitlines()
        nginx.reload()
        wait_until(lambda: "json" not in attacker.get("/health").headers.get("content-type", ""),
                   timeout=15, what="nginx refusing the attacker")
        at_edge = attacker.get("/health")
        assert at_edge.status_code == 403 and "nginx" in at_edge.text
        assert analyst.get("/health").status_code == 200


@pytest.mark.postgres
def test_two_replicas_behind_nginx_count_a_brute_force_whole(
    tmp_path: Path, pg_url: str, started: Callable[..., Any]
) -> None:
    """21 failed logins through nginx, with two replicas: the documented upstream sends
    them all to one replica, which detects the brute force; the ban holds on both."""
    binary = nginx_binary()
    env = {"LEADWATCH_DATABASE_URL": pg_url,
           "LEADWATCH_CONFIG": str(documented_settings(tmp_path / "leadwatch.yaml")),
           "LEADWATCH_SECURITY__BAN_REFRESH_SECONDS": "0.2", "LEADWATCH_LOGGING__LEVEL": "warning",
           **LOOPBACK_BANNABLE}
    replicas = [started(LeadwatchProcess({**env, "LEADWATCH_DATA_DIR": str(tmp_path / f"data{n}")},
                                         tmp_path / f"replica{n}.log")) for n in (1, 2)]
    deny = tmp_path / "leadwatch-deny.conf"
    deny.write_text("")
    nginx = started(NginxServer(binary, tmp_path / "nginx", documented_site(replicas, deny)),
                    ready_path="/ready")
    with from_address(ATTACKER, nginx.url) as attacker:
        answers = [attacker.post("/api/v1/session", json={"username": "admin", "password": f"guess {n}"})
                   for n in range(21)]
        assert {a.status_code for a in answers} <= {401, 429}
        wait_until(lambda: attacker.get("/health").status_code == 403, timeout=15, what="the ban")
        assert attacker.get("/health").json()["error"]["code"] == "banned"
    for replica in replicas:  # asked directly, each replica refuses the attacker
        with from_address(ATTACKER, replica.url) as direct:
            wait_until(lambda direct=direct: direct.get("/health").status_code == 403, timeout=15,
                       what=f"{replica.url} refusing the attacker")
