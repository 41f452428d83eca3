"""dbt YAML generated from the contracts stays in step with them."""

from __future__ import annotations

import yaml

from envlake.kernel.contracts import load_contracts
from envlake.modelling import codegen
from envlake.modelling.layout import PLACES


def test_generated_dbt_yaml_matches_the_contracts() -> None:
    assert codegen.check() == [], "run `envlake models generate` and commit the result"


def test_freshness_comes_from_the_update_cycle() -> None:
    contracts = load_contracts()
    assert codegen.freshness(contracts["monitoring_hourly"]) == {
        "warn_after": {"count": 3, "period": "hour"}, "error_after": {"count": 4, "period": "hour"}}
    assert codegen.freshness(contracts["permit"])["warn_after"] == {"count": 30, "period": "hour"}
    assert codegen.freshness(contracts["hw_code"]) is None  # irregular: no freshness


def test_every_contract_has_a_staging_model_with_its_classification() -> None:
    contracts = load_contracts()
    assert {p.dataset for p in PLACES} == set(contracts)
    for place in PLACES:
        doc = yaml.safe_load((place.directory / f"{place.model}.yml").read_text(encoding="utf-8"))
        columns = {c["name"]: c for c in doc["models"][0]["columns"]}
        for f in contracts[place.dataset].fields:
            meta = columns[place.column(f.name)]["meta"]
            assert (meta["security_level"], meta["sharing_class"], meta["pii"]) == (
                f.security_level, f.sharing_class, f.pii), f"{place.model}.{f.name}"
            assert columns[place.column(f.name)]["description"].startswith(f.name_zh)


def test_a_changed_contract_makes_the_yaml_stale(monkeypatch) -> None:
    contracts = load_contracts()
    permit = contracts["permit"]
    changed = permit.__class__(**{**permit.__dict__, "name_zh": "排污许可证（改）"})
    rendered = codegen.rendered({**contracts, "permit": changed})
    sources = next(p for p in rendered if p.name == "__sources.yml" and p.parent.name == "permits")
    assert "排污许可证（改）" in rendered[sources]
