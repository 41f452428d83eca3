"""Frame one HJ 212-2017 packet: ``##`` + 4-digit length + data segment + 4-hex CRC + CRLF.

``parse_frame`` checks the frame and returns the header fields and the CP readings, or raises
``PacketError`` with a reason code the quarantine keeps (bad_header, bad_length, bad_crc,
missing_field, unparseable_value).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connectors.hj212.crc import crc_hex

HEADER_FIELDS = ("QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO")
REQUIRED = ("ST", "CN", "MN", "CP")


class PacketError(ValueError):
    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason


@dataclass
class Frame:
    header: dict[str, str]
    data_time: str | None
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # pollutant -> {Rtd, Avg, ..., Flag}

    @property
    def wants_ack(self) -> bool:
        return bool(int(self.header.get("Flag", "0") or 0) & 1)

    @property
    def is_split(self) -> bool:
        return bool(int(self.header.get("Flag", "0") or 0) & 2)


def split_frame(packet: bytes) -> bytes:
    """Check header, length and CRC; return the data segment."""
    packet = packet.rstrip(b"\r\n")
    if not packet.startswith(b"##") or len(packet) < 10:
        raise PacketError("bad_header", "a packet starts with ## and a 4-digit length")
    length_text = packet[2:6]
    if not length_text.isdigit():
        raise PacketError("bad_length", f"length field {length_text!r} is not 4 digits")
    length = int(length_text)
    segment, crc = packet[6:6 + length], packet[6 + length:]
    if len(segment) != length or len(crc) != 4:
        raise PacketError("bad_length", f"declared {length} data characters, found {len(packet) - 10}")
    expected = crc_hex(segment)
    if crc.decode("ascii", "replace").upper() != expected:
        raise PacketError("bad_crc", f"CRC {crc.decode('ascii', 'replace')} does not match {expected}")
    return segment


def parse_segment(segment: bytes) -> Frame:
    text = segment.decode("ascii", "replace")
    head, sep, rest = text.partition("CP=&&")
    if not sep or not rest.endswith("&&"):
        raise PacketError("missing_field", "no CP=&&…&& block")
    header = {}
    for item in filter(None, head.split(";")):
        key, eq, value = item.partition("=")
        if not eq:
            raise PacketError("unparseable_value", f"header item {item!r} has no '='")
        header[key] = value
    header["CP"] = rest[:-2]
    missing = [k for k in REQUIRED if k not in header]
    if missing:
        raise PacketError("missing_field", f"missing {', '.join(missing)}")
    frame = Frame(header=header, data_time=None)
    for group in filter(None, header["CP"].split(";")):
        for item in group.split(","):
            key, eq, value = item.partition("=")
            if not eq:
                raise PacketError("unparseable_value", f"CP item {item!r} has no '='")
            if key == "DataTime":
                frame.data_time = value
                continue
            pollutant, dash, kind = key.partition("-")
            if dash:
                frame.values.setdefault(pollutant, {})[kind] = value
            else:
                frame.values.setdefault("_", {})[key] = value
    return frame


def parse_frame(packet: bytes) -> Frame:
    return parse_segment(split_frame(packet))


def build_frame(segment: str) -> bytes:
    """The whole packet for a data segment: what a data logger sends."""
    data = segment.encode("ascii")
    return b"##" + f"{len(data):04d}".encode() + data + crc_hex(data).encode() + b"\r\n"
