"""A file of HJ 212 packets (a receiver's landing file, or a capture) as a source of one dataset.

Only packets of the dataset's commands (contract ``source.hj212_commands``) become its rows; bad
packets go to its quarantine unless their command names another dataset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs

from connectors.hj212.bulk import parse_packets
from connectors.sources import Extract, SourceError
from connectors.writer import LOCAL_TZ
from envlake.kernel.contracts import Contract
from envlake.kernel.lake import filesystem_for

CN_IN_TEXT = re.compile(r"[#;]CN=(\d{4});")


@dataclass
class Hj212FileSource:
    path: str

    @property
    def identity(self) -> str:
        return self.path

    def read(self, contract: Contract, watermark: str | None) -> Extract:
        fs, path = filesystem_for(self.path) if "://" in self.path else (pafs.LocalFileSystem(), self.path)
        if fs.get_file_info(path).type != pafs.FileType.File:
            raise SourceError(f"no file at {self.path}")
        with fs.open_input_stream(path) as fh:
            blob = fh.read()
        parsed = parse_packets(blob, now=datetime.now(LOCAL_TZ).replace(tzinfo=None))
        commands = contract.source.get("hj212_commands") or []
        readings, rejected = parsed.readings, parsed.rejected
        if commands:
            readings = readings.filter(pc.is_in(readings["cn"], value_set=pa.array(commands)))
            others = [bool(m) and m.group(1) not in commands
                      for m in (CN_IN_TEXT.search(text) for text in rejected["packet"].to_pylist())]
            rejected = rejected.filter(pa.array([not o for o in others], pa.bool_()))
        skipped = parsed.readings.num_rows - readings.num_rows
        note = f"{parsed.packets} packets read; {skipped} readings of other commands left to their datasets" \
            if skipped else f"{parsed.packets} packets read"
        return Extract(readings, watermark, pages=1, rejected=rejected, note=note)
