"""The published marts against what the simulators planted (sim/ground_truth/day=9/)."""

from __future__ import annotations

import re
from collections import Counter

import duckdb
import pytest

from envlake.simulators.departments import departments
from tests.conftest import SEED, START
from tests.modelling.conftest import ModelledLake

ANOMALY_FLAGS = {"quantity": {"quantity_mismatch"}, "licence": {"receiver_not_licensed"},
                 "overdue": {"confirmation_overdue"}, "order": {"receipt_before_shipment"},
                 "unknown_generator": {"generator_unknown"},
                 # a receiver nobody knows holds no licence either
                 "unknown_receiver": {"receiver_unknown", "receiver_not_licensed"}}

pytestmark = pytest.mark.integration


def catalog(m: ModelledLake) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(m.settings.catalog), read_only=True)


def test_every_planted_exceedance_is_found_and_only_n_hours_count(modelled_lake: ModelledLake) -> None:
    con = catalog(modelled_lake)
    found = {(mn, code, t) for mn, code, t in con.execute(
        "select mn, pollutant_code, strftime(data_time, '%Y-%m-%dT%H:%M:%S') from shared.fct_exceedance").fetchall()}
    planted = [r for r in modelled_lake.ground_truth["exceedances"] if r["mn"] in modelled_lake.sent_mns]
    normal = {(r["mn"], r["pollutant_code"], r["data_time"]) for r in planted if r["flag"] == "N"}
    flagged_other = {(r["mn"], r["pollutant_code"], r["data_time"]) for r in planted if r["flag"] != "N"}
    assert len(normal) > 20 and flagged_other, "the simulation should plant both kinds"
    assert normal - found == set(), "planted exceedances the models missed"
    assert found & flagged_other == set(), "hours flagged other than N were counted"
    assert found == normal, "exceedances the simulators did not plant"
    not_n = con.execute("select count(*) from shared.fct_monitoring_hourly where is_exceeding and data_flag <> 'N'")
    assert not_n.fetchone()[0] == 0


def test_exceedance_events_group_consecutive_hours(modelled_lake: ModelledLake) -> None:
    con = catalog(modelled_lake)
    rows = con.execute("""
        select e.event_id, e.event_hours, count(*) as hours, min(h.data_time) = e.event_start,
               max(h.data_time) = e.event_end
        from shared.fct_exceedance_event as e join shared.fct_exceedance as h using (event_id)
        group by e.event_id, e.event_hours, e.event_start, e.event_end""").fetchall()
    assert rows and all(hours == event_hours and starts and ends for _, event_hours, hours, starts, ends in rows)
    pct = con.execute("select count(*) from shared.fct_exceedance where abs(exceedance_pct - "
                      "(avg_value - concentration_limit) / concentration_limit * 100) > 0.01")
    assert pct.fetchone()[0] == 0


def test_each_planted_manifest_anomaly_is_flagged_with_it(modelled_lake: ModelledLake) -> None:
    con = catalog(modelled_lake)
    flagged: dict[str, set[str]] = {}
    for manifest_no, anomaly in con.execute("select manifest_no, anomaly from shared.fct_manifest_anomaly").fetchall():
        flagged.setdefault(manifest_no, set()).add(anomaly)
    planted = {r["manifest_no"]: r for r in modelled_lake.ground_truth["manifests"] if r["anomaly"]}
    observable = {m: r for m, r in planted.items() if r["observable"]}
    assert {r["anomaly"] for r in observable.values()} >= {"quantity", "licence", "overdue", "unknown_generator"}
    for manifest_no, r in observable.items():
        assert ANOMALY_FLAGS[r["anomaly"]] <= flagged.get(manifest_no, set()), (manifest_no, r["anomaly"])
    for manifest_no, kinds in flagged.items():
        assert manifest_no in planted, f"{manifest_no} flagged {kinds} but nothing was planted"
        assert kinds <= ANOMALY_FLAGS[planted[manifest_no]["anomaly"]], (manifest_no, kinds)


def normalised(name: str) -> str:
    """As the normalise_enterprise_name macro does it."""
    name = name.strip().replace(" ", "").replace("\u3000", "").replace("（", "(").replace("）", ")")
    return re.sub("^杭州市", "杭州", re.sub("(股份)?(有限责任公司|有限公司|公司)$", "", name))


def test_hand_typed_generators_link_to_their_enterprise(modelled_lake: ModelledLake) -> None:
    con = catalog(modelled_lake)
    depts = departments(SEED, START)
    holders = Counter((normalised(e.name), e.district_code) for e in depts.enterprises if e.code_is_valid)
    typed = [r for r in modelled_lake.ground_truth["manifests"] if r["manual_entry"]]
    checked = 0
    for r in typed:
        row = con.execute("select generator_enterprise_key, generator_match_method from shared.fct_waste_transfer "
                          "where manifest_no = ? limit 1", [r["manifest_no"]]).fetchone()
        if row is None:  # all its lines were malformed and quarantined
            continue
        e = depts.enterprises[r["enterprise_index"]]
        if holders[(normalised(e.name), e.district_code)] > 1:
            # two enterprises share the name there: the link would be a guess, so it is not made
            assert row[0].startswith("NC"), r
            continue
        assert row == (r["true_generator_code"], "name_district"), r
        checked += 1
    assert checked >= 10


def test_records_without_a_valid_code_link_through_name_and_district(modelled_lake: ModelledLake) -> None:
    # The build area, as dbt in this process left it (an in-process connection must match dbt's configuration).
    con = duckdb.connect(str(modelled_lake.settings.warehouse))
    linked = 0
    for e in modelled_lake.ground_truth["enterprises"]:
        rows = con.execute("""
            select distinct enterprise_key, match_method, source_dataset
            from intermediate.int_enterprise_resolved
            where enterprise_name = ? and source_dataset in ('permit', 'credit_rating')""", [e["name"]]).fetchall()
        if len({r[2] for r in rows}) < 2:
            continue  # the enterprise is on record in one feed only
        assert len({r[0] for r in rows}) == 1, f"{e['name']}: its records got different keys {rows}"
        assert {r[1] for r in rows} == {"name_district"}, rows
        linked += 1
    assert linked >= 10, "too few enterprises without a valid code appear in both permits and ratings"
    unmatched = con.execute("select count(*) from intermediate.int_enterprise_unmatched").fetchone()[0]
    assert unmatched > 0
