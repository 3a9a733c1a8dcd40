"""Local servers for journeys to visit: a small site that can be made to fail in each
way a real one does, and a TLS server with a certificate made for the test."""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

GOOD_HEAD = """<title>SEO services | Example</title>
<meta name="description" content="Search engine optimisation that brings leads.">
<link rel="canonical" href="https://example.test/seo">
<meta name="robots" content="index, follow">
<meta property="og:title" content="SEO services">
<meta property="og:description" content="Search engine optimisation.">
<meta property="og:url" content="https://example.test/seo">"""

FORM_PAGE = """<!doctype html><html><head>{head}</head><body>
<h1>Contact us</h1>
<form method="post" action="{action}">
  <input name="name"><input name="email"><textarea name="message"></textarea>
  <button type="submit">Send</button>
</form></body></html>"""


class Site:
    """What each path answers; ``mode`` switches the failure shown on ``/``."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.delay = 0.0
        self.submissions: list[dict[str, object]] = []
        self.form_action = "/submit"  # where the contact form posts (leadwatch's /api/leads)

    def page(self) -> tuple[int, str, str]:
        head = GOOD_HEAD
        if self.mode == "error":
            return 500, "text/plain", "internal error"
        if self.mode == "missing_meta":
            head = head.replace('<meta name="description" content="Search engine optimisation that brings leads.">', "")
        body = "Welcome to Example" if self.mode != "wrong_content" else "Under maintenance"
        return 200, "text/html", (f"<!doctype html><html><head>{head}</head><body><h1>{body}</h1>"
                                  f"<p>{body}</p><a href='/contact'>Contact</a></body></html>")


@contextmanager
def serve_site(site: Site | None = None) -> Iterator[tuple[str, Site]]:
    site = site or Site()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, ctype: str, body: str, headers: dict[str, str] | None = None) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", f"{ctype}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if site.delay:
                time.sleep(site.delay)
            if self.path == "/":
                self._send(*site.page())
            elif self.path == "/api/token":
                self._send(200, "application/json", json.dumps({"token": "tok-42", "items": [{"id": 7}]}))
            elif self.path.startswith("/api/echo"):
                self._send(200, "application/json",
                           json.dumps({"seen": self.headers.get("X-Token"),
                                       "marker": self.headers.get("X-Leadwatch-Synthetic")}))
            elif self.path == "/contact":
                self._send(200, "text/html", FORM_PAGE.format(head=GOOD_HEAD, action=site.form_action))
            elif self.path == "/thanks":
                self._send(200, "text/html", "<html><head><title>Thanks</title></head><body><h1>Thank you</h1></body></html>")
            else:
                self._send(404, "text/plain", "not found")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            fields = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            site.submissions.append({"fields": fields,
                                     "marker": self.headers.get("X-Leadwatch-Synthetic")})
            self.send_response(303)
            self.send_header("Location", "/thanks")
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", site
    finally:
        server.shutdown()
        server.server_close()


def make_certificate(directory: Path, *, not_before: dt.datetime, not_after: dt.datetime) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost; returns (cert, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@contextmanager
def serve_tls(cert: Path, key: Path) -> Iterator[int]:
    """An HTTPS server with the given certificate; yields its port."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def wait_until(check: Callable[[], Any], timeout: float = 90, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")
