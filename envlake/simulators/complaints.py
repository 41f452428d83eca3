"""The 12369 环保举报 platform: public complaints, day by day.

Each day brings 25–45 complaints across Hangzhou's districts: air, water, noise, waste or odour, in the
complainant's own words. The complainant leaves a name and a mobile number; about 15% also write their
phone number into the text, about 10% their resident ID number (valid GB 11643 check digit) and about 20%
their own name. About 60% name an enterprise (as the public names it: the registered name). Complaints
move from 已受理 to 办理中 to 已办结 on later days, each step a new ``updated_at``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np

from envlake.simulators.enterprises import GIVEN, SURNAMES, Enterprise
from envlake.simulators.world import Records, World
from quality.pii import ID_CHECK, ID_WEIGHTS

CATEGORIES = {  # category: (share, what people write)
    "大气": (0.30, ["{target}烟囱冒黑烟，附近空气很呛", "{target}夜间偷排废气，窗户都不敢开",
                  "工地扬尘严重，{target}没有洒水"]),
    "水": (0.20, ["{target}往河里排污水，河水发黑发臭", "{target}雨水管里流出有颜色的废水", "小区旁河道出现大片死鱼"]),
    "噪声": (0.20, ["{target}晚上十点后还在施工，噪声很大", "{target}设备噪声扰民，整夜轰鸣", "夜间货车装卸噪声扰民"]),
    "固废": (0.15, ["{target}在空地上倾倒不明废料", "{target}危废桶露天堆放没有遮盖", "路边堆放大量建筑垃圾"]),
    "异味": (0.15, ["{target}散发刺鼻化学品气味", "{target}附近有很重的臭味，持续好几天", "晚上闻到橡胶燃烧的味道"]),
}
STATUS_FLOW = ("已受理", "办理中", "已办结")
STREETS = ["文三路", "古墩路", "莫干山路", "江南大道", "滨文路", "临平大道", "金城路", "市心北路", "富春街道",
           "锦城街道", "迎春南路", "新安江路", "千岛湖镇"]


def resident_id(rng: np.random.Generator, district_code: str) -> str:
    """A resident ID number with a valid check digit (GB 11643), issued in a Hangzhou district."""
    birth = date(1955, 1, 1) + timedelta(days=int(rng.integers(0, 18000)))
    first17 = f"{district_code}{birth:%Y%m%d}{int(rng.integers(0, 1000)):03d}"
    return first17 + ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def mobile(rng: np.random.Generator) -> str:
    return "1" + str(rng.choice(list("3456789"))) + "".join(rng.choice(list("0123456789"), 9))


def person(rng: np.random.Generator) -> str:
    return str(rng.choice(SURNAMES)) + "".join(rng.choice(GIVEN, int(rng.integers(1, 3))))


class ComplaintWorld(World):
    stream = 12369

    def __init__(self, seed: int, start: date, enterprises: list[Enterprise]):
        super().__init__(seed, start)
        self.enterprises = [e for e in enterprises if e.credit_code]

    def key(self, record: dict[str, Any]) -> Any:
        return record["complaint_id"]

    def initial(self) -> Records:
        state: Records = {}
        self._arrive(0, state, np.random.default_rng([self.seed, self.stream, 0]))
        return state

    def change(self, day: int, state: Records, rng: np.random.Generator) -> None:
        day_date = self.date_of(day)
        for record in state.values():
            step = STATUS_FLOW.index(record["status"])
            if step < len(STATUS_FLOW) - 1 and rng.random() < (0.6 if step == 0 else 0.35):
                record["status"] = STATUS_FLOW[step + 1]
                record["updated_at"] = (datetime.combine(day_date, time(9)) +
                                        timedelta(seconds=int(rng.integers(0, 8 * 3600)))).isoformat()
        self._arrive(day, state, rng)

    def _arrive(self, day: int, state: Records, rng: np.random.Generator) -> None:
        day_date = self.date_of(day)
        names = list(CATEGORIES)
        shares = np.array([CATEGORIES[c][0] for c in names])
        for seq in range(int(rng.integers(25, 46))):
            category = names[int(rng.choice(len(names), p=shares / shares.sum()))]
            target = self.enterprises[int(rng.integers(0, len(self.enterprises)))] \
                if rng.random() < 0.6 else None
            district = target.district_code if target else self.enterprises[
                int(rng.integers(0, len(self.enterprises)))].district_code
            name, phone = person(rng), mobile(rng)
            templates = CATEGORIES[category][1]
            template = templates[int(rng.integers(0, len(templates)))]
            text = template.format(target=target.name if target else "附近一家厂")
            if rng.random() < 0.20:
                text = f"我是{name}，住在附近。" + text
            if rng.random() < 0.15:
                text += f"，请尽快处理，联系电话{phone}"
            if rng.random() < 0.10:
                text += f"。本人身份证号{resident_id(rng, district)}，可以配合调查"
            reported = datetime.combine(day_date, time(0)) + timedelta(seconds=int(rng.integers(0, 86400)))
            street = STREETS[int(rng.integers(0, len(STREETS)))]
            state[f"12369{day_date:%Y%m%d}{seq:04d}"] = {
                "complaint_id": f"12369{day_date:%Y%m%d}{seq:04d}", "reported_at": reported.isoformat(),
                "district_code": district, "location": f"{street}{int(rng.integers(1, 400))}号附近",
                "category": category, "description": text, "target_name": target.name if target else None,
                "complainant_name": name, "complainant_phone": phone, "status": STATUS_FLOW[0],
                "updated_at": min(reported + timedelta(minutes=int(rng.integers(5, 120))),
                                  datetime.combine(day_date, time(23, 59, 59))).isoformat(),
            }
