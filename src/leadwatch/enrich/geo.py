"""Geolocation: the country of an IP address, offline, and optionally its region,
city and network (ASN) from a ``.mmdb`` file the user supplies.

iptocc (permissively licensed, bundled data) answers the country with no set-up.
MaxMind GeoLite2/GeoIP2 and DB-IP ``.mmdb`` files (City, Country, ASN; any number
of them, read with maxminddb) add what they hold and win over iptocc for the
country. Results are cached; an IP address is looked up, never stored.
"""

from __future__ import annotations

import ipaddress
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


class GeoLookup:
    """Country by iptocc; region, city and ASN from the given ``.mmdb`` files."""

    def __init__(self, databases: Iterable[Path] = ()):
        self._readers = [maxminddb.open_database(str(path)) for path in databases]
        self.lookup = lru_cache(maxsize=CACHE_SIZE)(self._lookup)

    def _lookup(self, ip: str | None) -> Geo:
        if not ip:
            return NOWHERE
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
