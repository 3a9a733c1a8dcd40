"""Temporary IP bans, kept in the RecordStore so every replica honours them.

Each replica holds the active bans in memory (a request asks a dict and, for bans of
whole networks, a short list) and reloads them from the store every
``security.ban_refresh_seconds``; a ban made here is in force here at once, and in
the other replicas at their next reload. A ban ends when it expires or is lifted.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy import select

from leadwatch.background import PeriodicService
from leadwatch.security.clients import Network
from leadwatch.security.models import IpBan
from leadwatch.store.models import now
from leadwatch.store.records import RecordStore
from leadwatch.store.schema import utc_aware


def parse_network(value: str) -> Network:
    """An address or network in canonical form; ValueError names what is wrong."""
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address or network") from None


# The widest network a ban may cover: an IPv4 /16 (65,536 addresses) or an IPv6 /32 (an
# ISP's allocation). A slip such as 0.0.0.0/0 or 10.0.0.0/1 would refuse everyone, the
# analyst and the admin API included, until someone lifts it from the command line.
WIDEST_BAN = {4: 16, 6: 32}


def parse_ban(value: str, never: Sequence[Network] = ()) -> Network:
    """The network a ban may cover, none of it in ``never`` (security.never_ban and
    the trusted proxies); ValueError names what is wrong."""
    net = parse_network(value)
    if net.prefixlen < WIDEST_BAN[net.version]:
        raise ValueError(f"{net} is too wide to ban: at most a /{WIDEST_BAN[net.version]} "
                         f"(IPv{net.version})")
    for protected in never:
        if protected.version == net.version and protected.overlaps(net):  # type: ignore[arg-type]
            raise ValueError(f"{net} overlaps {protected}, which is never banned "
                             "(security.never_ban and the trusted proxies)")
    return net


@dataclass(frozen=True)
class ActiveBan:
    id: int
    network: str
    reason: str
    threat: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, row: IpBan) -> ActiveBan:
        return cls(row.id, row.network, row.reason, row.threat, row.created_by,
                   row.created_at, row.expires_at)


def add_ban(
    records: RecordStore, network: str, *, seconds: float, reason: str,
    threat: str | None = None, created_by: str = "auto", since: datetime | None = None,
    never: Sequence[Network] = (),
) -> ActiveBan:
    """A ban of ``seconds`` from ``since`` (default now): a detector's ban starts at
    its detection, which for a replayed log line is in the past. ``never``: networks
    it must not touch (see parse_ban)."""
    net = parse_ban(network, never)
    start = utc_aware(since) if since is not None else now()
    with records.session() as session:
        row = IpBan(network=str(net), reason=reason[:500], threat=threat, created_by=created_by,
                    created_at=start, expires_at=start + timedelta(seconds=seconds))
        session.add(row)
        session.flush()
        return ActiveBan.of(row)


def lift_bans(records: RecordStore, network: str, *, automatic_for: str | None = None) -> int:
    """Lift every active ban of exactly ``network``; how many were lifted. With
    ``automatic_for`` (a threat), only the bans a detector made for that threat: a
    ban someone made by hand stays."""
    net = str(parse_network(network))
    query = _active().where(IpBan.network == net)
    if automatic_for is not None:
        query = query.where(IpBan.created_by == "auto", IpBan.threat == automatic_for)
    with records.session() as session:
        rows = session.scalars(query).all()
        for row in rows:
            row.lifted_at = now()
        return len(rows)


def active_bans(records: RecordStore) -> list[ActiveBan]:
    with records.session() as session:
        return [ActiveBan.of(r) for r in session.scalars(_active().order_by(IpBan.id))]


def _active():  # type: ignore[no-untyped-def]
    return select(IpBan).where(IpBan.lifted_at.is_(None), IpBan.expires_at > now())


def nginx_deny(bans: list[ActiveBan]) -> str:
    """An nginx include file: one ``deny`` per banned network (``include`` it in a
    ``server`` or ``http`` block; reload nginx after writing it)."""
    lines = [f"# Written by `leadwatch security export-nginx`; active bans at {now():%Y-%m-%dT%H:%M:%SZ}."]
    for network in sorted({b.network for b in bans}):
        address = network.removesuffix("/32") if ":" not in network else network.removesuffix("/128")
        lines.append(f"deny {address};")
    return "\n".join(lines) + "\n"


class BanList(PeriodicService):
    """The active bans, as this replica knows them; ``banned(ip)`` is the hot path.
    As a service it reloads them every ``refresh_seconds``."""

    name = "security-bans"
    join_timeout = 30
    failure_event = "ban_reload_failed"  # the store may be down; the last known bans stay

    def __init__(self, records: RecordStore, registry: CollectorRegistry, refresh_seconds: float):
        super().__init__()
        self.records = records
        self.interval = refresh_seconds
        self._hosts: dict[str, datetime] = {}  # address -> when its ban ends
        self._networks: list[tuple[Network, datetime]] = []
        self._gauge = Gauge("leadwatch_ip_bans_active", "Addresses and networks banned now.",
                            registry=registry)

    def banned(self, ip: str) -> datetime | None:
        """When the ban of ``ip`` ends, or None when it is not banned."""
        until = self._hosts.get(ip)
        if until is None and self._networks:
            try:
                address = ipaddress.ip_address(ip)
            except ValueError:
                return None
            until = max((u for n, u in self._networks if address in n), default=None)
        return until if until is not None and until > now() else None

    def ban(self, ip: str, *, seconds: float, reason: str, threat: str | None,
            created_by: str = "auto", since: datetime | None = None) -> ActiveBan:
        """Ban for ``seconds`` from ``since`` (default now), here at once and (after their
        next reload) in every replica."""
        ban = add_ban(self.records, ip, seconds=seconds, reason=reason, threat=threat,
                      created_by=created_by, since=since)
        self._hold(ban)
        return ban

    def reload(self) -> None:
        bans = active_bans(self.records)
        hosts: dict[str, datetime] = {}
        networks: list[tuple[Network, datetime]] = []
        for ban in bans:
            net = parse_network(ban.network)
            if net.num_addresses == 1:
                address = str(net.network_address)
                hosts[address] = max(ban.expires_at, hosts.get(address, ban.expires_at))
            else:
                networks.append((net, ban.expires_at))
        self._hosts, self._networks = hosts, networks  # swapped whole: readers never lock
        self._gauge.set(len(bans))

    def _hold(self, ban: ActiveBan) -> None:
        net = parse_network(ban.network)
        if net.num_addresses == 1:
            self._hosts = {**self._hosts, str(net.network_address): ban.expires_at}
        else:
            self._networks = [*self._networks, (net, ban.expires_at)]

    def start(self) -> None:
        self.reload()  # in force before the first request is served
        super().start()

    def tick(self) -> None:
        self.reload()
