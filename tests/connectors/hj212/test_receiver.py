"""The receiver never loses an acknowledged packet, even when killed mid-stream."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.compute as pc
import pytest

from connectors.hj212.landing import ingest_landing, landing_folder
from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings
from envlake.simulators.loggers import LoggerResult, hourly_packet, run_logger
from tests.conftest import free_port

LOGGERS, PACKETS = 200, 100
REPO = Path(__file__).resolve().parents[3]


def start_receiver(port: int, folder: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "envlake.cli.main", "hj212-receiver", "--port", str(port),
                             "--landing", str(folder)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 30
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"receiver did not start: {proc.stderr.read().decode()[-2000:]}")


def run_loggers(port: int, results: list[LoggerResult]) -> None:
    async def main() -> None:
        tasks = []
        for i in range(LOGGERS):
            mn = f"3301090000{i:011d}A"
            packets = [hourly_packet(mn, h, {"w01018": 20 + i % 7 + h % 5, "w21003": 2.5}) for h in range(PACKETS)]
            tasks.append(run_logger("127.0.0.1", port, mn, packets, deadline_s=240))
        results.extend(await asyncio.gather(*tasks))

    asyncio.run(main())


@pytest.mark.integration
def test_killed_receiver_loses_no_acknowledged_packet(env: Settings) -> None:
    folder = landing_folder(env)
    port = free_port()
    receiver = start_receiver(port, folder)
    results: list[LoggerResult] = []
    loggers = threading.Thread(target=run_loggers, args=(port, results))
    loggers.start()
    # Kill once a good share of packets are on disk, while loggers are still sending.
    deadline = time.time() + 60
    while time.time() < deadline:
        on_disk = sum(p.stat().st_size for p in folder.glob("*.open"))
        if on_disk > LOGGERS * PACKETS * 150 * 0.3:
            break
        time.sleep(0.05)
    os.kill(receiver.pid, signal.SIGKILL)
    receiver.wait()
    time.sleep(0.5)
    receiver = start_receiver(port, folder)
    loggers.join(timeout=300)
    receiver.send_signal(signal.SIGTERM)
    receiver.wait(timeout=30)

    assert not loggers.is_alive()
    assert sum(r.reconnects for r in results) > 0, "the kill came after the loggers finished; nothing was tested"
    acknowledged = {(r.mn, qn) for r in results for qn in r.acknowledged}
    assert len(acknowledged) == LOGGERS * PACKETS  # every logger got every packet through in the end

    records = ingest_landing("monitoring_hourly", env)
    assert records and all(r.status == "success" for r in records)
    assert ingest_landing("monitoring_hourly", env) == []  # each landing file is parsed once
    raw = Lake(env.lake).read_table("raw", "monitoring_hourly", columns=["mn", "qn", "pollutant_code"])
    keys = raw.group_by(["mn", "qn", "pollutant_code"]).aggregate([([], "count_all")])
    assert pc.max(keys["count_all"]).as_py() == 1  # exactly once, resends included
    landed = set(zip(keys["mn"].to_pylist(), keys["qn"].to_pylist(), strict=True))
    assert acknowledged <= landed
    assert raw.num_rows == LOGGERS * PACKETS * 2
