from collections import Counter

import pytest

from envlake.kernel.identifiers import is_valid_uscc
from envlake.simulators.departments import departments
from envlake.simulators.enterprises import generate_enterprises
from envlake.simulators.reference import DISTRICTS
from tests.conftest import SEED, START


@pytest.fixture(scope="module")
def depts():
    return departments(SEED, START)


def test_same_seed_same_day_same_data(depts) -> None:
    other = generate_enterprises(SEED)
    assert [e.credit_code for e in other] == [e.credit_code for e in depts.enterprises]
    assert depts.permits.records(5) == depts.permits.records(5)
    later_then_back = (depts.credit.records(20), depts.credit.records(3))[1]
    assert later_then_back == depts.credit.records(3)


def test_enterprises_are_realistic(depts) -> None:
    people = depts.enterprises
    assert len(people) == 2000
    assert {e.district_code for e in people} == {code for code, *_ in DISTRICTS}
    bad = sum(1 for e in people if e.credit_code is not None and not is_valid_uscc(e.credit_code))
    missing = sum(1 for e in people if e.credit_code is None)
    assert 0.01 < bad / len(people) < 0.05 and 0.002 < missing / len(people) < 0.03
    assert all(is_valid_uscc(e.credit_code) for e in people if e.code_is_valid)
    assert len({e.name for e in people}) == len(people)


def test_permit_numbers_and_classes(depts) -> None:
    permits = depts.permits.records(0)
    classes = Counter(p["management_class"] for p in permits)
    assert set(classes) == {"重点管理", "简化管理", "登记管理"}
    for p in permits:
        if p["credit_code"]:
            assert p["permit_no"].startswith(p["credit_code"])
        assert p["permit_no"][18:21].isdigit()
        assert p["permit_no"][-1] == ("P" if p["management_class"] != "登记管理" else "W")
    limits = depts.limits.records(0)
    assert {row["outlet_code"][:2] for row in limits} == {"DA", "DW"}
    assert all(row["concentration_limit"] > 0 for row in limits)


def test_credit_grade_mix(depts) -> None:
    grades = Counter(r["grade"] for r in depts.credit.records(0))
    total = sum(grades.values())
    assert 0.02 < grades["绿色"] / total < 0.07
    assert 0.87 < grades["蓝色"] / total < 0.95
    assert 0.03 < grades["黄色"] / total < 0.08
    assert grades["红色"] / total < 0.015


def test_advancing_the_day_brings_changes(depts) -> None:
    day0 = {p["permit_no"]: p for p in depts.permits.records(0)}
    day60 = {p["permit_no"]: p for p in depts.permits.records(60)}
    assert set(day0) < set(day60)  # new permits issued
    assert any(day60[k]["updated_at"] != v["updated_at"] for k, v in day0.items())
    assert len(depts.credit.records(60, "2026-01-02")) > 0
