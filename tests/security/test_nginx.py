"""leadwatch behind a real nginx, configured as docs/security.md says: the client is
the address nginx saw (not nginx's, and not what the client wrote in
X-Forwarded-For), and a ban holds in leadwatch at once and at the edge once
``export-nginx`` has written the deny file and nginx has reloaded.

Every address is on loopback: the attacker's requests leave from 127.0.0.2 (all of
127/8 is the loopback interface), the analyst's and nginx's from 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import ADMIN, ADMIN_TOKEN
from tests.servers import LeadwatchProcess, NginxServer, missing

DOCS = Path(__file__).parents[2] / "docs" / "security.md"
ATTACKER = "127.0.0.2"


def documented(language: str) -> str:
    """The code block in ``language`` of docs/security.md's "Behind nginx"."""
    section = DOCS.read_text().split("## Behind nginx", 1)[1].split("\n## ", 1)[0]
    found = re.search(rf"```{language}\n(.*?)```", section, re.DOTALL)
    assert found, f"docs/security.md, Behind nginx: no {language} block"
    return found.group(1)


def eventually(check: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.1)


def test_behind_nginx_the_client_is_who_nginx_saw_and_bans_hold_at_the_edge(tmp_path: Path) -> None:
    binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if binary is None:
        missing("needs Debian's nginx package")
    config = tmp_path / "leadwatch.yaml"
    config.write_text(documented("yaml"))
    assert yaml.safe_load(config.read_text())["security"]["trusted_proxies"]
    env = {"LEADWATCH_DATA_DIR": str(tmp_path / "data"), "LEADWATCH_CONFIG": str(config),
           "LEADWATCH_ADMIN_TOKEN": ADMIN_TOKEN, "LEADWATCH_LOGGING__LEVEL": "warning"}
    leadwatch = LeadwatchProcess(env, tmp_path / "leadwatch.log").start()
    deny = tmp_path / "leadwatch-deny.conf"
    deny.write_text("")
    site = (documented("nginx").replace("http://127.0.0.1:8000", leadwatch.url)
            .replace("/etc/nginx/leadwatch-deny.conf", str(deny)))
    nginx = NginxServer(binary, tmp_path / "nginx", site)
    attacker = httpx.Client(base_url=nginx.url, timeout=10,
                            transport=httpx.HTTPTransport(local_address=ATTACKER))
    analyst = httpx.Client(base_url=nginx.url, headers=ADMIN, timeout=10)
    try:
        nginx.start(ready_path="/ready")

        # An attack through nginx is refused and recorded under the attacker's address,
        # whatever the attacker wrote in X-Forwarded-For.
        refused = attacker.get("/health", params={"id": "1' OR '1'='1"},
                               headers={"X-Forwarded-For": "198.51.100.9"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "blocked"

        def incident_addresses() -> set[str]:
            incidents = analyst.get("/api/v1/security/incidents").json()
            return {i["ip"] for i in incidents}

        eventually(lambda: incident_addresses() == {ATTACKER})

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
        eventually(lambda: "json" not in attacker.get("/health").headers.get("content-type", ""))
        at_edge = attacker.get("/health")
        assert at_edge.status_code == 403 and "nginx" in at_edge.text
        assert analyst.get("/health").status_code == 200
    finally:
        attacker.close()
        analyst.close()
        nginx.stop()
        leadwatch.stop()
