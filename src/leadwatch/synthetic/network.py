"""TLS certificate and DNS checks: the two ways a site breaks before any page loads."""

from __future__ import annotations

import socket
import ssl
from datetime import UTC, datetime
from typing import Any

from cryptography import x509

from leadwatch.synthetic.context import RunContext, StepFailed
from leadwatch.synthetic.journey import DnsCheck, TlsCheck

DAY = 86_400.0


def peer_certificate(host: str, port: int, timeout: float, context: ssl.SSLContext) -> bytes:
    with (socket.create_connection((host, port), timeout=timeout) as sock,
          context.wrap_socket(sock, server_hostname=host) as tls):
        der = tls.getpeercert(binary_form=True)
    if der is None:
        raise StepFailed(f"{host}:{port} sent no certificate")
    return der


def run_tls(check: TlsCheck, ctx: RunContext, now: datetime | None = None) -> dict[str, Any]:
    """Days left on the certificate, whether it verifies, and the expiry threshold.

    The certificate is read without verification first, so an expired or untrusted
    one still reports its expiry; verification is a separate, second handshake."""
    host = ctx.text(check.host)
    target = f"{host}:{check.port}"
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    try:
        der = peer_certificate(host, check.port, ctx.remaining(), insecure)
    except (OSError, ssl.SSLError) as exc:
        raise StepFailed(f"TLS handshake with {target} failed: {exc}", {"target": target}) from None
    cert = x509.load_der_x509_certificate(der)
    expires = cert.not_valid_after_utc
    seconds_left = (expires - (now or datetime.now(UTC))).total_seconds()
    details: dict[str, Any] = {
        "target": target,
        "expires": expires.isoformat(),
        "days_left": round(seconds_left / DAY, 2),
        "expiry_seconds": round(seconds_left, 1),
        "subject": cert.subject.rfc4514_string()[:200],
    }
    if check.verify:
        trusted = ssl.create_default_context(cafile=str(check.ca_file) if check.ca_file else None)
        try:
            peer_certificate(host, check.port, ctx.remaining(), trusted)
        except ssl.SSLCertVerificationError as exc:
            details["verified"] = False
            raise StepFailed(f"certificate of {target} does not verify: {exc.verify_message}",
                             details) from None
        except (OSError, ssl.SSLError) as exc:
            raise StepFailed(f"TLS handshake with {target} failed: {exc}", details) from None
        details["verified"] = True
    if seconds_left <= 0:
        raise StepFailed(f"certificate of {target} expired {-seconds_left / DAY:.1f} days ago",
                         details)
    if seconds_left < check.min_days * DAY:
        raise StepFailed(f"certificate of {target} expires in {seconds_left / DAY:.1f} days "
                         f"(less than {check.min_days:g})", details)
    return details


def run_dns(check: DnsCheck, ctx: RunContext) -> dict[str, Any]:
    """Resolve a name: A/AAAA through the system resolver (what visitors' software
    sees, /etc/hosts included) unless a nameserver is given; other types over DNS."""
    name = ctx.text(check.name)
    details: dict[str, Any] = {"name": name, "type": check.type}
    if check.nameserver is None and check.type in ("A", "AAAA"):
        family = socket.AF_INET if check.type == "A" else socket.AF_INET6
        try:
            infos = socket.getaddrinfo(name, None, family, socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise StepFailed(f"{name} does not resolve ({check.type}): {exc.strerror}", details) from None
        answers = sorted({str(info[4][0]) for info in infos})
    else:
        answers = _query(check, name, ctx.remaining(), details)
    details["answers"] = answers[:20]
    lacking = [v for v in check.expect if v.rstrip(".").lower() not in
               {a.rstrip(".").lower() for a in answers}]
    if lacking:
        raise StepFailed(f"{name} {check.type} answers {answers} lack {lacking}", details)
    return details


def _query(check: DnsCheck, name: str, timeout: float, details: dict[str, Any]) -> list[str]:
    import dns.exception
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=check.nameserver is None)
    if check.nameserver is not None:
        resolver.nameservers = [check.nameserver]
        resolver.port = check.port
    try:
        answer = resolver.resolve(name, check.type, lifetime=timeout)
    except dns.exception.DNSException as exc:
        raise StepFailed(f"{name} does not resolve ({check.type}): {exc}", details) from None
    return sorted(_rdata_text(r) for r in answer)


def _rdata_text(rdata: Any) -> str:
    if hasattr(rdata, "exchange"):  # MX: the host, not the preference
        return str(rdata.exchange)
    if hasattr(rdata, "strings"):  # TXT: the joined strings, unquoted
        return b"".join(rdata.strings).decode(errors="replace")
    return str(rdata.to_text())
