"""The solid-waste centre: hazardous-waste transfer manifests and the disposal licences behind them.

Every day about 120 manifests are created by permit holders (one per vehicle trip, 1–3 kinds of
waste each), shipped by licensed transporters and received by licensed disposal companies; the
day's export holds every manifest of the last four days at its status that evening, one row per
item. About 4% carry an anomaly: a received quantity more than 10% off, a receiver not licensed for
the category, a confirmation overdue (over 5 days), a receipt before the shipment, or a generator or
receiver that no department knows; about 3% are typed in by hand (no credit code, the name written
differently), which enterprise resolution must still link. A few rows
are malformed (bad waste code, negative quantity, unparseable date). The export is written as CSV in
GB18030 and as XLSX, with Chinese headers (the contracts' ``name_zh``).
"""

from __future__ import annotations

import csv
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path

import numpy as np
import openpyxl

from envlake.kernel.contracts import load_contract
from envlake.simulators.enterprises import Enterprise, make_credit_code
from envlake.simulators.permits import PermitWorld

# code, category, industry-specific name, hazard, form (from DOMAIN.md §4; names as in the 2021 list)
HW_CODES = [
    ("900-249-08", "HW08", "其他生产、销售、使用过程中产生的废矿物油及沾染矿物油的废弃包装物", "T,I", "液态"),
    ("900-214-08", "HW08", "车辆、机械维修和拆解过程中产生的废润滑油", "T,I", "液态"),
    ("900-210-08", "HW08", "含油废水处理中隔油、气浮、沉淀等处理过程中产生的浮油、浮渣和污泥", "T,I", "半固态"),
    ("900-006-09", "HW09", "使用切削油或切削液进行机械加工过程中产生的油/水、烃/水混合物或乳化液", "T", "液态"),
    ("900-404-06", "HW06", "其他列入危险化学品目录的有机溶剂废物", "T,I,R", "液态"),
    ("900-252-12", "HW12", "使用油漆、有机溶剂进行喷漆、上漆过程中产生的废物", "T,I", "半固态"),
    ("900-015-13", "HW13", "废弃的离子交换树脂", "T", "固态"),
    ("336-064-17", "HW17", "金属表面酸洗、除油、磷化等工艺产生的废槽液、槽渣和废水处理污泥", "T,C", "半固态"),
    ("772-002-18", "HW18", "生活垃圾焚烧飞灰", "T", "固态"),
    ("900-023-29", "HW29", "生产、销售及使用过程中产生的废含汞荧光灯管及其他废含汞电光源", "T", "固态"),
    ("900-052-31", "HW31", "废铅蓄电池及废铅蓄电池拆解过程中产生的废铅板、废铅膏和酸液", "T,C", "固态"),
    ("841-001-01", "HW01", "感染性废物", "In", "固态"),
    ("900-039-49", "HW49", "烟气、VOCs治理过程产生的废活性炭", "T", "固态"),
    ("900-041-49", "HW49", "含有或沾染毒性、感染性危险废物的废弃的包装物、容器、过滤吸附介质", "T,In", "固态"),
    ("900-047-49", "HW49", "化学和生物实验室产生的废物", "T,C,I,R", "液态"),
]
EDITIONS = {"2021": "2021-01-01", "2025": "2025-01-01"}
PACKAGING = {"液态": "桶装", "半固态": "桶装", "固态": "吨袋"}
DISPOSAL = {"HW08": "R9 废油再提炼", "HW09": "D9 物理化学处理", "HW06": "R2 溶剂回收", "HW12": "D10 焚烧",
            "HW13": "D10 焚烧", "HW17": "D9 物理化学处理", "HW18": "D1 填埋", "HW29": "R4 金属回收",
            "HW31": "R4 金属回收", "HW01": "D10 焚烧", "HW49": "D10 焚烧"}
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


