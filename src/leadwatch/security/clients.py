"""Who is asking: the client's address, through the reverse proxies we trust."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from ipaddress import IPv4Network, IPv6Network

from starlette.types import Scope

from leadwatch.settings import SecuritySettings

Network = IPv4Network | IPv6Network


def networks(specs: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(s, strict=False) for s in specs)


def never_banned(settings: SecuritySettings) -> tuple[Network, ...]:
    """``security.never_ban`` and the trusted proxies: banning a proxy would refuse
    everyone behind it, and loopback is the server itself (its monitors, a proxy on
    the same host that nobody listed: its ban would refuse every visitor)."""
    return networks(settings.never_ban) + networks(settings.trusted_proxies)


def is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    if not trusted:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_ip(scope: Scope, trusted: tuple[Network, ...]) -> str:
    """The client's address: the peer, or, when the peer is a trusted proxy, the
    right-most address of X-Forwarded-For that is not a trusted proxy itself (the
    left-most is whatever the client chose to write)."""
    client = scope.get("client")
    peer: str = client[0] if client else "unknown"
    if not is_trusted(peer, trusted):
        return peer
    for name, value in scope["headers"]:
        if name == b"x-forwarded-for":
            for hop in reversed(value.decode("latin-1").split(",")):
                hop = hop.strip()
                if hop and not is_trusted(hop, trusted):
                    return hop
    return peer
