import json
import subprocess
import sys
from datetime import datetime

import pyarrow.parquet as pq
import pytest

from bench.hj212_packets import hourly_packets
from connectors.hj212.bulk import parse_packets
from connectors.hj212.frame import build_frame, parse_frame
from tests.connectors.hj212.test_crc_and_frame import VECTOR_2

NOW = datetime(2026, 6, 1)
HOURLY = ("QN=20260101010000000;ST=32;CN=2061;PW=123456;MN=33010900000000000001A;Flag=5;"
          "CP=&&DataTime=20260101010000;w01018-Min=20.1,w01018-Avg=25.3,w01018-Max=30.2,w01018-Cou=1.2,"
          "w01018-Flag=N;060-Avg=2.5,060-Flag=M&&")


def test_readings_match_the_scalar_parser() -> None:
    blob = hourly_packets(300, seed=5, devices=50)
    parsed = parse_packets(blob, now=NOW)
    assert parsed.packets == 300 and parsed.rejected.num_rows == 0
    rows = parsed.readings.to_pylist()
    expected = []
    for line in blob.splitlines():
        frame = parse_frame(line)
        for code, fields in frame.values.items():
            expected.append((frame.header["MN"], code, float(fields["Avg"]), float(fields["Cou"]), fields["Flag"]))
    assert [(r["mn"], r["pollutant_code"], r["avg_value"], r["cou"], r["flag"]) for r in rows] == expected


def test_2005_codes_map_to_2017_and_any_header_order_parses() -> None:
    reordered = "ST=32;QN=20260101010000000;MN=X12345;CN=2011;PW=1;CP=&&DataTime=20160103133030;011-Rtd=18.5&&"
    parsed = parse_packets(VECTOR_2 + build_frame(reordered), now=NOW)
    rows = parsed.readings.to_pylist()
    assert [(r["code_sent"], r["pollutant_code"]) for r in rows[:4]] == [
        ("060", "w21003"), ("011", "w01018"), ("001", "w01001"), ("B01", "w00000")]
    assert rows[4]["mn"] == "X12345" and rows[4]["rtd"] == 18.5 and rows[4]["pollutant_code"] == "w01018"


@pytest.mark.parametrize(("packet", "reason"), [
    (build_frame(HOURLY).replace(b"w01018-Min=20.1", b"w01018-Min=20.2"), "bad_crc"),
    (build_frame(HOURLY).replace(b"##0", b"##9"), "bad_length"),
    (b"$$" + build_frame(HOURLY)[2:], "bad_header"),
    (build_frame(HOURLY.replace("MN=33010900000000000001A;", "")), "missing_field"),
    (build_frame(HOURLY.replace("DataTime=20260101010000;", "")), "missing_field"),
    (build_frame(HOURLY.replace("Avg=25.3", "Avg=2x.3")), "unparseable_value"),
    (build_frame(HOURLY.replace("w01018-Flag=N", "w01018-Flag=Q")), "unparseable_value"),
    (build_frame(HOURLY.replace("DataTime=20260101010000", "DataTime=20261301010000")), "unparseable_value"),
    (build_frame(HOURLY.replace("060-Avg", "z99999-Avg").replace("060-Flag", "z99999-Flag")), "unknown_pollutant"),
    (build_frame(HOURLY.replace("DataTime=20260101010000", "DataTime=20270101010000")), "future_data_time"),
    (build_frame(HOURLY.replace("Flag=5;", "Flag=7;PNUM=2;PNO=1;")), "incomplete_split"),
])
def test_each_bad_packet_is_rejected_whole_with_its_reason(packet: bytes, reason: str) -> None:
    good = build_frame(HOURLY.replace("MN=33010900000000000001A", "MN=OTHER0000000000000001"))
    parsed = parse_packets(good + packet + good, now=NOW)
    assert parsed.packets == 3
    assert parsed.rejected.column("_rule_id").to_pylist() == [f"hj212.{reason}"]
    assert parsed.rejected.column("packet").to_pylist() == [packet.rstrip(b"\r\n").decode("ascii", "replace")]
    assert set(parsed.readings.column("mn").to_pylist()) == {"OTHER0000000000000001"}
    assert parsed.readings.num_rows == 4


def test_split_packet_is_reassembled_when_every_part_is_there() -> None:
    head = "QN=20260101010000000;ST=32;CN=2061;PW=123456;MN=SPLIT000000000000001;Flag=7;PNUM=2;"
    part1 = build_frame(head + "PNO=1;CP=&&DataTime=20260101010000;w01018-Avg=25.3,w01018-Flag=N&&")
    part2 = build_frame(head + "PNO=2;CP=&&DataTime=20260101010000;w21003-Avg=2.5,w21003-Flag=N&&")
    parsed = parse_packets(part1 + part2, now=NOW)
    assert parsed.rejected.num_rows == 0
    assert sorted(parsed.readings.column("pollutant_code").to_pylist()) == ["w01018", "w21003"]


def test_ingest_a_file_of_packets_counts_add_up(env, tmp_path) -> None:
    """Acceptance: `envlake ingest monitoring_hourly --from <file of packets>`."""
    good = hourly_packets(40, seed=2, devices=10)
    bad = [build_frame(HOURLY).replace(b"w01018-Min=20.1", b"w01018-Min=20.2"),
           build_frame(HOURLY.replace("DataTime=20260101010000", "DataTime=20991231230000"))]
    daily = build_frame(HOURLY.replace("CN=2061", "CN=2031"))
    path = tmp_path / "packets.hj212"
    path.write_bytes(good + b"".join(bad) + daily + good.splitlines(keepends=True)[0])
    run = [sys.executable, "-m", "envlake.cli.main", "ingest", "monitoring_hourly", "--from", str(path), "--json"]
    summary = json.loads(subprocess.run(run, capture_output=True, text=True, check=True).stdout)
    readings = sum(5 if i % 2 == 0 else 4 for i in range(40))  # water outlets report 5 pollutants, air 4
    first_packet = 5
    assert summary["rows_quarantined"] == 2
    assert summary["quarantine_reasons"] == {"hj212.bad_crc": 1, "hj212.future_data_time": 1}
    assert summary["rows_landed"] == readings + first_packet
    assert summary["rows_in"] == summary["rows_landed"] + summary["rows_quarantined"]
    assert summary["rows_written"] == readings  # the resent first packet adds no row
    raw = pq.read_table(env.lake + "/raw/monitoring_hourly")
    assert raw.num_rows == readings
    again = json.loads(subprocess.run(run, capture_output=True, text=True, check=True).stdout)
    assert again["rows_written"] == 0
