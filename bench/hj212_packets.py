"""Realistic HJ 212-2017 hourly packets in bulk, for the parser benchmark and tests."""

from __future__ import annotations

import numpy as np

from connectors.hj212.crc import crc16_many

WATER = ["w01018", "w21003", "w21011", "w21001", "w00000"]
AIR = ["a21026", "a21002", "a34013", "a00000"]


def hourly_packets(count: int, seed: int = 0, devices: int = 5000) -> bytes:
    """``count`` CN=2061 packets, devices cycling, hours advancing, with ack requested."""
    rng = np.random.default_rng(seed)
    lines = []
    values = rng.gamma(2.0, 15.0, size=(count, 5)).round(2)
    for i in range(count):
        device = i % devices
        hour = i // devices
        water = device % 2 == 0
        codes = WATER if water else AIR
        day, hh = divmod(hour, 24)
        stamp = f"202601{1 + day % 28:02d}{hh:02d}0000"
        cp = ";".join(f"{c}-Min={v * 0.8:.2f},{c}-Avg={v:.2f},{c}-Max={v * 1.2:.2f},{c}-Cou={v * 3.6:.2f},{c}-Flag=N"
                      for c, v in zip(codes, values[i], strict=False))
        lines.append(f"QN={stamp}000;ST={32 if water else 31};CN=2061;PW=123456;MN=3301090000{device:011d}A;"
                     f"Flag=5;CP=&&DataTime={stamp};{cp}&&".encode())
    crcs = crc16_many(lines)
    return b"".join(b"##%04d%s%04X\r\n" % (len(seg), seg, crc) for seg, crc in zip(lines, crcs, strict=True))