@cache
def receivers(seed: int) -> list[dict]:
    rng = np.random.default_rng([seed, 51])
    names = ["杭州绿源环境科技", "杭州清风固废处置", "杭州滨江环保能源", "建德新安化工废物处置", "杭州富春再生资源",
             "杭州钱塘危废处置中心", "临安天目环境服务", "杭州临平资源循环"]
    categories = sorted({c for _, c, *_ in HW_CODES})
    out = []
    for i, name in enumerate(names):
        comprehensive = i < 6
        covered = categories if i == 0 else sorted(rng.choice(categories, int(rng.integers(3, 8)), replace=False))
        issued = date(2022, 1, 1) + timedelta(days=int(rng.integers(0, 900)))
        out.append({"licence_no": f"浙危废经第{330100 + i * 7:06d}号", "holder_name": f"{name}有限公司",
                    "holder_credit_code": make_credit_code(rng, "330100"),
                    "licence_type": "综合经营" if comprehensive else "收集经营", "categories": ",".join(covered),
                    "annual_capacity_tonnes": float(rng.integers(5, 60) * 1000),
                    "valid_from": issued.isoformat(),
                    "valid_to": (issued + timedelta(days=365 * (5 if comprehensive else 3) - 1)).isoformat()})
    return out


@cache
def transporters(seed: int) -> list[dict]:
    rng = np.random.default_rng([seed, 52])
    return [{"name": f"杭州{n}危险货物运输有限公司", "credit_code": make_credit_code(rng, "330100")}
            for n in ("顺达", "安运", "通途", "恒畅", "驰远", "宏通")]


def _moment(d: date, rng: np.random.Generator, earliest: int = 8, latest: int = 17) -> datetime:
    return datetime.combine(d, time(earliest)) + timedelta(seconds=int(rng.integers(0, (latest - earliest) * 3600)))


ANOMALIES = ["quantity", "licence", "overdue", "order", "unknown_generator", "unknown_receiver"]
ANOMALY_RATE = 0.04
MANUAL_ENTRY_RATE = 0.03
OPEN_DAYS = 20  # an unconfirmed manifest stays in the export this long
NAME_VARIANTS = (lambda n: n.replace("杭州", "杭州市", 1), lambda n: n.replace("有限公司", "有限责任公司"),
                 lambda n: n[:2] + " " + n[2:], lambda n: n.replace("股份有限公司", "有限公司"))


def _unknown_party(rng: np.random.Generator, kind: str) -> dict:
    """A party that no department has on record: a workshop without a permit, or an unlicensed 'receiver'."""
    brand = "".join(rng.choice(list("顺发隆昌宏利源聚鼎"), 2))
    name = f"杭州{brand}{'汽车修理厂' if kind == 'generator' else '物资回收有限公司'}"
    return {"name": name, "credit_code": make_credit_code(rng, "330100"),
            "licence_no": f"浙危废经第{int(rng.integers(900000, 999999)):06d}号"}


def _parties(rng: np.random.Generator, e: Enterprise, receiver: dict, anomaly: str,
             manual_entry: bool) -> tuple[tuple[str, str], tuple[str, str, str]]:
    """Generator (name, code) and receiver (name, code, licence) as the manifest shows them."""
    generator = (e.name, e.credit_code or "")
    if anomaly == "unknown_generator":
        party = _unknown_party(rng, "generator")
        generator = (party["name"], party["credit_code"])
    if manual_entry:  # typed in by hand at the generator: no code, the name written differently
        generator = (NAME_VARIANTS[int(rng.integers(0, len(NAME_VARIANTS)))](e.name), "")
    receiving = (receiver["holder_name"], receiver["holder_credit_code"], receiver["licence_no"])
    if anomaly == "unknown_receiver":
        party = _unknown_party(rng, "receiver")
        receiving = (party["name"], party["credit_code"], party["licence_no"])
    return generator, receiving


