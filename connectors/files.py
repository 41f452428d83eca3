"""File connector: a CSV, JSON-lines or Parquet file dropped by a department.

CSV is read with every column as text, so codes with leading zeros stay as they are; the
writer casts to the contract's types.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.json as pajson
import pyarrow.parquet as pq

from connectors.contracts import Contract
from connectors.sources import Extract, SourceError, max_watermark


@dataclass
class FileSource:
    path: str

    @property
    def identity(self) -> str:
        return self.path

    def read(self, contract: Contract, watermark: str | None) -> Extract:
        fs, path = pafs.FileSystem.from_uri(self.path) if "://" in self.path else (pafs.LocalFileSystem(), self.path)
        if fs.get_file_info(path).type != pafs.FileType.File:
            raise SourceError(f"no file at {self.path}")
        try:
            if path.endswith(".parquet"):
                table = pq.read_table(path, filesystem=fs)
            elif path.endswith((".jsonl", ".json")):
                with fs.open_input_stream(path) as fh:
                    table = pajson.read_json(fh)
            else:
                with fs.open_input_stream(path) as fh:
                    first_line = fh.read(1 << 16).split(b"\n", 1)[0]
                header = next(csv.reader([first_line.decode("utf-8-sig")]))
                options = pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string()),
                                               strings_can_be_null=True)
                with fs.open_input_stream(path) as fh:
                    table = pacsv.read_csv(fh, convert_options=options)
        except (pa.ArrowInvalid, StopIteration, UnicodeDecodeError) as exc:
            raise SourceError(f"cannot read {self.path}: {exc}") from exc
        return Extract(table, max_watermark(table, contract.source.get("watermark_field"), watermark), pages=1)
