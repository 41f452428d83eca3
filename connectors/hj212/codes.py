"""HJ 212-2017 pollutant codes with their HJ/T 212-2005 codes and units (DOMAIN.md §1)."""

from __future__ import annotations

POLLUTANTS = [
    # code, 2005 code, name, category, conc unit, amount unit, format
    ("w00000", "B01", "污水流量", "废水", "L/s", "m³", "N5.2"),
    ("w01001", "001", "pH值", "废水", "无量纲", None, "N2.2"),
    ("w01018", "011", "化学需氧量", "废水", "mg/L", "kg", "N5.1"),
    ("w21003", "060", "氨氮", "废水", "mg/L", "kg", "N4.2"),
    ("w21011", "101", "总磷", "废水", "mg/L", "kg", "N3.2"),
    ("w21001", "065", "总氮", "废水", "mg/L", "kg", "N4.2"),
    ("w01019", None, "高锰酸盐指数", "地表水", "mg/L", None, "N3.1"),
    ("w01009", None, "溶解氧", "地表水", "mg/L", None, "N3.1"),
    ("w01010", None, "水温", "地表水", "℃", None, "N3.1"),
    ("w01014", None, "电导率", "地表水", "μS/cm", None, "N3.1"),
    ("w01003", None, "浊度", "地表水", "NTU", None, "N3.1"),
    ("a00000", "B02", "废气流量", "废气", "m³/s", "m³", "N6.1"),
    ("a21026", "02", "二氧化硫", "废气", "mg/m³", "kg", "N5.2"),
    ("a21002", "03", "氮氧化物", "废气", "mg/m³", "kg", "N5.1"),
    ("a34013", "01", "颗粒物", "废气", "mg/m³", "kg", "N4"),
    ("a19001", "S01", "氧含量", "废气", "%", None, "N3.1"),
    ("a01011", "S02", "烟气流速", "废气", "m/s", None, "N5.2"),
    ("a01012", "S03", "烟气温度", "废气", "℃", None, "N3.1"),
    ("a01013", "S08", "烟气压力", "废气", "kPa", None, "N5.3"),
    ("a01014", "S05", "烟气湿度", "废气", "%", None, "N3.1"),
    ("a24088", None, "非甲烷总烃", "废气", "mg/m³", "kg", "N7.3"),
    ("a34004", None, "PM2.5", "环境空气", "μg/m³", None, "N4"),
    ("a34002", None, "PM10", "环境空气", "μg/m³", None, "N4"),
    ("a21004", None, "二氧化氮", "环境空气", "μg/m³", None, "N4"),
    ("a05024", None, "臭氧", "环境空气", "μg/m³", None, "N4"),
    ("a21005", None, "一氧化碳", "环境空气", "mg/m³", None, "N3.1"),
    ("a01001", None, "温度", "气象", "℃", None, "N3.1"),
    ("a01002", None, "湿度", "气象", "%", None, "N3.1"),
    ("a01006", None, "气压", "气象", "kPa", None, "N5.3"),
    ("a01007", None, "风速", "气象", "m/s", None, "N4.1"),
    ("a01008", None, "风向", "气象", "°", None, "N4"),
]
POLLUTANT_NAMES = {code: name for code, _, name, *_ in POLLUTANTS}
CODE_2017 = {code: code for code, *_ in POLLUTANTS} | {old: code for code, old, *_ in POLLUTANTS if old}
COMMANDS = {"2011": "实时数据", "2051": "分钟数据", "2061": "小时数据", "2031": "日数据"}
DATA_FLAGS = ("N", "F", "M", "S", "D", "C", "T", "B")