def _manifest(permits: PermitWorld, seed: int, start: date, day: int, k: int) -> list[dict]:
    """The rows of manifest k created on ``day``, as they stand at any later evening (all events fixed).

    Hidden keys (``_anomaly``, ``_true_generator_code``, ``_manual_entry``) carry the ground truth; the export
    leaves them out."""
    rng = np.random.default_rng([seed, 53, day, k])
    generators = [site for site in permits.sites if site[2] != "登记管理" and site[3] <= day]  # permitted by then
    e = generators[int(rng.integers(0, len(generators)))][0]
    created_on = start + timedelta(days=day)
    created = _moment(created_on, rng, 8, 12)
    shipped = created + timedelta(minutes=int(rng.integers(30, 240)))
    received = shipped + timedelta(minutes=int(rng.integers(60, 1800)))
    confirmed = received + timedelta(hours=int(rng.integers(1, 96)))
    anomaly = str(rng.choice(ANOMALIES)) if rng.random() < ANOMALY_RATE else ""
    manual_entry = rng.random() < MANUAL_ENTRY_RATE and e.code_is_valid and not anomaly
    if anomaly == "overdue":
        confirmed = received + timedelta(days=int(rng.integers(8, 15)))
    if anomaly == "order":
        received = shipped - timedelta(minutes=int(rng.integers(30, 300)))
    rec = receivers(seed)
    candidates = [r for r in rec if r["licence_type"] == "综合经营"]
    if anomaly == "licence":  # a receiver whose licence leaves some category out
        candidates = [r for r in candidates if len(r["categories"].split(",")) < len({c[1] for c in HW_CODES})]
    receiver = candidates[int(rng.integers(0, len(candidates)))]
    covered = receiver["categories"].split(",")
    items = []
    for n in range(1, int(rng.integers(1, 4)) + 1):
        pool = [c for c in HW_CODES if (c[1] not in covered) == (anomaly == "licence" and n == 1)] or list(HW_CODES)
        code, category, name, hazard, form = pool[int(rng.integers(0, len(pool)))]
        shipped_t = round(float(rng.uniform(0.2, 12)), 3)
        received_t = round(shipped_t * float(rng.uniform(0.99, 1.0)), 3)
        if anomaly == "quantity" and n == 1:
            received_t = round(shipped_t * float(rng.choice([rng.uniform(0.6, 0.85), rng.uniform(1.15, 1.4)])), 3)
        items.append((n, code, category, name, hazard, form, shipped_t, received_t))
    transporter = transporters(seed)[int(rng.integers(0, len(transporters(seed))))]
    plate = f"浙A{''.join(rng.choice(list(PLATE_LETTERS + '0123456789'), 5))}"
    (generator_name, generator_code), (receiver_name, receiver_code, licence_no) = _parties(
        rng, e, receiver, anomaly, manual_entry)
    base = {"联单编号": f"{created_on.year}3301{day * 1000 + k:06d}", "移出人名称": generator_name,
            "移出人统一社会信用代码": generator_code, "移出地行政区划代码": e.district_code,
            "承运人名称": transporter["name"], "承运人统一社会信用代码": transporter["credit_code"], "车牌号": plate,
            "驾驶员姓名": "王" + str(rng.choice(list("伟强军磊涛斌"))), "接受人名称": receiver_name,
            "接受人统一社会信用代码": receiver_code, "接受人经营许可证编号": licence_no,
            "创建时间": created, "起运时间": shipped, "接收时间": received, "确认时间": confirmed,
            "_anomaly": anomaly, "_manual_entry": manual_entry, "_enterprise_index": e.index,
            "_true_generator_code": e.credit_code if anomaly != "unknown_generator" else None}
    rows = []
    for n, code, category, name, hazard, form, shipped_t, received_t in items:
        row = {**base, "明细序号": n, "废物代码": code, "废物类别": category, "废物名称": name, "危险特性": hazard,
               "物理形态": form, "包装方式": PACKAGING[form], "包装数量": int(np.ceil(shipped_t / 0.2)),
               "移出量": shipped_t, "接收量": received_t, "利用处置方式": DISPOSAL[category]}
        malformed = rng.random()
        if malformed < 0.002:
            row["废物代码"] = code.replace("-", "", 1)
        elif malformed < 0.004:
            row["移出量"] = -shipped_t
        elif malformed < 0.006:
            row["创建时间"] = "2026年13月01日"
        rows.append(row)
    return rows


def _as_of(row: dict, evening: datetime) -> dict:
    """The row as the system shows it that evening: later events blank, status from the last one."""
    out = dict(row)
    status = "已创建"
    for field, label in (("起运时间", "运输中"), ("接收时间", "已接收"), ("确认时间", "已确认")):
        value = out[field]
        if isinstance(value, datetime) and value > evening:
            out[field] = None
        elif isinstance(value, datetime):
            status = label
    if status not in ("已接收", "已确认"):
        out["接收量"] = None
    out["联单状态"] = status
    return {k: (v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, datetime) else v) for k, v in out.items()}


