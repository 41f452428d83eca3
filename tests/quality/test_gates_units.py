"""The gates' rules on hand-made inputs: detectors, the strictest class winning, each violation rule, GX suites."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from envlake.kernel.contracts import load_contract
from quality.classification import Classification, ColumnClass, violations
from quality.expectations import contract_frame, contract_suite, validate
from quality.lineage import Input
from quality.pii import detect, id_check_digit_ok


def with_check_digit(first17: str) -> str:
    for check in "0123456789X":
        if id_check_digit_ok(first17 + check):
            return first17 + check
    raise AssertionError


ID_NUMBER = with_check_digit("33010619800101123")


def test_id_numbers_need_a_valid_check_digit() -> None:
    wrong = ID_NUMBER[:-1] + ("0" if ID_NUMBER[-1] != "0" else "1")
    assert [k for k, _ in detect(f"联系人身份证{ID_NUMBER}，地址不详")] == ["id_number"]
    assert detect(f"编号{wrong}") == []
    assert detect(f"9{ID_NUMBER}") == []  # part of a longer number


def test_mobile_and_email_with_boundaries() -> None:
    assert [k for k, _ in detect("电话13812345678转")] == ["mobile"]
    assert detect("MN 8833010600001213812345678") == []
    assert [k for k, _ in detect("请联系 zhang.san@example.com.cn")] == ["email"]
    assert detect("e3b0c44298fc1c14913812345678aa") == []  # a digest, not text
    assert ID_NUMBER not in str(detect(ID_NUMBER))  # findings never carry the value itself


def test_the_strictest_input_wins() -> None:
    a = Classification("L2", "conditional", False)
    b = Classification("L3", "unconditional", True)
    assert a.strictest(b) == Classification("L3", "conditional", True)
    assert Classification().lower_than(a) and not a.lower_than(Classification())


def column(name: str, effective: Classification | None, derived: Classification | None = None,
           declared: Classification | None = None, reason: str | None = None, masked: bool = False,
           withheld: bool = False) -> ColumnClass:
    return ColumnClass("model.envlake.m", name, effective, derived or effective, declared, reason,
                       [Input("contract:permit", name)], masked=masked, withheld=withheld)


@pytest.mark.parametrize(("col", "rule"), [
    (column("a", None, None), "unclassified"),
    (column("b", Classification("L1"), Classification("L3", "conditional"), Classification("L1")),
     "lowered_without_reason"),
    (column("c", Classification("L4")), "restricted_in_shared"),
    (column("d", Classification("L2", "none")), "restricted_in_shared"),
    (column("e", Classification("L2", "conditional")), "conditional_unmasked"),
])
def test_each_rule_names_model_and_column(col: ColumnClass, rule: str) -> None:
    found = violations({"model.envlake.m": {col.column: col}}, {"model.envlake.m"}, {"model.envlake.m": "m"})
    assert [(v.model, v.column, v.rule) for v in found] == [("m", col.column, rule)]


@pytest.mark.parametrize("col", [
    column("ok1", Classification("L1"), Classification("L3", "conditional"), Classification("L1"), reason="按区汇总"),
    column("ok2", Classification("L2", "conditional"), masked=True),
    column("ok3", Classification("L4", "none"), withheld=True),
])
def test_what_the_rules_allow(col: ColumnClass) -> None:
    assert violations({"model.envlake.m": {col.column: col}}, {"model.envlake.m"}, {"model.envlake.m": "m"}) == []


def test_an_l4_column_in_an_unpublished_model_is_allowed() -> None:
    col = column("x", Classification("L4", "none"))
    assert violations({"model.envlake.m": {"x": col}}, set(), {"model.envlake.m": "m"}) == []


def test_the_contract_suite_catches_bad_values_keys_and_checksums() -> None:
    contract = load_contract("credit_rating")
    good = {"rating_id": "CR2025000001", "credit_code": "91330106MA2B3C4D5E", "enterprise_name": "杭州甲公司",
            "district_code": "330106", "rating_year": 2025, "grade": "绿色", "score": 91.0,
            "rating_date": pd.Timestamp("2025-06-28").date(), "evaluating_authority": "杭州市生态环境局",
            "valid_from": pd.Timestamp("2025-06-29").date(), "valid_to": pd.Timestamp("2026-06-30").date(),
            "repair_status": "无", "updated_at": pd.Timestamp("2025-06-28 10:00")}
    rows = [dict(good), {**good, "grade": "紫色"}, dict(good)]  # a grade outside the list, a repeated key
    table = pa.Table.from_pylist(rows)
    failed = {o.expectation for o in validate("credit_rating", contract_suite(contract),
                                              contract_frame(contract, table)) if not o.success}
    assert "ExpectColumnValuesToBeInSet(grade)" in failed
    assert "ExpectCompoundColumnsToBeUnique(rating_id,updated_at)" in failed
    assert "ExpectColumnValuesToBeInSet(_checksum_ok__credit_code)" in failed  # the made-up code fails GB 32100
