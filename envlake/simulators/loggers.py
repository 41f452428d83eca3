"""Simulated data loggers: send HJ 212 packets over TCP, resend whatever was not acknowledged.

Each logger keeps its packets in order and sends the next one only when the previous one was
answered (Flag=5 asks for a 9014 answer). When the connection drops or an answer does not come in
time, it reconnects with backoff and sends the first unanswered packet again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from connectors.hj212.frame import build_frame


@dataclass
class LoggerResult:
    mn: str
    acknowledged: list[str] = field(default_factory=list)  # QNs answered by the receiver
    sends: int = 0
    reconnects: int = 0


def hourly_packet(mn: str, hour: int, values: dict[str, float], st: str = "32") -> bytes:
    day, hh = divmod(hour, 24)
    stamp = f"202601{day + 1:02d}{hh:02d}0000"
    qn = f"{stamp}000"
    cp = ";".join(f"{code}-Min={v * 0.8:.2f},{code}-Avg={v:.2f},{code}-Max={v * 1.2:.2f},{code}-Flag=N"
                  for code, v in values.items())
    return build_frame(f"QN={qn};ST={st};CN=2061;PW=123456;MN={mn};Flag=5;CP=&&DataTime={stamp};{cp}&&")


async def run_logger(host: str, port: int, mn: str, packets: list[bytes], deadline_s: float = 120,
                     answer_timeout_s: float = 5, corrupt_first_send: set[int] | None = None) -> LoggerResult:
    """Send ``packets`` in order until each is answered. Packets named in ``corrupt_first_send`` go out
    damaged the first time (the receiver keeps them for quarantine and does not answer)."""
    from envlake.simulators.monitoring import corrupt

    damaged = set(corrupt_first_send or ())
    result = LoggerResult(mn)
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + deadline_s
    next_packet = 0
    backoff = 0.05
    while next_packet < len(packets) and loop.time() < stop_at:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), answer_timeout_s)
        except (OSError, TimeoutError):
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 1.0)
            continue
        try:
            while next_packet < len(packets):
                if next_packet in damaged:
                    damaged.discard(next_packet)
                    writer.write(corrupt(packets[next_packet]))
                    await writer.drain()
                    result.sends += 1
                writer.write(packets[next_packet])
                await writer.drain()
                result.sends += 1
                await asyncio.wait_for(reader.readuntil(b"\r\n"), answer_timeout_s)
                qn = packets[next_packet].split(b"QN=", 1)[1].split(b";", 1)[0].decode()
                result.acknowledged.append(qn)
                next_packet += 1
                backoff = 0.05
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            result.reconnects += 1
            await asyncio.sleep(backoff)
        finally:
            writer.close()
    return result


async def send_all(host: str, port: int, days: list, concurrency: int = 200) -> list[LoggerResult]:
    """Run one logger per ``LoggerDay`` (at most ``concurrency`` connected at once)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(day) -> LoggerResult:
        async with gate:
            return await run_logger(host, port, day.mn, day.packets, corrupt_first_send=day.corrupt_first_send)

    return list(await asyncio.gather(*(one(d) for d in days)))