def export_rows(permits: PermitWorld, seed: int, start: date, day: int, per_day: int = 120) -> list[dict]:
    """Every manifest of the last four days, and older ones (up to 20 days) not yet confirmed that evening."""
    evening = datetime.combine(start + timedelta(days=day), time(20))
    rows = []
    for d in range(max(0, day - OPEN_DAYS), day + 1):
        for k in range(per_day):
            shown = [_as_of(r, evening) for r in _manifest(permits, seed, start, d, k)]
            if d >= day - 3 or shown[0]["联单状态"] != "已确认":
                rows += shown
    return rows


def _observable(row: dict, anomaly: str, evening: datetime, overdue_days: int) -> bool:
    """Whether the export of that evening shows the anomaly (a quantity needs the receipt, and so on)."""
    received = row["接收时间"] and datetime.fromisoformat(row["接收时间"])
    confirmed = row["确认时间"] and datetime.fromisoformat(row["确认时间"])
    if anomaly in ("quantity", "order"):
        return bool(received)
    if anomaly == "overdue":
        return bool(received) and ((confirmed or evening) - received).days > overdue_days
    return True


def planted_manifests(permits: PermitWorld, seed: int, start: date, day: int, overdue_days: int = 5) -> list[dict]:
    """Ground truth for the export of ``day``: each manifest's planted anomaly (if any) and whether that
    evening's export shows it, and the true generator behind each hand-typed entry."""
    evening = datetime.combine(start + timedelta(days=day), time(20))
    out: dict[str, dict] = {}
    for row in export_rows(permits, seed, start, day):
        if row["_anomaly"] or row["_manual_entry"]:
            out.setdefault(row["联单编号"], {
                "manifest_no": row["联单编号"], "anomaly": row["_anomaly"] or None,
                "observable": bool(row["_anomaly"]) and _observable(row, row["_anomaly"], evening, overdue_days),
                "manual_entry": row["_manual_entry"], "generator_name": row["移出人名称"],
                "true_generator_code": row["_true_generator_code"], "enterprise_index": row["_enterprise_index"]})
    return list(out.values())


def headers() -> list[str]:
    seen: dict[str, None] = {}
    for dataset in ("waste_manifest", "waste_manifest_item"):
        for f in load_contract(dataset).fields:
            seen.setdefault(f.name_zh)
    return list(seen)


def write_exports(folder: Path, permits: PermitWorld, seed: int, start: date, day: int) -> list[Path]:
    """The day's export as ``manifests_<date>.csv`` (GB18030) and ``manifests_<date>.xlsx``."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = export_rows(permits, seed, start, day)
    columns = headers()
    stamp = f"{start + timedelta(days=day):%Y%m%d}"
    csv_path, xlsx_path = folder / f"manifests_{stamp}.csv", folder / f"manifests_{stamp}.xlsx"
    with csv_path.open("w", newline="", encoding="gb18030") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("联单明细")
    sheet.append(columns)
    for row in rows:
        sheet.append([row.get(c) for c in columns])
    book.save(xlsx_path)
    return [csv_path, xlsx_path]


def write_reference(folder: Path, seed: int) -> list[Path]:
    """hw_code.csv (both list editions) and disposal_licence.csv, as the other reference drops."""
    folder.mkdir(parents=True, exist_ok=True)
    hw = folder / "hw_code.csv"
    with hw.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["edition", "valid_from", "waste_code", "waste_category", "waste_name", "hazard"])
        for edition, valid_from in EDITIONS.items():
            for code, category, name, hazard, _ in HW_CODES:
                out.writerow([edition, valid_from, code, category, name, hazard])
    licences = folder / "disposal_licence.csv"
    with licences.open("w", newline="", encoding="utf-8") as fh:
        out = csv.DictWriter(fh, fieldnames=list(receivers(seed)[0]))
        out.writeheader()
        out.writerows(receivers(seed))
    return [hw, licences]
