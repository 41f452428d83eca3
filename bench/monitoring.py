"""Rows of the monitoring_hourly contract (HJ 212 hourly readings), generated without a Python object per row."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

POLLUTANTS = ["w01018", "w21003", "w21011", "w21001", "a21026", "a21002", "a34013", "a24088"]
FLAGS = np.array(["N"] * 97 + ["M", "C", "D"])
START = np.datetime64("2026-01-01T00:00:00", "us")


def monitoring_batch(rows: int, days: int = 30, seed: int = 0, first_hour: int = 0) -> pa.Table:
    """``rows`` hourly readings spread over ``days`` days, sorted by time, as plain Arrow columns."""
    rng = np.random.default_rng(seed)
    hours = days * 24
    series = max(1, -(-rows // hours))
    devices = max(1, series // 6)
    mn_dict = pa.array([f"33010{d % 13:02d}0000{d:011d}A" for d in range(devices)])
    st_dict = pa.array(["31", "32"])
    pol_dict = pa.array(POLLUTANTS)
    idx = np.arange(rows)
    hour = first_hour + idx // series
    serie = idx % series
    device = serie % devices
    pollutant = serie % len(POLLUTANTS)
    base = rng.gamma(2.0, 20.0, rows)
    daily = 1 + 0.3 * np.sin((hour % 24) / 24 * 2 * np.pi)
    avg = base * daily

    def decode(indices: np.ndarray, dictionary: pa.Array) -> pa.Array:
        return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32)), dictionary).dictionary_decode()

    hour_dict = pa.array([str(np.datetime64("2026-01-01T00", "h") + h).replace("-", "").replace("T", "") + "0000000"
                          for h in range(first_hour, first_hour + int(hour.max() - first_hour) + 1)])
    return pa.table({
        "mn": decode(device, mn_dict),
        "st": decode((pollutant < 4).astype(np.int32), st_dict),
        "cn": pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, np.int32)), pa.array(["2061"]))
        .dictionary_decode(),
        "qn": decode(hour - first_hour, hour_dict),
        "data_time": pa.array(START + (hour * 3_600_000_000).astype("timedelta64[us]"), pa.timestamp("us")),
        "pollutant_code": decode(pollutant, pol_dict),
        "code_sent": decode(pollutant, pol_dict),
        "rtd": pa.nulls(rows, pa.float64()),
        "avg_value": pa.array(avg),
        "min_value": pa.array(avg * 0.8),
        "max_value": pa.array(avg * 1.2),
        "cou": pa.array(avg * 3.6),
        "flag": decode(rng.integers(0, len(FLAGS), rows), pa.array(FLAGS)),
        "packet_flag": decode(np.zeros(rows, np.int32), pa.array(["5"])),
    })
