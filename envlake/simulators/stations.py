"""The provincial monitoring centre: ambient air stations and surface-water sections in Hangzhou.

Air stations report every hour (PM2.5, PM10, SO2, NO2, O3 in µg/m³, CO in mg/m³) with a winter
haze level that drifts from day to day, a rush-hour NO2 peak and an afternoon O3 peak; about 2% of
values are missing (instrument down), so some days fall short of 20 valid hours. Water sections
report every 4 hours (DO, CODMn, COD, NH3-N, TP, TN in mg/L, pH), mostly class II–III with some
worse. Each day appends that day's readings; ``updated_at`` is when the centre published them.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import numpy as np

from envlake.simulators.reference import DISTRICT_CENTRES, DISTRICTS
from envlake.simulators.world import Records, World

AIR_STATIONS = [
    ("1223A", "卧龙桥", "330106"), ("1224A", "西溪", "330106"), ("1225A", "浙江农大", "330105"),
    ("1226A", "朝晖五区", "330105"), ("1227A", "和睦小学", "330105"), ("1228A", "下沙", "330114"),
    ("1229A", "城厢镇", "330109"), ("1230A", "临平镇", "330113"), ("1231A", "滨江", "330108"),
    ("1232A", "千岛湖", "330127"), ("1233A", "云栖", "330106"), ("1234A", "富阳银湖", "330111"),
    ("1235A", "临安锦城", "330112"), ("1236A", "桐庐城南", "330122"), ("1237A", "建德新安江", "330182"),
    ("1238A", "余杭闲林", "330110"), ("1239A", "钱塘江东", "330114"), ("1240A", "萧山瓜沥", "330109"),
    ("1241A", "上城九堡", "330102"), ("1242A", "拱墅半山", "330105"), ("1243A", "西湖转塘", "330106"),
    ("1244A", "滨江长河", "330108"), ("1245A", "余杭良渚", "330110"), ("1246A", "临平塘栖", "330113"),
    ("1247A", "富阳新登", "330111"), ("1248A", "临安於潜", "330112"), ("1249A", "桐庐分水", "330122"),
    ("1250A", "淳安汾口", "330127"), ("1251A", "建德梅城", "330182"), ("1252A", "萧山义桥", "330109"),
]
WATERS = [("钱塘江", "河流", "II"), ("富春江", "河流", "II"), ("新安江", "河流", "I"), ("京杭运河", "河流", "IV"),
          ("东苕溪", "河流", "III"), ("浦阳江", "河流", "III"), ("分水江", "河流", "II"), ("千岛湖", "湖库", "I"),
          ("西湖", "湖库", "III"), ("上塘河", "河流", "IV")]
WATER_BASE = {"do": 7.5, "codmn": 3.0, "cod": 12.0, "nh3n": 0.35, "tp": 0.08, "tn": 1.2}


def water_sections() -> list[tuple[str, str, str, str, str, str]]:
    """About 40 sections: code, name, water body, type, target class, district."""
    rng = np.random.default_rng(77)
    codes = [code for code, *_ in DISTRICTS]
    sections = []
    for i in range(40):
        water, kind, target = WATERS[i % len(WATERS)]
        district = codes[int(rng.integers(0, len(codes)))]
        reach = ["上游", "中游", "下游", "入口", "出口"][i % 5]
        sections.append((f"HZ{330100 + i:06d}", f"{water}{reach}{i // 10 + 1}号断面", water, kind, target, district))
    return sections


class ReadingsWorld(World):
    """A world that only grows: each day adds that day's readings to the state."""

    def initial(self) -> Records:
        return self._readings(0, {}, np.random.default_rng([self.seed, self.stream, 0]))

    def change(self, day: int, state: Records, rng: np.random.Generator) -> None:
        self._readings(day, state, rng)

    def _readings(self, day: int, state: Records, rng: np.random.Generator) -> Records:
        raise NotImplementedError


class AirStationWorld(ReadingsWorld):
    stream = 31

    def key(self, record: dict[str, Any]) -> Any:
        return (record["station_code"], record["data_time"])

    def _readings(self, day: int, state: Records, rng: np.random.Generator) -> Records:
        the_day = self.date_of(day)
        haze = float(np.clip(rng.lognormal(np.log(45), 0.45), 10, 250))  # the day's PM2.5 level
        published = datetime.combine(the_day + timedelta(days=1), time(0, 20)).isoformat()
        hours = np.arange(24)
        for code, name, district in AIR_STATIONS:
            lon, lat = DISTRICT_CENTRES[district]
            local = rng.uniform(0.8, 1.2)
            pm25 = haze * local * (1 + 0.2 * np.cos((hours - 22) / 24 * 2 * np.pi)) * rng.lognormal(0, 0.15, 24)
            no2 = 35 * local * (1 + 0.5 * np.exp(-((hours - 8) ** 2) / 4) + 0.4 * np.exp(-((hours - 18) ** 2) / 4))
            o3 = 60 * (1 + 1.2 * np.exp(-((hours - 15) ** 2) / 8)) * rng.lognormal(0, 0.1, 24)
            values = {"pm25": pm25, "pm10": pm25 * rng.uniform(1.3, 1.7, 24), "so2": rng.uniform(4, 12, 24),
                      "no2": no2 * rng.lognormal(0, 0.1, 24), "o3": o3, "co": rng.uniform(0.4, 1.1, 24)}
            for h in hours:
                row = {"station_code": code, "station_name": name, "district_code": district,
                       "longitude": round(lon + 0.02, 6), "latitude": round(lat + 0.01, 6),
                       "data_time": datetime.combine(the_day, time(int(h))).isoformat()}
                for pollutant, series in values.items():
                    missing = rng.random() < 0.02
                    row[pollutant] = None if missing else round(float(series[h]), 3 if pollutant == "co" else 1)
                row["updated_at"] = published
                state[self.key(row)] = row
        return state


class WaterSectionWorld(ReadingsWorld):
    stream = 32

    def key(self, record: dict[str, Any]) -> Any:
        return (record["section_code"], record["data_time"])

    def _readings(self, day: int, state: Records, rng: np.random.Generator) -> Records:
        the_day = self.date_of(day)
        published = datetime.combine(the_day + timedelta(days=1), time(1, 0)).isoformat()
        for code, name, water, kind, target, district in water_sections():
            worse = {"I": 0.5, "II": 0.8, "III": 1.3, "IV": 2.2}[target]
            for h in range(0, 24, 4):
                row = {"section_code": code, "section_name": name, "water_body": water, "water_body_type": kind,
                       "target_class": target, "district_code": district,
                       "data_time": datetime.combine(the_day, time(h)).isoformat(),
                       "ph": round(float(rng.normal(7.4, 0.3)), 2),
                       "do": round(float(WATER_BASE["do"] / worse ** 0.5 * rng.lognormal(0, 0.08)), 2)}
                for item in ("codmn", "cod", "nh3n", "tp", "tn"):
                    row[item] = round(float(WATER_BASE[item] * worse * rng.lognormal(0, 0.25)), 3)
                row["updated_at"] = published
                state[self.key(row)] = row
        return state
