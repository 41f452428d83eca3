import pyarrow as pa
import pytest

from connectors.sources import records_to_table
from connectors.validation import validate
from envlake.kernel.contracts import load_contract
from tests.connectors.factories import rating, ratings


@pytest.fixture(scope="module")
def contract():
    return load_contract("credit_rating")


@pytest.mark.parametrize(("override", "rule"), [
    ({"credit_code": "91330100799655058C"}, "credit_rating.credit_code.checksum"),
    ({"credit_code": None}, "credit_rating.credit_code.not_null"),
    ({"grade": "紫色"}, "credit_rating.grade.allowed_values"),
    ({"district_code": "310101"}, "credit_rating.district_code.regex"),
    ({"score": 120.0}, "credit_rating.score.max"),
    ({"score": -1.0}, "credit_rating.score.min"),
    ({"rating_year": "二〇二四"}, "credit_rating.rating_year.type"),
    ({"rating_date": "2025-13-45"}, "credit_rating.rating_date.type"),
    ({"updated_at": "yesterday"}, "credit_rating.updated_at.type"),
])
def test_each_rule_quarantines_with_its_id_and_message(contract, override: dict, rule: str) -> None:
    batch = records_to_table([rating(1), rating(2, **override), rating(3)], [])
    result = validate(contract, batch)
    assert result.valid.num_rows == 2
    assert result.quarantine.num_rows == 1
    q = result.quarantine.to_pylist()[0]
    assert q["_rule_id"] == rule
    assert q["_reason"]
    assert q["rating_id"] == "CR2025000002"
    assert result.rows_in == result.valid.num_rows + result.quarantine.num_rows


def test_types_are_cast_to_the_contract(contract) -> None:
    result = validate(contract, ratings(3, rating_year="2024", updated_at="2025-06-28T01:00:00Z"))
    assert result.valid.schema.field("rating_year").type == pa.int64()
    assert result.valid.schema.field("rating_date").type == pa.date32()
    assert result.valid.schema.field("updated_at").type == pa.timestamp("us")
    # UTC input becomes Beijing local time
    assert result.valid.column("updated_at")[0].as_py().hour == 9


def test_all_broken_rules_are_listed(contract) -> None:
    result = validate(contract, records_to_table([rating(1, grade="紫色", score=500.0)], []))
    q = result.quarantine.to_pylist()[0]
    assert q["_rule_id"] == "credit_rating.grade.allowed_values"
    assert q["_failed_rules"] == "credit_rating.grade.allowed_values,credit_rating.score.max"


def test_drift_new_field_is_kept_and_reported(contract) -> None:
    result = validate(contract, ratings(2, inspector_note="现场检查"))
    assert result.new_fields == ["inspector_note"]
    assert result.valid.column("inspector_note").to_pylist() == ["现场检查", "现场检查"]


def test_drift_missing_required_field_quarantines_every_row(contract) -> None:
    result = validate(contract, ratings(4).drop(["grade"]))
    assert result.valid.num_rows == 0
    assert result.quarantine.num_rows == 4
    assert set(result.quarantine.column("_rule_id").to_pylist()) == {"credit_rating.grade.missing_field"}
    assert result.missing_fields == ["grade"]


def test_drift_missing_optional_field_is_reported_not_quarantined(contract) -> None:
    result = validate(contract, ratings(3).drop(["score"]))
    assert result.valid.num_rows == 3 and result.missing_fields == ["score"]


def test_drift_changed_type_quarantines_with_type_reason(contract) -> None:
    batch = ratings(3).set_column(4, "rating_year", pa.array([True, False, True]))
    result = validate(contract, batch)
    assert result.quarantine.num_rows == 3
    assert set(result.quarantine.column("_rule_id").to_pylist()) == {"credit_rating.rating_year.type"}


def test_rules_leave_empty_values_of_optional_fields_alone() -> None:
    contract = load_contract("monitoring_hourly")
    batch = records_to_table([{"mn": "33010900000000000001A", "st": "32", "cn": "2061", "qn": None,
                               "data_time": "2026-01-01T00:00:00", "pollutant_code": "w01018", "flag": None},
                              {"mn": "33010900000000000001A", "st": "32", "cn": "2061", "qn": None,
                               "data_time": "2026-01-01T01:00:00", "pollutant_code": "w01018", "flag": "X"}], [])
    result = validate(contract, batch)
    assert result.valid.num_rows == 1
    assert result.quarantine.column("_rule_id").to_pylist() == ["monitoring_hourly.flag.allowed_values"]
