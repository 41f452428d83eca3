"""Simulated Hangzhou enterprises: names, districts, industries and unified social credit codes.

Seeded and deterministic. About 96.5% of codes are valid, 2.5% fail the checksum (early
pilot codes, typing errors) and 1% are missing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envlake.kernel.identifiers import ALPHABET, org_code_check_char, uscc_check_char
from envlake.simulators.reference import DISTRICT_CENTRES, DISTRICTS, INDUSTRIES

BRAND_CHARS = list("华鑫恒远达中天宏新绿金富永润瑞丰盛嘉泰兴宇航明诚信安康博通海峰凯蓝星联合力")
ROADS = ["建设", "工业", "经济", "科技", "环城", "滨江", "文一", "江南", "新塘", "金城", "临江", "春江"]
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程")
GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志文斌")
ORG_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@dataclass(frozen=True)
class Enterprise:
    index: int
    name: str
    credit_code: str | None
    code_is_valid: bool
    district_code: str
    district_name: str
    industry_code: str
    industry_name: str
    address: str
    longitude: float
    latitude: float
    legal_representative: str
    contact_phone: str


def make_credit_code(rng: np.random.Generator, region: str) -> str:
    org8 = "".join(rng.choice(list(ORG_ALPHABET[:10] + "ABCDEFGHJKLMNPQRTUWXY"), 8))
    org = org8 + org_code_check_char(org8)
    first17 = "91" + region + org
    return first17 + uscc_check_char(first17)


def corrupt_check_char(rng: np.random.Generator, code: str) -> str:
    wrong = [c for c in ALPHABET if c != code[-1]]
    return code[:-1] + str(rng.choice(wrong))


def generate_enterprises(seed: int, count: int = 2000) -> list[Enterprise]:
    rng = np.random.default_rng([seed, 1])
    weights = np.array([w for _, _, w, _ in DISTRICTS], dtype=float)
    weights /= weights.sum()
    names: set[str] = set()
    result = []
    for i in range(count):
        code, dname, _, industries = DISTRICTS[rng.choice(len(DISTRICTS), p=weights)]
        industry = str(rng.choice(industries))
        iname, stem, *_ = INDUSTRIES[industry]
        while True:
            brand = "".join(rng.choice(BRAND_CHARS, 2))
            prefix = "杭州" + (dname[:-1] if rng.random() < 0.4 else "")
            name = f"{prefix}{brand}{stem}{'股份' if rng.random() < 0.15 else ''}有限公司"
            if name not in names:
                names.add(name)
                break
        # Registration authority region: mostly the district, sometimes the city or a retired code.
        region = str(rng.choice([code, code, code, "330100", {"330105": "330103", "330102": "330104"}.get(code, code)]))
        credit_code: str | None = make_credit_code(rng, region)
        valid = True
        roll = rng.random()
        if roll < 0.025:
            credit_code, valid = corrupt_check_char(rng, credit_code), False
        elif roll < 0.035:
            credit_code, valid = None, False
        lon, lat = DISTRICT_CENTRES[code]
        result.append(Enterprise(
            index=i,
            name=name,
            credit_code=credit_code,
            code_is_valid=valid,
            district_code=code,
            district_name=dname,
            industry_code=industry,
            industry_name=iname,
            address=f"浙江省杭州市{dname}{rng.choice(ROADS)}路{int(rng.integers(1, 999))}号",
            longitude=round(lon + float(rng.normal(0, 0.05)), 6),
            latitude=round(lat + float(rng.normal(0, 0.04)), 6),
            legal_representative=str(rng.choice(SURNAMES)) + "".join(rng.choice(GIVEN, int(rng.integers(1, 3)))),
            contact_phone="1" + str(rng.choice(list("3456789"))) + "".join(rng.choice(list("0123456789"), 9)),
        ))
    return result
