"""Geolocation: iptocc countries offline; region, city and ASN from user .mmdb files."""

from __future__ import annotations

import ipaddress
import random
from pathlib import Path

import iptocc
import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from leadwatch.enrich import geo as geo_module
from leadwatch.enrich.geo import NOWHERE, Geo, GeoLookup


def test_country_offline_without_any_database() -> None:
    geo = GeoLookup()
    assert geo.lookup("8.8.8.8").country == "US"
    assert geo.lookup("2001:4860:4860::8888").country == "US"
    assert geo.lookup("8.8.8.8").city is None


@pytest.mark.parametrize("ip", ["127.0.0.1", "10.1.2.3", "192.168.0.9", "::1", "not-an-ip", "", None])
def test_private_and_invalid_addresses_have_no_place(ip: str | None) -> None:
    assert GeoLookup().lookup(ip) == NOWHERE


def _write(path: Path, database_type: str, networks: dict[str, dict[str, object]]) -> Path:
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type=database_type)
    for network, record in networks.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path


def test_city_and_asn_databases_add_what_they_hold(tmp_path: Path) -> None:
    city = _write(tmp_path / "city.mmdb", "GeoLite2-City", {
        "81.2.69.0/24": {
            "country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
            "subdivisions": [{"iso_code": "ENG", "names": {"en": "England"}}],
            "city": {"names": {"en": "London", "de": "London"}},
        },
    })
    asn = _write(tmp_path / "asn.mmdb", "GeoLite2-ASN", {
        "81.2.69.0/24": {"autonomous_system_number": 20712,
                         "autonomous_system_organization": "Andrews & Arnold Ltd"},
    })
    geo = GeoLookup([city, asn])
    found = geo.lookup("81.2.69.142")
    assert (found.country, found.region, found.city) == ("GB", "England", "London")
    assert (found.asn, found.as_org) == (20712, "Andrews & Arnold Ltd")
    # Addresses the files do not hold still get their country from iptocc.
    assert geo.lookup("8.8.8.8").country == "US" and geo.lookup("8.8.8.8").city is None
    geo.close()


def test_the_ipv4_fast_path_agrees_with_ipaddress() -> None:
    """Dotted quads skip ``ipaddress``: at every edge of its special-purpose ranges, for
    random addresses and for odd spellings, the answer must be the ``ipaddress`` one."""
    addresses = ["01.2.3.4", "1.2.3.04", "256.1.1.1", "1.2.3", "1.2.3.4 ", "::ffff:8.8.8.8"]
    for start in geo_module._STARTS:
        for n in (start - 1, start, start + 1):
            if 0 <= n < 2**32:
                addresses.append(str(ipaddress.IPv4Address(n)))
    rng = random.Random(5)
    addresses += [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(2_000)]
    geo = GeoLookup()
    for ip in addresses:
        assert geo.lookup(ip) == _by_ipaddress(ip), ip


def _by_ipaddress(ip: str) -> Geo:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return NOWHERE
    if not address.is_global:
        return NOWHERE
    country = iptocc.country_code(str(address))
    return Geo(country=country.upper() if country else None)
