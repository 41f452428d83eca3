"""The HJ 212 receiver: an asyncio TCP server that data loggers connect to.

Every packet received is appended to the landing file of the current hour and made durable
(written, flushed and fsynced) before it is acknowledged, so an acknowledged packet is never lost. A new
file's name is made durable too (its folder fsynced once, before the first answer for a packet in it), and
so is each rename (the folder fsynced before the closed file is shipped or reported).
Writes are group-committed: packets that arrive together share one fsync. A packet whose Flag asks
for an answer (bit A) and whose CRC checks gets a 9014 data answer; a packet that fails its CRC is
kept for the quarantine but not answered, so the logger sends it again. A landing file is written as
``<hour>-<id>.open`` and renamed to ``.hj212`` (atomically) when the hour turns or the receiver
stops; files left open by a crash are closed at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from connectors.hj212.frame import PacketError, build_frame, split_frame
from connectors.hj212.shipping import ship_all
from envlake.kernel.lake import fsync_dir, make_dirs, replace_durably

log = logging.getLogger(__name__)
OPEN, CLOSED = ".open", ".hj212"
FIELD = {name: re.compile(rf"(?:^|;){name}=([^;]*)") for name in ("QN", "PW", "MN", "Flag")}
MAX_PACKET = 10_000


def answer_for(segment: bytes) -> bytes | None:
    """The 9014 data answer a packet asks for (Flag bit A), or None."""
    text = segment.decode("ascii", "replace")
    values = {k: (m.group(1) if (m := pattern.search(text)) else "") for k, pattern in FIELD.items()}
    if not values["Flag"].isdigit() or not int(values["Flag"]) & 1:
        return None
    return build_frame(f"QN={values['QN']};ST=91;CN=9014;PW={values['PW']};MN={values['MN']};Flag=4;CP=&&&&")


def close_open_files(folder: Path) -> list[Path]:
    closed = []
    for path in sorted(folder.glob(f"*{OPEN}")):
        target = path.with_suffix(CLOSED)
        os.replace(path, target)
        closed.append(target)
    if closed:
        fsync_dir(folder)  # the new names durable before any of them is shipped
    ship_all(folder, CLOSED)  # and any file an earlier upload failed for
    return closed


@dataclass
class LandingFile:
    """The landing file of one hour; appended, fsynced per group, closed by rename."""

    folder: Path
    hour_seconds: int
    hour: int = -1
    handle: object = None
    path: Path | None = None

    def write(self, packets: list[bytes]) -> None:
        """Append and fsync; when this opened a new file, fsync the folder too (once per file), so that the
        packets are durable under a durable name before they are answered."""
        hour = int(time.time()) // self.hour_seconds
        created = hour != self.hour
        if created:
            self.close()
            self.hour = hour
            stamp = time.strftime("%Y%m%d%H%M%S", time.localtime(hour * self.hour_seconds))
            self.path = self.folder / f"{stamp}-{uuid.uuid4().hex[:8]}{OPEN}"
            self.handle = open(self.path, "ab")  # noqa: SIM115 - kept open across groups until the hour turns
        self.handle.write(b"".join(packets))
        self.handle.flush()
        os.fsync(self.handle.fileno())
        if created:
            fsync_dir(self.folder)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            replace_durably(self.path, self.path.with_suffix(CLOSED))
            # every closed file still here: one whose upload failed an hour ago goes with this one
            ship_all(self.folder, CLOSED)
            self.handle = self.path = None
            self.hour = -1  # a write after a close opens a new file, even within the same hour


@dataclass
class Receiver:
    folder: Path
    hour_seconds: int = 3600
    received: int = 0
    acknowledged: int = 0
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)

    def __post_init__(self) -> None:
        make_dirs(self.folder)
        close_open_files(self.folder)
        self.landing = LandingFile(self.folder, self.hour_seconds)

    async def _committer(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            await loop.run_in_executor(None, self.landing.write, [packet for packet, _ in batch])
            for _, done in batch:
                done.set_result(True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readuntil(b"\n")
                if len(line) > MAX_PACKET:
                    break
                durable = asyncio.get_running_loop().create_future()
                await self.queue.put((line if line.endswith(b"\r\n") else line[:-1] + b"\r\n", durable))
                await durable
                self.received += 1
                try:
                    answer = answer_for(split_frame(line))
                except PacketError:
                    continue  # kept for the quarantine; not answered, so the logger resends
                if answer:
                    writer.write(answer)
                    await writer.drain()
                    self.acknowledged += 1
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    async def serve(self, host: str, port: int, ready: asyncio.Event | None = None) -> None:
        committer = asyncio.create_task(self._committer())
        server = await asyncio.start_server(self._handle, host, port, limit=MAX_PACKET, backlog=512)
        log.info("HJ 212 receiver on %s:%d, landing in %s", host, port, self.folder)
        if ready:
            ready.set()
        try:
            async with server:
                await server.serve_forever()
        finally:
            committer.cancel()
            self.landing.close()



class ReceiverThread:
    """The receiver on a background thread with its own event loop (the demo and tests use it)."""

    def __init__(self, folder: Path, host: str, port: int, hour_seconds: int = 3600):
        self.folder, self.host, self.port, self.hour_seconds = folder, host, port, hour_seconds
        self.receiver: Receiver | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hj212-receiver", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self.receiver = Receiver(self.folder, self.hour_seconds)
            started = asyncio.Event()
            self._task = asyncio.create_task(self.receiver.serve(self.host, self.port, started))
            await started.wait()
            self._ready.set()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(main())
        self._loop.close()

    def __enter__(self) -> ReceiverThread:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError(f"the HJ 212 receiver did not start on {self.host}:{self.port}")
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop accepting, close the landing file (rename to .hj212) and wait for the thread."""
        if self._loop and self._task:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(30)
