"""The journey format: what loads, and errors that name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadwatch.settings import load_settings
from leadwatch.synthetic.catalog import load_catalog
from leadwatch.synthetic.journey import JourneyError, load_file, parse_duration, parse_journeys

GOOD = """
name: checkout
title: Checkout works
frequency: 2m
timeout: 20s
slo: 99.5
locations: [us-east]
thresholds: {warning: 2, critical: 4}
steps:
  - name: home
    http: {url: "https://example.test/", expect: {status: [200, 204], json: {a.b: 1}}}
  - name: browse
    browser:
      - goto: https://example.test/
      - expect_meta: {robots: "index, follow"}
      - vitals: {budget: {LCP: 2.0}}
  - name: cert
    tls: {host: example.test, min_days: 21}
  - name: name
    dns: {name: example.test, type: MX}
"""


def problems(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "j.yaml"
    path.write_text(text)
    with pytest.raises(JourneyError) as caught:
        load_file(path)
    return caught.value.problems


def test_a_complete_journey_loads(tmp_path: Path) -> None:
    path = tmp_path / "j.yaml"
    path.write_text(GOOD)
    (j,) = load_file(path)
    assert (j.frequency, j.timeout, j.slo) == (120.0, 20.0, 99.5)
    assert [s.kind for s in j.steps] == ["http", "browser", "tls", "dns"]
    assert j.uses_browser and j.runs_at("us-east") and not j.runs_at("europe")
    assert j.steps[0].http is not None and j.steps[0].http.expect.json_paths == {"a.b": 1}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("frequency: 2m", "frequency: often"), "frequency: must be a duration"),
        (("slo: 99.5", "slo: 120"), "slo: Input should be less than or equal to 100"),
        (("{url: \"https://example.test/\"", "{uri: \"https://example.test/\""),
         "steps[0].http.uri: Extra inputs are not permitted"),
        (("- goto: https://example.test/", "- goto: https://example.test/\n        click: a"),
         "steps[1].browser[0]: needs exactly one of goto, click"),
        (("min_days: 21", "min_days: -1"), "steps[2].tls.min_days"),
        (("type: MX", "type: SRV"), "steps[3].dns.type"),
        (("name: home", "name: total"), "steps[0].name: 'total' is reserved"),
        (("name: cert", "name: home"), "steps: step names must be unique; repeated: home"),
    ],
)
def test_a_mistake_is_named_by_file_and_field(tmp_path: Path, change: tuple[str, str], field: str) -> None:
    found = problems(GOOD.replace(*change), tmp_path)
    assert any(p.startswith(f"{tmp_path / 'j.yaml'}: ") and field in p for p in found), found


def test_a_step_needs_exactly_one_kind(tmp_path: Path) -> None:
    found = problems("name: x\nsteps:\n  - name: a\n", tmp_path)
    assert found == [f"{tmp_path / 'j.yaml'}: steps[0]: needs exactly one of http, browser, tls, dns (got 0)"]


def test_lists_of_journeys_name_the_index() -> None:
    with pytest.raises(JourneyError) as caught:
        parse_journeys({"journeys": [{"name": "ok", "steps": [{"name": "a", "dns": {"name": "x"}}]},
                                     {"name": "Bad Name", "steps": []}]}, "f.yaml")
    assert any(p.startswith("f.yaml: journeys[1].name:") for p in caught.value.problems)
    assert any(p.startswith("f.yaml: journeys[1].steps:") for p in caught.value.problems)


def test_invalid_yaml_is_reported_with_the_file(tmp_path: Path) -> None:
    assert problems("name: [unclosed", tmp_path)[0].startswith(f"{tmp_path / 'j.yaml'}: not valid YAML")


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from([("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]))
def test_durations_convert_to_seconds(n: int, unit: tuple[str, float]) -> None:
    assert parse_duration(f"{n}{unit[0]}") == pytest.approx(n * unit[1])


def test_the_built_in_journeys_follow_the_brief(tmp_path: Path) -> None:
    settings = load_settings(None, storage={"data_dir": tmp_path},
                             synthetic={"target_url": "https://www.example.test"})
    catalog = load_catalog(settings)
    table = {j.name: (j.frequency, j.slo, j.thresholds.warning, j.thresholds.critical)
             for j in catalog.journeys}
    assert table == {
        "contact-form": (30, 99.95, 2, 1),
        "seo-landing-pages": (120, 99.9, 2, 3),
        "api-health": (30, 99.9, 3, 1),
        "core-web-vitals": (300, 90, 5, 1),
    }
    assert catalog.variables == {"site_url": "https://www.example.test", "api_url": "http://127.0.0.1:8000"}


def test_without_a_site_to_visit_only_the_api_journey_runs(tmp_path: Path) -> None:
    catalog = load_catalog(load_settings(None, storage={"data_dir": tmp_path}))
    assert [j.name for j in catalog.journeys] == ["api-health"]


def test_journey_files_must_name_known_sites_and_locations(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "name: a\nsite: elsewhere\nlocations: [mars]\nsteps: [{name: s, dns: {name: x}}]\n")
    settings = load_settings(None, storage={"data_dir": tmp_path},
                             synthetic={"journeys_dir": str(tmp_path), "default_journeys": False})
    with pytest.raises(JourneyError) as caught:
        load_catalog(settings)
    assert caught.value.problems == [
        "journey 'a': site: no site 'elsewhere' in sites",
        "journey 'a': locations: ['mars'] not in synthetic.locations ['us-east', 'us-west', 'europe']",
    ]


def test_in_demo_mode_the_built_in_journeys_visit_the_demo_site(tmp_path: Path) -> None:
    settings = load_settings(None, storage={"data_dir": tmp_path}, server={"port": 8123},
                             demo={"enabled": True})
    catalog = load_catalog(settings)
    assert catalog.variables["site_url"] == "http://127.0.0.1:8123/demo"
    assert len(catalog.journeys) == 4
