"""Geolocation: the country of an IP address, offline, and optionally its region,
city and network (ASN) from a ``.mmdb`` file the user supplies.

iptocc (permissively licensed, bundled data) answers the country with no set-up.
MaxMind GeoLite2/GeoIP2 and DB-IP ``.mmdb`` files (City, Country, ASN; any number
of them, read with maxminddb) add what they hold and win over iptocc for the
country. Results are cached; an IP address is looked up, never stored.

Logs bring many addresses seen once, so a cache miss must be cheap too: iptocc itself
answers in well under a microsecond; parsing the text with ``ipaddress`` and asking
``is_global`` cost about 30 times that. A dotted-quad IPv4 address is therefore
checked against a precomputed table of the special-purpose ranges (the ones
``ipaddress`` uses, evaluated by ``ipaddress`` itself), and anything else (IPv6,
odd spellings) takes the ``ipaddress`` path. Not a per-/24 cache: allocations and
``.mmdb`` cities are finer than /24.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import iptocc
import maxminddb

CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Geo:
    country: str | None = None  # ISO 3166-1 alpha-2, upper case
    region: str | None = None  # first subdivision's name (state, county)
    city: str | None = None
    asn: int | None = None
    as_org: str | None = None


NOWHERE = Geo()


def _ipv4_global_table() -> tuple[list[int], list[bool]]:
    """Sorted range starts over the whole IPv4 space and, for each range, whether its
    addresses are global. The boundaries are those of every network ``ipaddress``
    keeps for IPv4; the verdict of each range is ``ipaddress``'s own ``is_global`` for
    its first address, so the table agrees with it address for address."""
    constants = ipaddress.IPv4Address._constants  # type: ignore[attr-defined]
    networks: list[ipaddress.IPv4Network] = []
    for name in dir(constants):
        value = getattr(constants, name)
        for item in value if isinstance(value, list | tuple) else [value]:
            if isinstance(item, ipaddress.IPv4Network):
                networks.append(item)
            elif isinstance(item, ipaddress.IPv4Address):
                networks.append(ipaddress.IPv4Network(item))
    bounds = {0}
    for net in networks:
        bounds.add(int(net.network_address))
        if int(net.broadcast_address) + 1 < 2**32:
            bounds.add(int(net.broadcast_address) + 1)
    starts: list[int] = []
    verdicts: list[bool] = []
    for start in sorted(bounds):
        verdict = ipaddress.IPv4Address(start).is_global
        if not verdicts or verdicts[-1] != verdict:
            starts.append(start)
            verdicts.append(verdict)
    return starts, verdicts


_STARTS, _GLOBAL = _ipv4_global_table()
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# Dotted quads exactly as ipaddress accepts and prints them (no leading zeros).
_DOTTED_QUAD = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}").fullmatch


def _ipv4_is_global(a: str, b: str, c: str, d: str) -> bool:
    number = (int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d)
    return _GLOBAL[bisect_right(_STARTS, number) - 1]


class GeoLookup:
    """Country by iptocc; region, city and ASN from the given ``.mmdb`` files."""

    def __init__(self, databases: Iterable[Path] = ()):
        self._readers = [maxminddb.open_database(str(path)) for path in databases]
        self._by_country: dict[str | None, Geo] = {None: NOWHERE}
        self.lookup = lru_cache(maxsize=CACHE_SIZE)(self._lookup)

    def _lookup(self, ip: str | None) -> Geo:
        if not ip:
            return NOWHERE
        quad = _DOTTED_QUAD(ip)
        if quad is not None and not self._readers:
            # The common case, without ipaddress objects: ``ip`` is already the
            # canonical text, and a country-only Geo is shared per country.
            if not _ipv4_is_global(*quad.groups()):
                return NOWHERE
            country = iptocc.country_code(ip)
            country = country.upper() if country else None
            geo = self._by_country.get(country)
            if geo is None:
                geo = self._by_country[country] = Geo(country=country)
            return geo
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return NOWHERE
        if not address.is_global:
            return NOWHERE
        found: dict[str, Any] = {}
        for reader in self._readers:
            record = reader.get(address)
            if isinstance(record, dict):
                _merge(found, record)
        country = found.get("country") or iptocc.country_code(str(address))
        return Geo(
            country=country.upper() if country else None,
            region=found.get("region"),
            city=found.get("city"),
            asn=found.get("asn"),
            as_org=found.get("as_org"),
        )

    def close(self) -> None:
        for reader in self._readers:
            reader.close()
        self._readers = []


def _merge(found: dict[str, Any], record: dict[str, Any]) -> None:
    """The fields of a GeoIP2/GeoLite2/DB-IP record (City, Country or ASN layout)."""
    country = record.get("country") or record.get("registered_country") or {}
    if isinstance(country, dict) and country.get("iso_code"):
        found.setdefault("country", country["iso_code"])
    city = record.get("city")
    if isinstance(city, dict) and (name := _english(city)):
        found.setdefault("city", name)
    subdivisions = record.get("subdivisions")
    if isinstance(subdivisions, list) and subdivisions and (name := _english(subdivisions[0])):
        found.setdefault("region", name)
    if isinstance(record.get("autonomous_system_number"), int):
        found.setdefault("asn", record["autonomous_system_number"])
    if isinstance(record.get("autonomous_system_organization"), str):
        found.setdefault("as_org", record["autonomous_system_organization"])


def _english(entry: Any) -> str | None:
    names = entry.get("names") if isinstance(entry, dict) else None
    if isinstance(names, dict):
        return names.get("en") or next(iter(names.values()), None)
    return None
