import numpy as np
import pytest

from connectors.hj212.crc import crc16_many, crc_hex
from connectors.hj212.frame import PacketError, build_frame, parse_frame

VECTOR_1 = (b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;"
            b"CP=&&RtdInterval=30&&1C80\r\n")
VECTOR_2 = (b"##0178ST=32;CN=2011;PW=123456;MN=0873HHMZWSLH02;CP=&&DataTime=20160103133030;"
            b"060-Rtd=3.0943,060-Flag=N;011-Rtd=18.0412,011-Flag=N;001-Rtd=8.2137,001-Flag=N;"
            b"B01-Rtd=10.9890,B01-Flag=N&&a9c1\r\n")


@pytest.mark.parametrize(("packet", "crc"), [(VECTOR_1, "1C80"), (VECTOR_2, "A9C1")])
def test_domain_vectors_verify(packet: bytes, crc: str) -> None:
    segment = packet[6:6 + int(packet[2:6])]
    assert crc_hex(segment) == crc
    assert crc16_many([segment]).tolist() == [int(crc, 16)]
    parse_frame(packet)  # raises if length or CRC were wrong


def test_not_modbus() -> None:
    segment = VECTOR_1[6:107]
    assert crc_hex(segment) != "0759"


def test_vectorised_crc_agrees_with_scalar() -> None:
    rng = np.random.default_rng(3)
    segments = [bytes(rng.integers(32, 127, int(rng.integers(0, 300))).astype(np.uint8)) for _ in range(200)]
    assert crc16_many(segments).tolist() == [int(crc_hex(s), 16) for s in segments]


def test_parse_realtime_packet() -> None:
    frame = parse_frame(VECTOR_2)
    assert frame.header["MN"] == "0873HHMZWSLH02" and frame.header["CN"] == "2011"
    assert frame.data_time == "20160103133030"
    assert frame.values["011"] == {"Rtd": "18.0412", "Flag": "N"}
    assert not frame.wants_ack
    assert parse_frame(VECTOR_1).wants_ack


@pytest.mark.parametrize(("packet", "reason"), [
    (VECTOR_2.replace(b"a9c1", b"a9c2"), "bad_crc"),
    (VECTOR_2.replace(b"##0178", b"##0177"), "bad_length"),
    (VECTOR_2.replace(b"##0178", b"##01x8"), "bad_length"),
    (b"&&0178" + VECTOR_2[6:], "bad_header"),
    (build_frame("ST=32;CN=2061;PW=123456;Flag=4;CP=&&DataTime=20260101000000;w01018-Avg=30&&"), "missing_field"),
    (build_frame("ST=32;CN=2061;MN=X;Flag=4;CP=&&DataTime=20260101000000;w01018-Avg&&"), "unparseable_value"),
])
def test_bad_packets_say_why(packet: bytes, reason: str) -> None:
    with pytest.raises(PacketError) as err:
        parse_frame(packet)
    assert err.value.reason == reason


def test_build_frame_round_trip() -> None:
    segment = "QN=20260101010000000;ST=32;CN=2061;PW=123456;MN=33010900000000000001A;Flag=5;" \
              "CP=&&DataTime=20260101000000;w01018-Min=20.1,w01018-Avg=25.3,w01018-Max=30.2,w01018-Flag=N&&"
    frame = parse_frame(build_frame(segment))
    assert frame.values["w01018"]["Avg"] == "25.3" and frame.wants_ack
