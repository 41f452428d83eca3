"""envlake hj212-receiver: the TCP server that online-monitoring data loggers send packets to."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer

from connectors.hj212.landing import landing_folder
from connectors.hj212.receiver import Receiver
from envlake.cli.output import console
from envlake.kernel.settings import Settings


def hj212_receiver(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8212,
    landing: Annotated[Path | None, typer.Option(help="Landing folder. Default: ENVLAKE_LANDING/hj212.")] = None,
    rotate_seconds: Annotated[int, typer.Option(help="Close a landing file after this many seconds (an hour).")] = 3600,
) -> None:
    """Receive HJ 212-2017 packets over TCP, land them durably, answer as their Flag asks. Ctrl-C stops it."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    folder = landing or landing_folder(Settings.from_env())
    console.print(f"HJ 212 receiver on {host}:{port}, landing files in {folder}")

    async def main() -> None:
        receiver = Receiver(folder, rotate_seconds)
        task = asyncio.create_task(receiver.serve(host, port))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task
        console.print(f"stopped: {receiver.received} packets received, {receiver.acknowledged} acknowledged")

    asyncio.run(main())
